"""A local Harvest API v2 simulator (its README lists the behaviours of Harvest's API it models).

    with run_simulator(scale="tiny", seed=1) as sim:
        sim.base_url        # http://127.0.0.1:<port>/v2
        sim.headers()       # Authorization / Harvest-Account-Id / User-Agent for the administrator
        sim.mutate("add_payment", invoice_id=...)

    with run_simulator(scale="tiny", accounts=3) as sim:   # three accounts behind one server
        sim.account_ids     # [1234567, 1234568, 1234569]; requests pick one with Harvest-Account-Id
        sim.account(sim.account_ids[1]).mutate_random(0.01)
        sim.set_account_state(sim.account_ids[2], "down")   # that account answers 503, the others 200

Command line: ``python -m harvest_source.simulator --port 8765 --scale small --seed 1``.
It deliberately imports nothing from the connector, so a wrong path in the connector cannot be mirrored here.
"""

from .runner import Simulator, run_simulator

__all__ = ["Simulator", "run_simulator"]
