"""What `retention ui | webserver | daemon` hand to the Dagster processes they start."""

from __future__ import annotations

import os

import pytest

from retention_pipeline.cli import _dagster_environment
from retention_pipeline.settings import load_settings


@pytest.fixture
def own_environment():
    """The function under test writes os.environ for the processes it starts: put it back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_a_config_file_reaches_the_code_server(tmp_path, monkeypatch, own_environment):
    # The code server builds its settings itself: a setting that only the --config file holds
    # (no flag, no env var of the user's) must reach it too.
    for name in [n for n in os.environ if n.startswith("RETENTION_")] + ["DAGSTER_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "shop.toml"
    config.write_text(
        "[retention]\n"
        f'landing = "{tmp_path / "landing"}"\n'
        f'warehouse = "{tmp_path / "w.duckdb"}"\n'
        f'exports = "{tmp_path / "exports"}"\n'
        f'dagster_home = "{tmp_path / "home"}"\n'
        'reporting_tz = "Asia/Tokyo"\n'
        "min_order_value = 7.5\n"
    )
    (tmp_path / "landing").mkdir()

    workspace = _dagster_environment(load_settings(config=config), config)

    assert workspace.name == "workspace.yaml"
    assert os.environ["RETENTION_CONFIG"] == str(config.resolve())
    in_the_code_server = load_settings()
    assert in_the_code_server.min_order_value == 7.5
    assert in_the_code_server.reporting_tz == "Asia/Tokyo"
    assert os.environ["DAGSTER_HOME"] == str((tmp_path / "home").resolve())
