"""`nas proxy` through click's runner, reading its --json output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_proxy_train import TINY

from nas.cli import cli
from nas.proxy import DataError


@pytest.fixture()
def tiny_json(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return str(path)


def test_proxy_train_json_on_digits_default(tiny_json):
    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--proxy", "train", "--steps", "3", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["proxy"] == "train" and out["name"] == "tiny" and out["ok"] is True and out["reason"] == ""
    assert 0 <= out["score"] <= 1 and out["final_loss"] > 0 and out["seconds"] > 0
    assert out["data"] == "digits" and out["details"]["steps"] == 3


def test_proxy_preset_zero_cost_json():
    res = CliRunner().invoke(cli, ["proxy", "mobilevit-xxs", "--proxy", "naswot", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["proxy"] == "naswot" and out["final_loss"] is None and out["score"] > 0


def test_proxy_epochs_sets_the_budget(tiny_json):
    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--proxy", "train", "--epochs", "0.05", "--json"],
                             catch_exceptions=False)
    assert json.loads(res.stdout)["details"]["steps"] == 2  # ceil(0.05 * 1438 / 64)


def test_proxy_bad_inputs_raise_usage_errors(tmp_path, tiny_json):
    from nas.errors import UnknownNameError, UsageError

    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--data", f"folder:{tmp_path / 'nope'}"])
    assert isinstance(res.exception, DataError) and "no such folder" in str(res.exception)
    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--proxy", "magic"])
    assert isinstance(res.exception, UnknownNameError)
    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--proxy", "zico", "--epochs", "1"])
    assert isinstance(res.exception, UsageError)
