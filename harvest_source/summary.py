"""The end of a run in words: the summary table and, for a failed run, one message that says what to fix.

The reason is the error of the run's own (a 401, a missing setting) even when dlt wraps it in its step
failure, or a request it stopped reaches dlt first; a signal is the reason only when nothing else failed
first. A Harvest error's hint is printed once, on its own "what to do" line.
"""

from __future__ import annotations

from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from .dlt_compat.config import MissingSetting, missing_settings
from .dlt_compat.signals import SignalReceivedException
from .errors import HarvestError, HarvestRunStopped
from .report import RunOutcome
from .run_types import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, RunResult

INTERRUPTED = ("interrupted by a signal (Ctrl-C or SIGTERM); run again: the next run finishes or rewinds "
               "what this one left, nothing is lost")
HARVEST_SECTIONS = ("sources", "harvest")


def format_summary(result: RunResult) -> str:
    """A plain-text summary for the end of a run."""
    lines = ["", "Harvest load summary", "--------------------"]
    if result.recovered:
        lines.append("finished a load an earlier run left pending (its rows, not this run's):")
        width = max(len(t) for t in result.recovered)
        lines.extend(f"  {table:<{width}}  {rows:>9,}" for table, rows in result.recovered.items())
    if result.rows:
        width = max(len(t) for t in result.rows)
        lines.append(f"  {'table':<{width}}  {'loaded':>9}  {'new':>9}  {'updated':>9}")
        for table, loaded in result.rows.items():
            new = max(0, result.new_rows.get(table, loaded))
            lines.append(f"  {table:<{width}}  {loaded:>9,}  {new:>9,}  {max(0, loaded - new):>9,}")
    elif result.exit_code != EXIT_FAILED:
        lines.append("  no changes since the last run: nothing to load")
    lines.append(f"requests: {result.requests:,}  retries: {result.retries:,}  429s: {result.throttled:,}")
    lines.extend(f"schema change: {change}" for change in result.schema_changes)
    lines.extend(f"skipped {table}: {reason}" for table, reason in result.skipped.items())
    lines.extend(deletion_lines(result))
    lines.append(f"duration: {result.duration_s:.1f} s")
    if result.destination:
        lines.append(f"destination: {result.destination}")
    if result.views:
        lines.append(f"views: {', '.join(result.views)}")
    lines.extend(f"WARNING: view {view} not created: {why}" for view, why in result.views_not_created.items())
    if result.reports_pending:
        lines.append(f"reports pending: {result.reports_pending:,} period(s) did not fit the reports rate limit "
                     "(100 per 15 min); the next run loads them")
    lines.extend(account_lines(result))
    partial = "PARTIAL (some accounts did not load)" if any(
        r.exit_code == EXIT_FAILED for r in result.accounts) else "PARTIAL (some resources skipped)"
    status = {EXIT_OK: "OK", EXIT_PARTIAL: partial, EXIT_FAILED: "FAILED"}
    lines.append(f"status: {status[result.exit_code]}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)


def deletion_lines(result: RunResult) -> list[str]:
    """Rows deleted (or marked) per table by the deletion pass, and where it could not look (a WARNING)."""
    verb = "marked deleted" if result.deletes == "soft" else "deleted"
    lines = [f"{verb}: {table} {rows:,}" for table, rows in result.deleted.items()]
    lines.extend(f"WARNING: deletions in {table}: {why}" for table, why in result.deletion_warnings.items())
    return lines


def account_lines(result: RunResult) -> list[str]:
    """One line per account of a run that loaded several, and the accounts Harvest ID listed but not loaded."""
    lines = []
    if result.accounts:
        lines.append("accounts:")
        status = {EXIT_OK: "OK", EXIT_PARTIAL: "PARTIAL", EXIT_FAILED: "FAILED"}
        for account in result.accounts:
            rows = sum(account.rows.values())
            line = (f"  {account.account_id}: {status[account.exit_code]}, {rows:,} rows loaded, "
                    f"{account.requests:,} requests")
            if account.skipped:
                line += f", skipped {', '.join(account.skipped)}"
            if account.exit_code == EXIT_FAILED and account.error:
                line += f" - {account.error.splitlines()[0]}"
            lines.append(line)
    lines.extend(f"account {account} not loaded: {why}" for account, why in result.accounts_skipped.items())
    return lines


def reason(error: BaseException, outcome: RunOutcome) -> str:
    """Why the run failed, for the summary: a signal, unless an error of the run's own (a 401, say) came
    first; else the Harvest or config error behind dlt's, or the error the report saw first."""
    if outcome.interrupted and outcome.first_error is None:
        return interrupted(error)
    return explain(first_cause(root_cause(error), outcome))


def explain(error: BaseException) -> str:
    """One message for ``error``: what failed and, on its own line, what to do (never twice)."""
    if isinstance(error, HarvestError):
        message = str(getattr(error, "message", "") or error).rstrip(". ")
        hint = (error.hint or "").strip()
        return message + (f"\n  what to do: {hint}" if hint and hint not in message else "")
    if by_signal(error):
        return interrupted(error)
    if isinstance(error, ConfigFieldMissingException):
        return explain_missing(missing_settings(error))
    if isinstance(error, PipelineStepFailed):
        return f"the {error.step} step failed: {error.exception}"
    return f"{type(error).__name__}: {error}"


def explain_missing(missing: list[MissingSetting]) -> str:
    """A missing Harvest setting names the Harvest variables; any other (a destination's ``bucket_url``,
    credentials) names itself and its own variable, never the Harvest token."""
    harvest = [m for m in missing if m.sections[:2] == HARVEST_SECTIONS]
    if harvest:
        names = ", ".join(m.field for m in harvest)
        env = " and ".join(f"SOURCES__HARVEST__{m.field.upper()}" for m in harvest)
        return (f"missing Harvest setting(s) {names}\n  what to do: set {env} "
                "(or .dlt/secrets.toml [sources.harvest]), or try --demo")
    names = ", ".join(f"{m.field} ([{m.toml_section}])" if m.sections else m.field for m in missing)
    env = " and ".join(m.env_var for m in missing)
    kind = "destination setting(s)" if any(m.sections[:1] == ("destination",) for m in missing) else "setting(s)"
    return (f"missing {kind} {names}\n  what to do: set {env} "
            "(or put it in .dlt/config.toml or .dlt/secrets.toml under that section)")


def in_chain(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first error of ``kinds`` in ``error``'s cause/context chain, or None."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def root_cause(error: BaseException) -> BaseException:
    """The Harvest or config error behind a dlt step failure, if there is one."""
    return in_chain(error, (HarvestError, ConfigFieldMissingException)) or error


def first_cause(error: BaseException, outcome: RunOutcome) -> BaseException:
    """The error that failed the run. A request it stopped (``HarvestRunStopped``) can reach dlt first;
    it is never the reason, the error the report saw first is."""
    if isinstance(error, HarvestRunStopped) and outcome.first_error is not None:
        return root_cause(outcome.first_error)
    return error


def by_signal(error: BaseException) -> bool:
    """Whether a signal is behind this error. A signal can land while dlt restores one of its contexts;
    dlt then raises its own error with the KeyboardInterrupt as context: still an interrupted run."""
    return in_chain(error, (KeyboardInterrupt, SignalReceivedException)) is not None


def interrupted(error: BaseException) -> str:
    """A run that a signal ended: whatever error dlt or a stopped request raised, that is the reason."""
    step = f" (during the {error.step} step)" if isinstance(error, PipelineStepFailed) else ""
    return INTERRUPTED + step
