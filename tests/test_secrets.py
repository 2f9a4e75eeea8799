"""The access token never leaks (issue 5, point 7), nor do OAuth's client secret, access and refresh tokens
(issue 15): not in stdout or stderr (with -v, dlt's progress and
DEBUG logging on), not in exception messages or logged tracebacks, not in dlt's trace, not in the load
packages or anything else in the pipeline's working folder, not in the destination's tables. Checked after
runs that succeeded and runs that failed (wrong token, an endpoint that keeps failing, a run killed in the
middle of its load, a run that failed in this process)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import io
import json
import logging
import pickle
import subprocess
import zlib
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from reliability.support import DATASET, cli_env, data_tables, driver_cmd, run_cli

from harvest_source.runner import EXIT_FAILED, EXIT_OK, RunSettings, format_summary, run_load
from harvest_source.simulator import run_simulator

SECRET = "hvst-7Q2x9LmP4kT8wZr3-SECRET-do-not-print-0451"
SECRET_BYTES = SECRET.encode()


# ------------------------------------------------------------------ looking everywhere
def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def decoded_forms(text: str) -> list[bytes]:
    """A string as itself and, when it is one, as the base64 (+ zlib) blob dlt stores state in."""
    out = [text.encode()]
    if len(text) >= 40 and " " not in text:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return out
        out.append(raw)
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(raw))
    return out


def _contents(path: Path) -> list[bytes]:
    """A file's bytes plus every decoded form a secret could hide in: gzip, parquet values, JSON strings
    (and the compressed state blobs inside them), pickles."""
    data = path.read_bytes()
    forms = [data]
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
        forms.append(data)
    if data[:4] == b"PAR1":
        forms.append(repr(pq.read_table(io.BytesIO(data)).to_pylist()).encode())
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if doc is not None:
        forms.extend(b for s in _strings(doc) for b in decoded_forms(s))
    else:  # typed-jsonl and other line formats
        for line in data.splitlines():
            try:
                forms.extend(b for s in _strings(json.loads(line)) for b in decoded_forms(s))
            except (ValueError, UnicodeDecodeError):
                break
    if path.suffix == ".pickle":
        # (a pickle of classes this process cannot import: its raw bytes were checked above)
        with contextlib.suppress(Exception):
            forms.append(repr(pickle.loads(data)).encode())
    return forms


SCANNED = {"files": 0, "values": 0}  # for the figures the tests print


def _has(form: bytes, secrets: tuple[bytes, ...]) -> bool:
    return any(secret in form for secret in secrets)


def leaks_in_folder(root: Path, secrets: tuple[bytes, ...] = (SECRET_BYTES,)) -> list[str]:
    found, files = [], 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in (".duckdb", ".wal"):
            files += 1
            if any(_has(form, secrets) for form in _contents(path)):
                found.append(str(path.relative_to(root)))
    assert files > 0
    SCANNED["files"] += files
    return found


def leaks_in_destination(file: Path, secrets: tuple[bytes, ...] = (SECRET_BYTES,)) -> list[str]:
    """Every text value of every table in every schema of the DuckDB file (data, staging, dlt's own
    tables), with dlt's compressed state blobs opened."""
    found = []
    with duckdb.connect(str(file), read_only=True) as con:
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' AND table_schema LIKE ?", [f"{DATASET}%"]
        ).fetchall()
        for schema, table, column in columns:
            values = con.execute(f'SELECT "{column}" FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL').fetchall()
            SCANNED["values"] += len(values)
            for (value,) in values:
                if any(_has(form, secrets) for form in decoded_forms(value)):
                    found.append(f"{schema}.{table}.{column}")
                    break
    return found


