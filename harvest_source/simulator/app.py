"""Request pipeline of the simulator: faults -> latency -> User-Agent -> auth -> rate limit -> route,
then faults that rewrite answers, and statistics. /__sim__/ control paths bypass all of it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import faults as F
from ._json import dumps, loads
from .api import Api
from .auth import Authenticator
from .clock import http_date
from .faults import Faults
from .http_types import ApiError, Request, Response, bad_request, json_response, message_error
from .ratelimit import RateLimiter
from .stats import Stats
from .store import Store


class SimApp:
    def __init__(self, store: Store, auth: Authenticator, limiter: RateLimiter, latency_ms: float = 0,
                 control: Any = None) -> None:
        self.store = store
        self.auth = auth
        self.api = Api(store)
        self.limiter = limiter
        self.faults = Faults()
        self.stats = Stats()
        self.latency_ms = latency_ms
        self.control = control  # object with handle_control(method, path, query, body) -> Response
        self.base = "http://127.0.0.1"
        self.id_service: Any = None  # oauth.IdService: Harvest ID at /id/ (outside the API's rate limit)

    def http_date(self) -> str:
        return http_date(self.store.clock.ts)

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Response | None:
        parts = urlsplit(target)
        path = parts.path or "/"
        if path.startswith("/__sim__/") or path == "/__sim__":
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                return self.control.handle_control(method, path, query, body)
            except ApiError as err:
                return err.response
            except (ValueError, KeyError, TypeError) as exc:
                return message_error(422, f"{type(exc).__name__}: {exc}")
        if self.id_service is not None and path.startswith("/id/"):
            return self.id_service.handle(method, path, parts.query, headers, body)
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        resp = self._handle_api(method, path, parts.query, headers, target)
        self.stats.record(method, path, parts.query, "drop" if resp is None else resp.status)
        return resp

    def _handle_api(self, method: str, path: str, raw_query: str, headers: Any, target: str) -> Response | None:
        rule = self.faults.pick(path, F.PRE_KINDS)
        if rule is not None:
            if rule.kind == "drop":
                return None
            if rule.kind == "slow":
                time.sleep(float(rule.params.get("seconds", 5)))
            else:
                return F.pre_response(rule)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if not (headers.get("User-Agent") or "").strip():
            return bad_request("Missing User-Agent header: include your application name and a contact")
        host = headers.get("Host")
        req = Request(method, path, dict(parse_qsl(raw_query, keep_blank_values=True)), raw_query, headers,
                      f"http://{host}" if host else self.base)
        try:
            req.principal = self.auth.authenticate(req)
        except ApiError as err:
            return err.response
        retry = self.limiter.check(req.principal.token, path)
        if retry is not None:
            return Response(429, b"", content_type="text/html", headers=[("Retry-After", str(retry))])
        if method not in ("GET", "HEAD"):
            return message_error(405, "The simulator is read-only; change data with POST /__sim__/mutate")
        resp = self.api.dispatch(req)
        if resp.status == 200:
            kinds = F.POST_KINDS | F.ENVELOPE_KINDS if resp.records_key else F.POST_KINDS
            rule = self.faults.pick(path, kinds)
            if rule is not None:
                resp = F.post_response(rule, resp, f"{req.base}{target}")
        return resp


def read_json(body: bytes) -> dict:
    """Body of a control POST (empty means {})."""
    if not body.strip():
        return {}
    doc = loads(body)
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    return doc


__all__ = ["SimApp", "read_json", "dumps", "json_response"]
