"""The simulator models Harvest on its own: its modules import only the standard library, orjson and each other."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SIM_DIR = Path(__file__).resolve().parents[2] / "harvest_source" / "simulator"
ALLOWED_THIRD_PARTY = {"orjson", "httpx"}  # httpx only in measure.py (the load client), imported lazily


def test_simulator_imports_nothing_of_the_connector():
    for path in sorted(SIM_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level > 0:
                    assert node.level == 1, f"{path.name}: reaches outside the simulator package"
                    continue
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top != "harvest_source", f"{path.name} imports {name}"
                assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "__future__", \
                    f"{path.name} imports {name}"
