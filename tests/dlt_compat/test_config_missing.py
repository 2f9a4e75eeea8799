"""dlt_compat.config: which setting a ``ConfigFieldMissingException`` names, and its variable (dlt 1.31).

The summary names a missing destination setting (``bucket_url``) and its environment variable instead
of blaming the Harvest token; that reads the exception's ``fields`` and lookup ``traces``."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from harvest_source.dlt_compat.config import missing_settings


def test_a_filesystem_destination_without_bucket_url_names_it_and_its_variable(tmp_path: Path):
    pipeline = dlt.pipeline(pipeline_name="nobucket", destination="filesystem", dataset_name="data",
                            pipelines_dir=str(tmp_path / "pipelines"))
    with pytest.raises(ConfigFieldMissingException) as missing, pipeline.destination_client():
        pass
    (setting,) = missing_settings(missing.value)
    assert setting.field == "bucket_url"
    assert setting.sections == ("destination", "filesystem")
    assert setting.env_var == "DESTINATION__FILESYSTEM__BUCKET_URL"


def test_a_missing_source_secret_is_looked_up_under_sources_harvest():
    @dlt.source(name="harvest", section="harvest")
    def needs_token(access_token: str = dlt.secrets.value):
        return dlt.resource([1], name="one")

    with pytest.raises(ConfigFieldMissingException) as missing:
        needs_token()
    (setting,) = missing_settings(missing.value)
    assert setting.field == "access_token"
    assert setting.sections[:2] == ("sources", "harvest")
    assert setting.env_var.startswith("SOURCES__HARVEST__") and setting.env_var.endswith("ACCESS_TOKEN")
