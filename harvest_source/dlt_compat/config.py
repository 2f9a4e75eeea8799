"""Which settings a ``ConfigFieldMissingException`` names, and where dlt looked for them (dlt 1.31).

The exception carries ``fields`` and ``traces``: for each field, the (provider, sections, key) lookups
dlt tried in order. The environment-variable key of the longest sections without the pipeline-name
prefix is the one to tell a user (``DESTINATION__FILESYSTEM__BUCKET_URL``, ``SOURCES__HARVEST__ACCESS_TOKEN``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlt.common.configuration.exceptions import ConfigFieldMissingException


@dataclass(frozen=True)
class MissingSetting:
    field: str
    sections: tuple[str, ...]  # ("destination", "filesystem") or ("sources", "harvest")
    env_var: str  # DESTINATION__FILESYSTEM__BUCKET_URL

    @property
    def toml_section(self) -> str:
        return ".".join(self.sections)


def missing_settings(error: ConfigFieldMissingException) -> list[MissingSetting]:
    """The missing fields of ``error``, each with the setting's sections and environment variable."""
    found = []
    for name in error.fields:
        tried = [t for t in error.traces.get(name, ()) if t.provider == "Environment Variables"]
        if not tried:
            found.append(MissingSetting(name, (), name.upper()))
            continue
        longest = max(len(t.sections) for t in tried)
        best = min((t for t in tried if len(t.sections) == longest), key=lambda t: len(t.key))
        found.append(MissingSetting(name, tuple(best.sections), best.key))
    return found


__all__ = ["ConfigFieldMissingException", "MissingSetting", "missing_settings"]
