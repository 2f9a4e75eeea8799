"""Command line: serve generated Harvest accounts until interrupted; prints the base URL first, then (on
stderr) each account's id and company name."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from .generator import SCALES
from .oauth import DEFAULT_TOKEN_LIFETIME_S
from .runner import Simulator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harvest_source.simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--now", default=None,
                   help="the account's current time, e.g. 2024-12-02T17:00:00Z (default: $HARVEST_SIM_NOW, else now)")
    p.add_argument("--token", default=None, help="the administrator's token (default: any non-empty token)")
    p.add_argument("--member-token", default=None, help="a token that acts as a member user")
    p.add_argument("--account-id", type=int, default=None,
                   help="the first account's Harvest-Account-Id (default 1234567); the others follow it")
    p.add_argument("--accounts", type=int, default=1,
                   help="how many accounts to serve (account i: id --account-id + i, data of --seed + i)")
    p.add_argument("--rate-limit", choices=("off", "harvest"), default="off")
    p.add_argument("--time-scale", type=float, default=1.0, help="divide the rate-limit windows by this")
    p.add_argument("--latency-ms", type=float, default=0, help="added latency per request")
    p.add_argument("--no-child-bumps-parent", action="store_true",
                   help="payments and messages never bump their parent's updated_at")
    p.add_argument("--oauth-client-id", default=None, help="serve an OAuth app with this client id at <root>/id/api/v2")
    p.add_argument("--oauth-client-secret", default=None, help="the OAuth app's client secret")
    p.add_argument("--refresh-token", default=None, help="an initial refresh token the OAuth app accepts")
    p.add_argument("--token-lifetime-s", type=float, default=DEFAULT_TOKEN_LIFETIME_S,
                   help="OAuth access tokens expire after this many seconds (divided by --time-scale)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    sim = Simulator(args.scale, args.seed, token=args.token, member_token=args.member_token,
                    account_id=args.account_id, rate_limit=args.rate_limit, time_scale=args.time_scale,
                    latency_ms=args.latency_ms, child_bumps_parent=not args.no_child_bumps_parent,
                    host=args.host, port=args.port, now=args.now, oauth_client_id=args.oauth_client_id,
                    oauth_client_secret=args.oauth_client_secret, refresh_token=args.refresh_token,
                    token_lifetime_s=args.token_lifetime_s, accounts=args.accounts)
    sim.start()
    print(sim.base_url, flush=True)
    if sim.oauth is not None:
        print(f"harvest simulator: OAuth app {args.oauth_client_id!r} at {sim.id_url}; access tokens live "
              f"{args.token_lifetime_s:g}s; refresh tokens rotate on use", file=sys.stderr, flush=True)
    counts = sim.counts()
    print(
        f"harvest simulator: scale={args.scale} seed={args.seed} generated in {time.perf_counter() - started:.1f}s; "
        f"account id {sim.account_id}; admin token {'<any non-empty>' if args.token is None else args.token!r}"
        f"{'; member token ' + repr(args.member_token) if args.member_token else ''}; "
        f"{counts['time_entries']} time entries, {counts['invoices']} invoices, {counts['users']} users. "
        f"Control: {sim.base_url[:-3]}/__sim__/stats. Ctrl-C stops.",
        file=sys.stderr, flush=True,
    )
    if len(sim.account_ids) > 1:
        listed = ", ".join(f"{a.id} ({a.name}, seed {a.seed})" for a in sim.accounts)
        print(f"harvest simulator: {len(sim.account_ids)} accounts: {listed}; the ID service lists them at "
              f"{sim.id_url}/accounts", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