def _assert_no_leak(folder: Path, *texts: str, secrets: tuple[str, ...] = (SECRET,)) -> None:
    for text in texts:
        assert not any(secret in text for secret in secrets)
    as_bytes = tuple(secret.encode() for secret in secrets)
    assert leaks_in_folder(folder, as_bytes) == []
    files = list(folder.rglob("*.duckdb"))
    assert any(data_tables(file) for file in files)  # a destination with data was among those read
    for file in files:
        assert leaks_in_destination(file, as_bytes) == [], file
    print(f"\nno token in {len(texts)} outputs/messages, {SCANNED['files']} files, {SCANNED['values']:,} table values")


# ------------------------------------------------------------------ the runs
def _env(sim, folder: Path, token: str = SECRET, **settings: str) -> dict[str, str]:
    env = cli_env(sim, folder / "home", token=token, **settings)
    env["RUNTIME__LOG_LEVEL"] = "DEBUG"  # dlt logs all it knows
    return env


def test_the_token_leaks_nowhere_after_successful_and_failed_command_line_runs(tmp_path):
    outputs = []
    with run_simulator("tiny", seed=2, token=SECRET) as sim:
        db = ["--duckdb-file", str(tmp_path / "h.duckdb")]
        ok = run_cli([*db, "-v", "--progress"], _env(sim, tmp_path), cwd=tmp_path)
        assert ok.returncode == EXIT_OK, ok.stderr[-3000:]
        assert "GET /v2/time_entries" in ok.stderr  # -v did log the requests
        outputs += [ok.stdout, ok.stderr]

        sim.mutate("create", key="tasks")
        sim.set_faults([{"kind": "503", "probability": 1.0, "path": "^/v2/tasks$"}])
        failing = run_cli([*db, "-v"], _env(sim, tmp_path, max_attempts="2", backoff_base_s="0.01"), cwd=tmp_path)
        sim.clear_faults()
        assert failing.returncode == EXIT_FAILED and "503" in failing.stderr
        outputs += [failing.stdout, failing.stderr]

        # a load killed half-way leaves its packages (with the state they carry) in the working folder
        sim.mutate("create", key="time_entries")
        killed = subprocess.run(driver_cmd("job_committed:2", *db, "-v"), env=_env(sim, tmp_path), cwd=tmp_path,
                                capture_output=True, text=True, timeout=300)
        assert killed.returncode == -9
        outputs += [killed.stdout, killed.stderr]
        assert list((tmp_path / "home").rglob("started_jobs/*"))  # there is something half-done to look at
        _assert_no_leak(tmp_path, *outputs)

        resumed = run_cli([*db, "-v"], _env(sim, tmp_path), cwd=tmp_path)
        assert resumed.returncode == EXIT_OK, resumed.stderr[-3000:]
        outputs += [resumed.stdout, resumed.stderr]

    with run_simulator("tiny", seed=2, token="the-right-token") as sim:  # Harvest refuses our token
        refused = run_cli(["--duckdb-file", str(tmp_path / "refused.duckdb"), "-v"], _env(sim, tmp_path / "refused"),
                          cwd=tmp_path)
        assert refused.returncode == EXIT_FAILED and "401" in refused.stderr
        outputs += [refused.stdout, refused.stderr]
    _assert_no_leak(tmp_path, *outputs)


