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

# --- runner: the run around the source (recovery, drift watch, destinations) -------------------------
# Harvest's API (the http helper's name, same value): the base URL when none is configured.
DEFAULT_BASE_URL = "https://api.harvestapp.com/v2"
# Where the source keeps the account id in its dlt state (the runner refuses to mix two accounts).
ACCOUNT_ID_STATE_KEY = "account_id"
# The staging dataset dlt merges through, named so analysts see it belongs to dlt, not to them
# (dlt's default "%s_staging" puts "harvest_data_staging" next to "harvest_data").
STAGING_DATASET_LAYOUT = "_dlt_staging_%s"
# Drift watch: arrow pages only tell empty from filled, so a few rows are not evidence of a gone field.
MISSING_MIN_ARROW_ROWS = 3
# Drift watch: earlier rows sampled per table to learn which columns they filled.
MISSING_SAMPLE_ROWS = 1000
