"""Every dependence on dlt internals or on dlt behaviour its docs do not promise, in one folder.

Upgrading dlt has one place to re-check: each module here has a test (``tests/test_dlt_compat_*.py``)
that fails when the dlt behaviour it relies on changes.
"""
