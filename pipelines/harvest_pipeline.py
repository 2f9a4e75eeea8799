"""Harvest -> DuckDB with dlt: the example script, as dlt's verified sources ship one per source.

    python pipelines/harvest_pipeline.py --demo     # the harvest-dlt command, from a checkout
    python pipelines/harvest_pipeline.py            # your account (token + account id from dlt config)

``main`` is the installed ``harvest-dlt`` command (``harvest_source.cli.main``): the load with its
recovery, views, progress, summary and exit codes. The functions above it show ``harvest_source()`` in a
plain dlt pipeline of your own; call them from a Python shell to try them (they read the token and the
account id from ``.dlt/secrets.toml`` or ``SOURCES__HARVEST__*`` env vars).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import dlt  # noqa: E402

from harvest_source import harvest_source  # noqa: E402
from harvest_source.cli import main  # noqa: E402


def load_all() -> None:
    """Every table, incrementally: the first run loads everything, the next ones what changed."""
    pipeline = dlt.pipeline(pipeline_name="harvest", destination="duckdb", dataset_name="harvest_data")
    print(pipeline.run(harvest_source()))


def load_selected(tables: tuple[str, ...] = ("time_entries", "projects", "clients", "users")) -> None:
    """Only some tables (Harvest's records keys), from a start date on for a first run."""
    pipeline = dlt.pipeline(pipeline_name="harvest", destination="duckdb", dataset_name="harvest_data")
    source = harvest_source(start_date="2024-01-01").with_resources(*tables)
    print(pipeline.run(source))


if __name__ == "__main__":
    sys.exit(main())
