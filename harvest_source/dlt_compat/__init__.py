"""Workarounds that depend on dlt's internals, each with a test that fails when a dlt upgrade changes
the behaviour it relies on (tests/dlt_compat/)."""
