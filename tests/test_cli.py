"""The command line as a user runs it: exit codes, messages, and no secret in any output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from harvest_source.simulator import run_simulator

REPO = Path(__file__).resolve().parents[1]
CLI = str(REPO / "pipelines" / "harvest_pipeline.py")
INSTALLED = Path(sys.executable).with_name("harvest-dlt")  # the console script of `pip install .`
SECRET = "sekret-token-4242-do-not-print"
# one log line in the command's format: "2026-01-31 12:00:00,123 LEVEL logger: message"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, CLI, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def _command(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    """The installed ``harvest-dlt`` command (``python -m harvest_source.cli`` where no script is installed)."""
    argv = [str(INSTALLED)] if INSTALLED.exists() else [sys.executable, "-m", "harvest_source.cli"]
    return subprocess.run([*argv, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def _account_env(sim, token: str) -> dict[str, str]:
    return {
        "SOURCES__HARVEST__ACCESS_TOKEN": token,
        "SOURCES__HARVEST__ACCOUNT_ID": str(sim.account_id),
        "SOURCES__HARVEST__BASE_URL": sim.base_url,
        "SOURCES__HARVEST__RATE_LIMIT_WINDOW_S": "0.001",
    }


def test_bad_token_fails_clearly_and_never_prints_the_token(tmp_path):
    with run_simulator(scale="tiny", seed=1, token="the-real-admin-token") as sim:
        proc = _cli(env=_account_env(sim, SECRET), cwd=tmp_path)
        requests = sim.stats()["total"]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "401" in output and "access token" in output.lower()
    assert "SOURCES__HARVEST__ACCESS_TOKEN" in output  # says which setting to fix
    assert SECRET not in output
    assert requests < 40  # it stops, it does not hammer Harvest with a bad token
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert SECRET.encode() not in path.read_bytes(), path


def test_missing_settings_say_what_to_set(tmp_path):
    proc = _cli(cwd=tmp_path)
    assert proc.returncode == 1
    assert "SOURCES__HARVEST__ACCESS_TOKEN" in proc.stderr and "--demo" in proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--resources", "time_entries,timesheets"], "Valid resources: company, clients"),
        (["--start-date", "31/01/2024"], "YYYY-MM-DD"),
    ],
)
def test_bad_input_is_refused_before_any_request(tmp_path, args, expected):
    with run_simulator(scale="tiny", seed=1) as sim:
        proc = _cli(*args, env=_account_env(sim, "any-token"), cwd=tmp_path)
        requests = sim.stats()["total"]
    assert proc.returncode == 1
    assert expected in proc.stderr
    assert requests == 0


def test_unreachable_base_url_fails_with_a_message(tmp_path):
    env = {"SOURCES__HARVEST__ACCESS_TOKEN": "t", "SOURCES__HARVEST__ACCOUNT_ID": "1",
           "SOURCES__HARVEST__BASE_URL": "http://127.0.0.1:9/v2"}
    proc = _cli("--resources", "company", env={**env, "SOURCES__HARVEST__MAX_ATTEMPTS": "2"}, cwd=tmp_path)
    assert proc.returncode == 1
    assert "127.0.0.1" in proc.stderr


def test_demo_runs_twice_and_survives_a_deleted_duckdb_file(tmp_path):
    first = _cli("--demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "time_entries" in first.stdout and "status: OK" in first.stdout
    db = tmp_path / "harvest.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        entries = con.execute("SELECT count(*) FROM harvest_data.time_entries").fetchone()[0]
    assert entries > 10_000

    second = _cli("--demo", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = second.stdout.split("Harvest load summary")[1]
    assert not re.search(r"^\s+time_entries\s", summary, re.M)  # nothing new to load

    db.unlink()
    third = _cli("--demo", cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM harvest_data.time_entries").fetchone()[0] == entries


def test_a_signal_inside_dlt_context_handling_still_reads_as_an_interruption():
    """Ctrl-C can land while dlt restores a context; dlt then raises its own error from the interrupt."""
    from harvest_source.runner import INTERRUPTED, _explain, _root_cause

    try:
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("context mangled")  # what dlt's container raises in that case
    except RuntimeError as error:
        assert _explain(_root_cause(error)) == INTERRUPTED
    assert _explain(_root_cause(RuntimeError("plain"))).startswith("RuntimeError")


def test_the_wheel_holds_the_command_and_the_simulator(tmp_path):
    # built from a copy: setuptools leaves a build/ folder in the tree it builds, stale on the next build
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "*.duckdb", "tests", "benchmarks"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(tree)], check=True, capture_output=True, timeout=600)
    wheel = next(tmp_path.glob("harvest_dlt-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("cli.py", "progress.py", "views/__init__.py", "simulator/__init__.py", "simulator/__main__.py"):
        assert f"harvest_source/{module}" in names, module
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "harvest-dlt = harvest_source.cli:main" in entry_points
    assert "harvest_source/views.py" not in names  # the views are a package now
    assert not any(name.startswith((".dlt/", "pipelines/", "tests/")) for name in names)


def test_the_command_loads_the_demo_in_an_empty_folder_elsewhere(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    proc = _command("--demo", "--demo-scale", "tiny", cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "status: OK" in proc.stdout and "time_entries" in proc.stdout
    with duckdb.connect(str(folder / "harvest.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM harvest_data.time_entries").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM harvest_data.v_time_entries").fetchone()[0] > 0
    assert not (folder / ".dlt").exists()
    assert "psutil" not in proc.stderr


def test_main_is_importable_and_the_example_script_delegates_to_it():
    from harvest_source import cli

    script = (REPO / "pipelines" / "harvest_pipeline.py").read_text()
    assert "from harvest_source.cli import main" in script and "sys.exit(main())" in script
    assert cli.parse_args(["--demo"]).progress is True
    assert cli.parse_args(["--no-progress"]).progress is False


@pytest.mark.parametrize("selection", [",", "", " , "])
def test_an_empty_resource_selection_is_an_error_not_everything(tmp_path, selection):
    with run_simulator(scale="tiny", seed=1) as sim:
        proc = _command("--resources", selection, env=_account_env(sim, "any-token"), cwd=tmp_path)
        requests = sim.stats()["total"]
    assert proc.returncode == 1
    assert "selects no table" in proc.stderr and "Harvest load summary" not in proc.stdout
    assert requests == 0


def test_verbose_logs_one_line_per_request_and_no_http_library_debug(tmp_path):
    with run_simulator(scale="tiny", seed=1) as sim:
        proc = _command("-v", "--no-progress", "--resources", "company,users,clients",
                        env=_account_env(sim, "any-token"), cwd=tmp_path)
        requests = sim.stats()["total"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert not [line for line in lines if "httpcore" in line or "httpx" in line]
    request_lines = [line for line in lines if re.search(r" GET /v2/\S+ .*\d+ ms", line)]
    assert len(request_lines) == requests > 0
    assert all(LOG_LINE.match(line) for line in request_lines)


def test_dlt_warnings_come_out_in_the_command_log_format(tmp_path):
    """The filesystem destination cannot merge: dlt warns that it falls back to append."""
    env = {"DESTINATION__FILESYSTEM__BUCKET_URL": str(tmp_path / "files")}
    proc = _command("--demo", "--demo-scale", "tiny", "--no-progress", "--destination", "filesystem",
                    "--resources", "users", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dlt_lines = [line for line in proc.stderr.splitlines() if "append" in line]
    assert dlt_lines and all(LOG_LINE.match(line) and " dlt: " in line for line in dlt_lines)
    assert "|[WARNING]|" not in proc.stderr  # dlt's own format


def test_progress_without_psutil_does_not_warn(tmp_path):
    """dlt's "log" collector warns when psutil is missing; the command's own collector needs none."""
    hide_psutil = tmp_path / "no_psutil"
    hide_psutil.mkdir()
    (hide_psutil / "psutil.py").write_text("raise ImportError('psutil hidden for this test')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(hide_psutil), os.environ.get("PYTHONPATH", "")])}
    proc = _command("--demo", "--demo-scale", "tiny", "--progress", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "psutil" not in proc.stderr
