"""Every dependence on dlt internals, or on dlt behaviour its docs do not promise, in one folder, so
upgrading dlt has one place to re-check.

Each module here wraps one thing dlt does not promise (a private method, its folder layout, the text
of one of its warnings, its signal flag, how item hints and parallel resources behave) behind a small
function with a plain name. Each has a test (``tests/dlt_compat/`` and ``tests/test_dlt_compat_*.py``)
that fails when a dlt upgrade changes the behaviour relied on; nothing outside this folder touches
``._something`` on a dlt object.

The source's rooms: ``resources`` (parallelize after bind, the map step after the incremental, item
hints), ``empty_tables`` (which tables the destination proves empty). The run's rooms: ``storage``
(what a killed run left in the working folder), ``signals`` (dlt's received-signal flag), ``log_text``
(the dlt warning we filter), ``config`` (which setting a ``ConfigFieldMissingException`` names).
"""

# dlt's own id of every row it writes; a nested row names its root row's in ``_dlt_root_id`` (root_key=True)
ROW_ID = "_dlt_id"
