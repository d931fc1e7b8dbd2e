"""The help of `nas search` and `nas proxy` names every proxy and sampler and the defaults the code uses
(the help strings are written out so `--help` does not import torch; this keeps them true)."""

from __future__ import annotations

import re

import pytest
from cli_cases import run_cli

from nas.proxy import DEFAULT_PROXY, PROXIES
from nas.search import DEFAULT_SAMPLER
from nas.search.samplers import SAMPLERS


def _option_help(command: str, option: str) -> str:
    result = run_cli([command, "--help"])
    assert result.code == 0, result.stderr
    text = " ".join(result.stdout.split())
    match = re.search(rf"{option} \S+ (.*?)(?= --[a-z]|$)", text)
    assert match, text
    return match.group(1)


@pytest.mark.parametrize("command", ["search", "proxy"])
def test_proxy_help_names_every_proxy_and_the_default(command: str) -> None:
    text = _option_help(command, "--proxy")
    assert sorted(re.findall(r"[a-z][a-z0-9+]*", text.split(":", 1)[1].split("[")[0])) == sorted(PROXIES.names())
    assert f"[default: {DEFAULT_PROXY}" in text


def test_sampler_help_names_every_sampler_and_the_default() -> None:
    text = _option_help("search", "--sampler")
    assert set(re.findall(r"[a-z0-9]+", text.split("[")[0])) - {"or"} == set(SAMPLERS.names())
    assert f"[default: {DEFAULT_SAMPLER}]" in text