def test_the_token_is_not_in_errors_logs_or_the_trace_of_a_failed_run_in_process(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with run_simulator("tiny", seed=2, token=SECRET) as sim:
        settings = RunSettings(duckdb_file=str(tmp_path / "h.duckdb"), pipelines_dir=str(tmp_path / "pipelines"),
                               source_options={"rate_limit_window_s": 0.001, "max_attempts": 2,
                                               "backoff_base_s": 0.01})
        assert run_load(settings, SECRET, str(sim.account_id), sim.base_url).exit_code == EXIT_OK
        sim.mutate("create", key="clients")
        sim.set_faults([{"kind": "500", "probability": 1.0, "path": "^/v2/clients$"}])
        result = run_load(settings, SECRET, str(sim.account_id), sim.base_url)
        sim.clear_faults()
    assert result.exit_code == EXIT_FAILED and "/v2/clients" in result.error
    import dlt

    from harvest_source.run_types import account_pipeline_name

    pipeline = dlt.attach(account_pipeline_name("harvest", sim.account_id), pipelines_dir=str(tmp_path / "pipelines"))
    trace = pipeline.last_trace
    assert trace is not None and trace.steps
    failed_steps = [step for step in trace.steps if step.step_exception]
    assert failed_steps  # the trace holds the failure, with its exception text
    texts = [result.error, format_summary(result), str(trace), json.dumps(trace.asdict(), default=str)]
    texts += [step.step_exception or "" for step in trace.steps]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    assert any("500" in t for t in texts)
    _assert_no_leak(tmp_path, *texts)


OAUTH = {"CLIENT_ID": "app-7Q2x9", "CLIENT_SECRET": "oauth-client-SECRET-0451",
         "REFRESH_TOKEN": "oauth-refresh-SECRET-do-not-print-0451"}


def test_oauth_secrets_and_tokens_leak_nowhere(tmp_path, monkeypatch):
    """An OAuth load whose access token expires mid-run (-v, dlt DEBUG), then one with a revoked refresh
    token: no client secret, refresh token or access token in outputs, files or the destination. The token
    store (outside the scanned folder) is the one place a refresh token is kept."""
    store = tmp_path.parent / f"{tmp_path.name}-tokens"
    monkeypatch.setenv("HARVEST_DLT_TOKEN_DIR", str(store))
    outputs = []
    with run_simulator("tiny", seed=2, token=SECRET, oauth_client_id=OAUTH["CLIENT_ID"],
                       oauth_client_secret=OAUTH["CLIENT_SECRET"], refresh_token=OAUTH["REFRESH_TOKEN"]) as sim:
        sim.oauth.expire_every_calls = 20
        env = _env(sim, tmp_path, id_url=sim.id_url, **{k.lower(): v for k, v in OAUTH.items()})
        del env["SOURCES__HARVEST__ACCESS_TOKEN"]
        db = ["--duckdb-file", str(tmp_path / "h.duckdb")]
        ok = run_cli([*db, "-v", "--progress"], env, cwd=tmp_path)
        assert ok.returncode == EXIT_OK, ok.stderr[-3000:]
        assert "OAuth access token refreshed" in ok.stderr and sim.oauth.counts["refresh_token"] >= 3
        outputs += [ok.stdout, ok.stderr]
        sim.oauth.revoke()
        refused = run_cli([*db, "-v"], env, cwd=tmp_path)
        assert refused.returncode == EXIT_FAILED and "refused the refresh token" in refused.stderr
        outputs += [refused.stdout, refused.stderr]
        issued = tuple(sim.oauth.issued)
    assert list(store.glob("oauth-*.json"))  # the one place it is kept
    _assert_no_leak(tmp_path, *outputs, secrets=(OAUTH["CLIENT_SECRET"], OAUTH["REFRESH_TOKEN"], *issued))


def test_the_scanner_finds_a_planted_token(tmp_path):
    """The checks above mean something only if the scanner can see a token where it would hide."""
    blob = base64.b64encode(zlib.compress(json.dumps({"token": SECRET}).encode())).decode()
    (tmp_path / "state.json").write_text(json.dumps({"state": blob}))
    (tmp_path / "jobs.gz").write_bytes(gzip.compress(json.dumps({"x": SECRET}).encode()))
    pq.write_table(pa.table({"notes": ["a", SECRET * 3]}), tmp_path / "rows.parquet", compression="zstd")
    assert leaks_in_folder(tmp_path) == ["jobs.gz", "rows.parquet", "state.json"]
    with duckdb.connect(str(tmp_path / "d.duckdb")) as con:
        con.execute(f"CREATE SCHEMA {DATASET}; CREATE TABLE {DATASET}._dlt_pipeline_state (state VARCHAR)")
        con.execute(f"INSERT INTO {DATASET}._dlt_pipeline_state VALUES (?)", [blob])
    assert leaks_in_destination(tmp_path / "d.duckdb") == [f"{DATASET}._dlt_pipeline_state.state"]
