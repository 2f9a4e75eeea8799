"""Every SQL block of the README's query section returns rows on a demo account whose data ends today.

The account is the demo's (scale and seed of ``pipelines/harvest_pipeline.py --demo``), served by the
in-process simulator with its clock at the wall clock (``now=``, overriding the suite's pinned date), so
the README's ``current_date`` queries ("this month", "the last four weeks", "last month") are tested as an
analyst runs them on the day they load.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from harvest_source.runner import EXIT_OK
from harvest_source.simulator import run_simulator

README = Path(__file__).resolve().parents[1] / "README.md"
QUERY_SECTION = "## Query your data"
DEMO_SCALE, DEMO_SEED = "small", 1


def query_blocks(text: str) -> list[str]:
    """The ```sql blocks of the README's query section (the other sections' SQL reads parquet files)."""
    section = text.split(QUERY_SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sql\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def test_the_query_section_has_sql_blocks():
    blocks = query_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    assert all("harvest_data." in b for b in blocks)


def test_every_readme_query_returns_rows_on_todays_demo(loader_for):
    with run_simulator(DEMO_SCALE, DEMO_SEED, now=int(time.time())) as sim:
        loader = loader_for(sim)
        result = loader.run()
    assert result.exit_code == EXIT_OK, result.error
    empty = [sql for sql in query_blocks(README.read_text(encoding="utf-8")) if not loader.query(sql)]
    assert not empty, "README queries without rows:\n\n" + "\n\n".join(empty)
