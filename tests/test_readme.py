"""The README's promises that can drift: the two commands and the table list (generated from the catalog)."""

from __future__ import annotations

import re
from pathlib import Path

from harvest_source import catalog_table
from harvest_source.catalog import ENDPOINTS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_starts_with_the_demo_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert "pip install . && harvest-dlt --demo" in blocks[0]  # the installed command
    assert "pytest" in blocks[1]
    assert README.index(blocks[1]) < 1500  # near the top


def test_every_table_is_documented_with_its_endpoint_path():
    for endpoint in ENDPOINTS:
        path = "/v2/" + endpoint.path.replace("{parent_id}", "{id}")
        row = re.search(rf"^\| `{endpoint.table}` \| `GET {re.escape(path)}`", README, re.M)
        assert row, f"README lacks a row for {endpoint.table} ({path})"


def test_the_table_of_tables_is_the_catalogs_every_column():
    assert catalog_table.section(README), "README.md lacks the catalog table's markers"
    assert catalog_table.section(README) == catalog_table.render(), (
        "README.md's table of tables is stale: run `python -m harvest_source.catalog_table --write`"
    )


def test_the_generator_rewrites_only_its_section():
    stale = README.replace("| `roles` |", "| `roles_typo` |")
    assert stale != README and catalog_table.rewrite(stale) == README


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert blocks[1].strip() in ci
