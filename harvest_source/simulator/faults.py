"""Seeded fault injection: the failures a connector must survive (5xx, dropped connections, slow
answers, broken JSON, HTML pages, 429 storms, lying envelopes). Rules fire by probability (seeded RNG)
or for the next N matching requests; /__sim__/ paths are never affected."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from ._json import dumps, loads
from .http_types import JSON, Response, html_error_page

# Faults decided before the request is processed (they replace the answer or delay it).
PRE_KINDS = frozenset({"500", "502", "503", "drop", "slow", "html", "429", "429_no_retry_after"})
# Faults that rewrite a successful JSON answer.
POST_KINDS = frozenset({"truncated", "malformed"})
# Faults that rewrite a successful list envelope.
ENVELOPE_KINDS = frozenset({"missing_key", "loop_next", "lying_total_pages"})
KINDS = PRE_KINDS | POST_KINDS | ENVELOPE_KINDS


@dataclass
class FaultRule:
    kind: str
    probability: float | None = None
    count: int | None = None
    path: re.Pattern | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaultRule:
        kind = str(d.get("kind"))
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(KINDS)}")
        prob, count = d.get("probability"), d.get("count")
        if (prob is None) == (count is None):
            raise ValueError("a fault rule needs exactly one of 'probability' or 'count'")
        path = d.get("path")
        params = {k: v for k, v in d.items() if k not in ("kind", "probability", "count", "path")}
        return cls(kind, None if prob is None else float(prob), None if count is None else int(count),
                   re.compile(path) if path else None, params)


class Faults:
    """The active rules plus the seeded RNG that decides probabilistic ones."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._rng = random.Random(0)
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def set(self, rules: list[dict[str, Any]], seed: int = 0) -> None:
        parsed = [FaultRule.from_dict(r) for r in rules]
        with self._lock:
            self._rules = parsed
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    @property
    def active(self) -> bool:
        return bool(self._rules)

    def pick(self, path: str, kinds: frozenset[str]) -> FaultRule | None:
        """The first rule of ``kinds`` that fires for ``path`` (consuming one of its count)."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.kind not in kinds or (rule.path is not None and not rule.path.search(path)):
                    continue
                if rule.count is not None:
                    if rule.count <= 0:
                        continue
                    rule.count -= 1
                elif self._rng.random() >= (rule.probability or 0.0):
                    continue
                self.injected[rule.kind] = self.injected.get(rule.kind, 0) + 1
                return rule
        return None


def pre_response(rule: FaultRule) -> Response | None:
    """The replacement answer of a pre-fault (None for "drop" and "slow", handled by the server)."""
    kind = rule.kind
    if kind in ("500", "502", "503"):
        status = int(kind)
        body = dumps({"status": status, "error": "Internal Server Error" if status == 500 else "Service Unavailable"})
        if status == 502:
            body = dumps({"status": 502, "error": "Bad Gateway"})
        return Response(status, body)
    if kind == "html":
        return html_error_page(int(rule.params.get("status", 500)))
    if kind == "429":
        return Response(429, b"", content_type="text/html",
                        headers=[("Retry-After", str(int(rule.params.get("retry_after", 1))))])
    if kind == "429_no_retry_after":
        return Response(429, b"", content_type="text/html")
    return None


def post_response(rule: FaultRule, resp: Response, request_url: str) -> Response:
    """Rewrite a 200 answer according to ``rule``."""
    kind, body = rule.kind, resp.body
    if kind == "truncated":
        declared = len(body) if rule.params.get("declared") == "full" else None
        return Response(200, body[: max(1, len(body) // 2)], content_type=JSON, records_key=resp.records_key,
                        declared_length=declared)
    if kind == "malformed":
        broken = body.replace(b":", b":,", 1) if b":" in body else b"{" + body
        return Response(200, broken, content_type=JSON, records_key=resp.records_key)
    doc = loads(body)
    if kind == "missing_key":
        doc.pop(resp.records_key, None)
    elif kind == "loop_next":
        doc["links"]["next"] = request_url
    elif kind == "lying_total_pages":
        doc["total_pages"] = doc["total_pages"] + 3
        doc["total_entries"] = doc["total_entries"] * 2 + 7
    return Response(200, dumps(doc), content_type=JSON, records_key=resp.records_key)
