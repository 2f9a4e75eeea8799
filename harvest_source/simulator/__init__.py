"""A local Harvest API v2 simulator (its README lists the behaviours of Harvest's API it models).

    with run_simulator(scale="tiny", seed=1) as sim:
        sim.base_url        # http://127.0.0.1:<port>/v2
        sim.headers()       # Authorization / Harvest-Account-Id / User-Agent for the administrator
        sim.mutate("add_payment", invoice_id=...)

Command line: ``python -m harvest_source.simulator --port 8765 --scale small --seed 1``.
It deliberately imports nothing from the connector, so a wrong path in the connector cannot be mirrored here.
"""

from .runner import Simulator, run_simulator

__all__ = ["Simulator", "run_simulator"]
