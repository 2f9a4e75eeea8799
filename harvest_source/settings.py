"""Defaults shared by the source, the command line and the docs."""

from __future__ import annotations

PIPELINE_NAME = "harvest"
DATASET_NAME = "harvest_data"
DUCKDB_FILE = "harvest.duckdb"

# Seconds subtracted from the stored cursor before asking Harvest for changes. 0 keeps
# dlt's exact boundary dedup (updated_since is inclusive); more re-reads a window each run.
DEFAULT_LOOKBACK_SECONDS = 0
# How often fan-out children are re-read for every parent, because a child change
# (a reminder, a rate change) does not always touch its parent's updated_at.
DEFAULT_SWEEP_INTERVAL_HOURS = 24.0
# Parallel requests for fan-out children; the shared pacer keeps them under the rate limit.
DEFAULT_CONCURRENCY = 8
# Harvest's general rate limit window in seconds (100 requests per window).
DEFAULT_RATE_LIMIT_WINDOW_S = 15.0
EPOCH = "1970-01-01T00:00:00Z"

# -- cli: the installed command, its demo and its progress display
DEMO_SCALE = "small"  # the simulated account --demo loads (--demo-scale tiny|small|large)
DEMO_SEED = 1
# The demo simulator enforces Harvest's rate limit 20x faster, so the demo shows real pacing
# (100 requests per 0.75 s instead of per 15 s) and finishes in seconds, not minutes.
DEMO_TIME_SCALE = 20.0
PROGRESS_REFRESH_PER_S = 4  # redraws of the live display on a terminal
PROGRESS_LOG_PERIOD_S = 15.0  # seconds between two progress lines when the output is not a terminal
