"""Where a rotated OAuth refresh token waits for the next run: one private file per OAuth grant.

Harvest may answer a refresh with a new refresh token (reference 1.3: "store the newest"); if the old
one then stops working, the next run (another process, a day later) must find the new one, or the
user has to authorize again. Why a file of its own, and not dlt state or the pipelines folder: dlt
state syncs to the destination and travels in load packages, and the pipelines folder is per pipeline
and is wiped by a full refresh, while the token belongs to the grant (OAuth app + authorizing user),
which several pipelines may share.

Design:
* Folder: ``token_dir`` / ``$HARVEST_DLT_TOKEN_DIR``, else ``$XDG_CONFIG_HOME/harvest-dlt/tokens``,
  else ``~/.config/harvest-dlt/tokens``; created 0700, files written 0600.
* One file per grant, named by a hash of the client id and of the refresh token the user configured
  (the *seed*; ``""`` for a grant made by ``harvest-dlt --authorize``): a new token put in secrets.toml
  starts a new file instead of being overridden by an older rotated one, and two customers
  authorized through one app never share a file. The file holds the newest refresh token only; no
  name or token appears in the file name.
* Writes are atomic (temp file in the same folder, ``fsync``, ``os.replace``), and a refresh holds an
  exclusive ``flock`` on ``<file>.lock`` from reading the token to saving its successor, so two runs
  at once take turns instead of spending the same refresh token twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from .settings import TOKEN_DIR_ENV, TOKEN_STORE_VERSION

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def default_token_dir() -> Path:
    if os.environ.get(TOKEN_DIR_ENV):
        return Path(os.environ[TOKEN_DIR_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "harvest-dlt" / "tokens"


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class TokenStore:
    """The newest refresh token of one OAuth grant (``client_id`` + the configured ``seed`` token)."""

    def __init__(self, client_id: str, seed: str = "", folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder else default_token_dir()
        self.path = self.folder / f"oauth-{_fingerprint(client_id, seed)}.json"
        self._seed = seed

    def __repr__(self) -> str:
        return f"TokenStore(path={str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[TokenStore]:
        """Exclusive use of the grant's token, across threads and processes, for one read-refresh-save."""
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(str(self.path), threading.Lock())
        with thread_lock:
            self._make_folder()
            fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield self
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def load(self) -> str | None:
        """The stored refresh token, else the seed (None when there is neither)."""
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            doc = {}
        token = doc.get("refresh_token") if isinstance(doc, dict) else None
        return str(token) if token else (self._seed or None)

    def save(self, refresh_token: str) -> None:
        """Replace the stored token atomically (a crash leaves the old file or the new one, never half)."""
        self._make_folder()
        doc = {"version": TOKEN_STORE_VERSION, "refresh_token": refresh_token,
               "saved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".oauth-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates the file 0600
                json.dump(doc, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _make_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)


__all__ = ["TokenStore", "default_token_dir"]
