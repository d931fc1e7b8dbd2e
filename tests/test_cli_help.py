"""The help of `nas search` and `nas proxy` lists every registered proxy and sampler, the default first, and
the defaults the code uses: the help is read from the registries when shown, so nothing is kept in step by
hand (tests/test_plugins.py adds entries and sees them listed)."""

from __future__ import annotations

import re

import pytest

from nas.proxy import DEFAULT_PROXY, PROXIES
from nas.search import DEFAULT_SAMPLER
from nas.search.samplers import SAMPLERS
from nas.testing.cli import run_cli


def _option_help(command: str, option: str) -> str:
    result = run_cli([command, "--help"])
    assert result.code == 0, result.stderr
    text = " ".join(result.stdout.split())
    match = re.search(rf"{option} \S+ (.*?)(?= --[a-z]|$)", text)
    assert match, text
    return match.group(1)


def listed_names(text: str) -> list[str]:
    """The names an option's help lists: between its first ':' and the '[default: ...]'."""
    return [name.strip() for name in text.split(":", 1)[1].split("[")[0].split(",")]


def _default_first(names: list[str], default: str) -> list[str]:
    return [default, *(name for name in names if name != default)]


@pytest.mark.parametrize("command", ["search", "proxy"])
def test_proxy_help_names_every_proxy_and_the_default(command: str) -> None:
    text = _option_help(command, "--proxy")
    assert listed_names(text) == _default_first(PROXIES.names(), DEFAULT_PROXY)
    assert f"[default: {DEFAULT_PROXY}," in text


def test_search_proxy_help_names_the_proxies_with_rungs() -> None:
    text = _option_help("search", "--proxy")
    match = re.search(r"multi-fidelity rungs apply to (.*?)\]", text)
    assert match, text
    training = [name for name in PROXIES if PROXIES[name].trains]
    assert training and re.split(r", | and ", match.group(1)) == training


def test_sampler_help_names_every_sampler_and_the_default() -> None:
    text = _option_help("search", "--sampler")
    assert listed_names(text) == _default_first(SAMPLERS.names(), DEFAULT_SAMPLER)
    assert f"[default: {DEFAULT_SAMPLER}]" in text


@pytest.mark.parametrize(("option", "registry"), [("--proxy", PROXIES), ("--sampler", SAMPLERS)])
def test_shell_completion_offers_the_registered_names(option: str, registry) -> None:
    from nas.cli.search import search

    param = next(p for p in search.params if option in p.opts)
    assert [item.value for item in param.shell_complete(None, "")] == registry.names()
    first = registry.names()[0]
    assert first in [item.value for item in param.shell_complete(None, first[:2])]
