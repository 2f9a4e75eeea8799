"""JSON encode/decode: orjson when present (it is ~10x faster on big pages), stdlib json otherwise.

Both produce compact output and keep Python's float/int distinction, so ``100`` and ``100.0``
reach the wire exactly as the generator chose them.
"""

from __future__ import annotations

import json
from typing import Any

try:  # pragma: no cover - exercised implicitly
    import orjson

    def dumps(obj: Any) -> bytes:
        """Serialize to compact UTF-8 JSON bytes."""
        return orjson.dumps(obj)

    def loads(data: bytes | str) -> Any:
        """Parse JSON bytes or text."""
        return orjson.loads(data)

    def dumps_stored(obj: Any) -> bytes:
        """Serialize for long-term storage: an exact-size copy.

        orjson hands back its (much larger) working buffer shrunk in place; kept by the hundred thousand,
        those leave ~8 KB of fragmented heap per record (1.6 GB for the large scale instead of 0.25 GB).
        """
        return bytes(memoryview(orjson.dumps(obj)))

except ImportError:  # pragma: no cover - fallback path

    def dumps(obj: Any) -> bytes:
        """Serialize to compact UTF-8 JSON bytes."""
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def loads(data: bytes | str) -> Any:
        """Parse JSON bytes or text."""
        return json.loads(data)

    def dumps_stored(obj: Any) -> bytes:
        """Serialize for long-term storage."""
        return dumps(obj)
