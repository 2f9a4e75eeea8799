"""Defaults shared by the source, the command line and the docs."""

from __future__ import annotations

PIPELINE_NAME = "harvest"
DATASET_NAME = "harvest_data"
DUCKDB_FILE = "harvest.duckdb"
# DuckDB's memory cap for the loader's connection (DuckDB's own default: 80 % of RAM). The load step is
# the run's memory peak (DuckDB inserting and merging a table's file); capped, DuckDB spills to
# <file>.tmp instead. Measured on 2M time entries: peak RSS 1,094 MB uncapped, 787 MB at 300MB, and the
# load was not slower (benchmarks/README.md, "one huge account").
DUCKDB_MEMORY_LIMIT = "300MB"

# Seconds subtracted from the stored cursor before asking Harvest for changes. 0 keeps
# dlt's exact boundary dedup (updated_since is inclusive); more re-reads a window each run.
DEFAULT_LOOKBACK_SECONDS = 0
# Fan-out children are re-read although their parent did not change, because a child change (a
# reminder, a rate change) does not always touch its parent's updated_at (``rotation``): a live parent's
# within this many hours (also the deletion sweep's interval) ...
DEFAULT_SWEEP_INTERVAL_HOURS = 24.0
# ... and every other parent's within this many days.
DEFAULT_VERIFY_DAYS = 7.0
# Parallel requests for fan-out children; the shared pacer keeps them under the rate limit.
DEFAULT_CONCURRENCY = 8
# Harvest's general rate limit window in seconds (100 requests per window).
DEFAULT_RATE_LIMIT_WINDOW_S = 15.0
EPOCH = "1970-01-01T00:00:00Z"

# --- http: the Harvest client (harvest_source/http/) -------------------------------------------
DEFAULT_BASE_URL = "https://api.harvestapp.com/v2"
DEFAULT_USER_AGENT = "harvest-dlt (https://github.com/harvest-dlt/harvest-dlt)"
# Records per list page: Harvest's maximum, so a listing spends as few requests as it can.
PER_PAGE = 2000
# A list longer than this many pages is taken for a paging loop and stopped.
DEFAULT_MAX_PAGES = 100_000
DEFAULT_TIMEOUT_S = 60.0
# Retries: attempts per request, the total back-off one request may wait, full-jitter exponential back-off.
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_MAX_RETRY_WAIT_S = 900.0
DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_CAP_S = 60.0
# Harvest's general limit is RATE_LIMIT_REQUESTS per DEFAULT_RATE_LIMIT_WINDOW_S; reports have their own.
RATE_LIMIT_REQUESTS = 100
REPORTS_RATE_LIMIT = (100, 900.0)

# -- source ----------------------------------------------------------------------------------------
# Pages of an arrow-path list in flight at once: one being settled, two parsing on the two cores.
READ_AHEAD_PAGES = 3
# Arrow pages joined per item handed to dlt (dlt spends ~15 ms per arrow item on its schema).
BATCH_ROWS = 20_000
# The source state key remembering the Harvest account a dataset was loaded from.
ACCOUNT_ID_STATE_KEY = "account_id"


# --- runner: the run around the source (recovery, drift watch, destinations) -------------------------
# The staging dataset dlt merges through, named so analysts see it belongs to dlt, not to them
# (dlt's default "%s_staging" puts "harvest_data_staging" next to "harvest_data").
STAGING_DATASET_LAYOUT = "_dlt_staging_%s"
# Many accounts: accounts extracted at once, each under its own rate limits (Harvest's limit is per token
# and account); their loads into the one dataset take turns. Bounded so 500 accounts do not mean 500 threads.
DEFAULT_ACCOUNT_CONCURRENCY = 8
# Drift watch: arrow pages only tell empty from filled, so a few rows are not evidence of a gone field.
MISSING_MIN_ARROW_ROWS = 3
# Drift watch: earlier rows sampled per table to learn which columns they filled.
MISSING_SAMPLE_ROWS = 1000

# -- cli: the installed command, its demo and its progress display
DEMO_SCALE = "small"  # the simulated account --demo loads (--demo-scale tiny|small|large)
DEMO_SEED = 1
# The demo simulator enforces Harvest's rate limit 20x faster, so the demo shows real pacing
# (100 requests per 0.75 s instead of per 15 s) and finishes in seconds, not minutes.
DEMO_TIME_SCALE = 20.0
PROGRESS_REFRESH_PER_S = 4  # redraws of the live display on a terminal
PROGRESS_LOG_PERIOD_S = 15.0  # seconds between two progress lines when the output is not a terminal

