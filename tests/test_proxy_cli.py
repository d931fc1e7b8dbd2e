"""`nas proxy` through click's runner, reading its --json output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_proxy_train import TINY

from nas.cli import cli
from nas.proxy import DataError, get_proxy


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


def test_proxy_without_options_is_the_default_signal(tiny_json):
    """`nas proxy ARCH` = DEFAULT_PROXY with its own defaults on DEFAULT_DATA: what `nas search` uses."""
    from nas.proxy import DEFAULT_DATA, DEFAULT_PROXY, PROXIES

    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--train-device", "cpu", "--json"], catch_exceptions=False)
    out = json.loads(res.stdout)
    assert res.exit_code == 0 and out["proxy"] == DEFAULT_PROXY and out["data"] == DEFAULT_DATA
    assert out["options"] == PROXIES[DEFAULT_PROXY].defaults()
    assert out["metric"] == PROXIES[DEFAULT_PROXY].metric and out["kind"] == PROXIES[DEFAULT_PROXY].kind
    assert out["details"]["device"] == "cpu" and out["cpu_seconds"] > 0
    if PROXIES[DEFAULT_PROXY].trains:
        assert [r["steps"] for r in out["details"]["rungs"]] == get_proxy(DEFAULT_PROXY).rungs


def test_proxy_opt_reaches_the_proxy(tiny_json):
    res = CliRunner().invoke(cli, ["proxy", tiny_json, "--proxy", "sotl", "--proxy-opt", "steps=3",
                                   "--proxy-opt", "window=1", "--json"], catch_exceptions=False)
    out = json.loads(res.stdout)
    assert out["options"]["steps"] == 3 and out["options"]["window"] == 1.0 and out["kind"] == "loss-based score"
