"""The HTTP parts ``HarvestClient`` composes, each with one job (see the client's docstring):
``auth`` (credentials as ``httpx.Auth``), ``transport`` (pacing and retries around another
transport), ``retry`` (the rules it follows), ``pacing`` (the shared rate-limit window), ``paging``
(``links.next`` with its guards), ``read_ahead`` (pages in flight while one decodes), ``decoding``
(bodies into values), ``checks`` (settings before the first request) and ``stats`` (counters).

Named ``http`` inside ``harvest_source``: absolute imports of the standard library's ``http`` are
not affected.
"""