# -- verify: comparing the destination with Harvest (harvest-dlt --verify) ---------------------------
# Default --since: the first day of the month this many months before today's (that month to today).
VERIFY_MONTHS_BACK = 3
# Exit code when some check differs (0: every check matches, 1: could not check: 401, outage, no destination).
EXIT_DIFFERS = 3
# Both sides of a sum are rounded to this many decimal places (half up), then equal within VERIFY_TOLERANCE:
# Harvest sums binary floats and rounds, so at a half-cent boundary its last digit may go either way.
VERIFY_PLACES = 2
VERIFY_TOLERANCE = "0.01"
# Differing subjects listed under one differing check (the rest counted).
VERIFY_SHOWN_DIFFERENCES = 5
# The soft-delete column (deletes issue): rows with a value there are left out of counts and sums.
SOFT_DELETED_COLUMN = "_harvest_deleted_at"

# -- oauth: OAuth2 credentials that refresh themselves (http/oauth.py, token_store.py, authorize.py)
DEFAULT_ID_URL = "https://id.getharvest.com/api/v2"
# Refresh this long before expires_in runs out (at most this fraction of the lifetime): a request sent
# just before the deadline must not arrive just after it.
OAUTH_REFRESH_MARGIN_S = 300.0
OAUTH_REFRESH_MARGIN_FRACTION = 0.2
# When a token response has no expires_in: 17 h, as tap-harvest assumes (reference 1.3, v1 said 18 h).
OAUTH_DEFAULT_EXPIRES_IN_S = 17 * 3600.0
OAUTH_TIMEOUT_S = 30.0
# Token requests answered 5xx/429 or not at all: attempts in all, and the back-off step (1x, 2x, ...).
OAUTH_TOKEN_ATTEMPTS = 3
OAUTH_TOKEN_BACKOFF_S = 2.0
# Refreshes one request may ask for when its token keeps expiring under it (shared by many threads).
OAUTH_MAX_REFRESHES_PER_REQUEST = 3
# Where rotated refresh tokens are kept (token_store.py); the env var overrides the default folder.
TOKEN_DIR_ENV = "HARVEST_DLT_TOKEN_DIR"
TOKEN_STORE_VERSION = 1
# harvest-dlt --authorize: how long to wait for the browser to come back to 127.0.0.1.
AUTHORIZE_WAIT_S = 600.0

# -- reports: Harvest's Reports API as tables (report_tables.py) -------------------------------------
# A report period: a calendar month by default, or a calendar year (at most one year per request).
REPORT_PERIODS = ("month", "year")
DEFAULT_REPORTS_PERIOD = "month"
# History when ``reports_start_date`` is not set: the periods from this many months before today.
DEFAULT_REPORTS_HISTORY_MONTHS = 3
# Periods re-read by every run, newest first (the current and the previous): their totals still change.
REPORTS_REREAD_PERIODS = 2
# Report slots kept free for ``reports_project_budget`` (one page, read whole each run).
REPORTS_RESERVED_SLOTS = 1
# The resource-state key of the periods a report table has loaded, and of the period kind they are.
REPORTS_STATE_DONE = "periods_done"
REPORTS_STATE_PERIOD = "period"

# -- deletes: what a deletion sweep does with rows Harvest no longer returns (deletions.py) ---------------
# hard: the rows are removed (by SQL, or on Delta tables: ``deletion_pass``); soft: they stay, marked in
# SOFT_DELETED_COLUMN; off: deletions are not looked for.
DELETE_MODES = ("hard", "soft", "off")
DEFAULT_DELETES = "hard"
# Tables whose listing Harvest narrows, silently, for a token that is not an administrator's.
NARROWED_TABLES = ("time_entries", "expenses")
# The pipeline's local-state key remembering when the account's last deletion sweep ran: a sweep runs when
# ``sweep_interval_hours`` have passed since (as the child sweep does), on the first run, or with --sweep.
DELETION_SWEPT_AT_KEY = "deletion_swept_at"
# Ids per DELETE/UPDATE statement: long id lists are sent in slices this long.
DELETE_BATCH_IDS = 1000
