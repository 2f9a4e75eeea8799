"""Every dependence on dlt internals, in one folder, so upgrading dlt has one place to re-check.

Each module here wraps one thing dlt does not promise (a private method, its folder layout, the text
of one of its warnings, its signal flag) behind a small function with a plain name. Each has a test
(``tests/dlt_compat/``) that fails when a dlt upgrade changes the behaviour relied on; nothing outside
this folder touches ``._something`` on a dlt object.

Modules of the runner's rooms: ``storage`` (what a killed run left in the working folder), ``signals``
(dlt's received-signal flag), ``log_text`` (the dlt warning we filter), ``config`` (which setting a
``ConfigFieldMissingException`` names).
"""
