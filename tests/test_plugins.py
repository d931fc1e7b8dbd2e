"""A new proxy or sampler is one module: dropped into its plug-in package, with no other file edited,
`nas search --help` lists it and `nas search --proxy NAME --sampler NAME` searches with it.

The modules are written to a temporary folder that a fresh interpreter adds to the packages' ``__path__``
(so no test writes into the source tree); the registries find them the way they find the shipped ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_cli_help import listed_names

from nas.proxy import PROXIES
from nas.search.samplers import SAMPLERS, register_sampler
from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup

PROXY_MODULE = '''
"""A proxy in one file: the network's depth in blocks (a real, if weak, signal)."""

from __future__ import annotations

from nas.proxy.base import Proxy, Stopwatch
from nas.proxy.registry import register_proxy


@register_proxy
class DepthProxy(Proxy):
    name = "plugin-depth"
    metric = "blocks"
    kind = "count"
    runs_network = False

    def evaluate(self, cfg, data, *, seed=0, device=None):
        clock = Stopwatch()
        with clock.running():
            depth = sum(stage.depth for stage in cfg.stages)
        return self.result(cfg, float(depth), clock)
'''

SAMPLER_MODULE = '''
"""A sampler in one file."""

from __future__ import annotations

from nas.search.samplers import register_sampler


@register_sampler("plugin-random")
def plugin_random(*, seed):
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)
'''

# A fresh interpreter: the plug-in folders join their packages, then `nas` runs each argv in turn.
DRIVER = '''
import json, sys
import nas.proxy, nas.search.samplers
nas.proxy.__path__.append(sys.argv[1])
nas.search.samplers.__path__.append(sys.argv[2])
from nas.cli import main
for argv in json.loads(sys.argv[3]):
    try:
        main(argv)
    except SystemExit as exc:
        if exc.code:
            raise
'''


def _help_line(help_text: str, option: str) -> str:
    text = " ".join(help_text.split())
    return text.split(f"{option} TEXT ", 1)[1].split(" --", 1)[0]


@pytest.mark.slow  # a fresh interpreter (torch) and a two-trial search
def test_a_new_proxy_and_sampler_module_need_no_other_edit(tmp_path: Path) -> None:
    proxies, samplers = tmp_path / "proxies", tmp_path / "samplers"
    for folder, name, source in ((proxies, "depth.py", PROXY_MODULE), (samplers, "plain.py", SAMPLER_MODULE)):
        folder.mkdir()
        (folder / name).write_text(textwrap.dedent(source))
    (tmp_path / "tiny").mkdir()
    space, tables = write_tiny_setup(tmp_path / "tiny")
    out = tmp_path / "run"
    runs = [["search", "--help"],
            ["search", "--device", DEVICE, "--budget", "1000ms", "--tables", str(tables), "--space", str(space),
             "--trials", "2", "--proxy", "plugin-depth", "--sampler", "plugin-random", "--workers", "1",
             "--out", str(out), "--no-report", "--json"]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", DRIVER, str(proxies), str(samplers), json.dumps(runs)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    help_text, _, result = done.stdout.partition('\n{\n')
    assert "plugin-depth" in listed_names(_help_line(help_text, "--proxy"))
    assert "plugin-random" in listed_names(_help_line(help_text, "--sampler"))
    assert json.loads("{\n" + result)["metric"]["name"] == "blocks"
    meta = json.loads((out / "run.json").read_text())
    assert meta["proxy"] == "plugin-depth" and meta["sampler"] == "plugin-random"


def test_a_sampler_registered_at_run_time_is_listed_and_made(request) -> None:
    from nas.testing.cli import run_cli

    @register_sampler("runtime-random", static_genome=True)
    def runtime_random(*, seed: int):
        import optuna

        return optuna.samplers.RandomSampler(seed=seed)

    request.addfinalizer(lambda: SAMPLERS.unregister("runtime-random"))
    result = run_cli(["search", "--help"])
    assert "runtime-random" in listed_names(_help_line(result.stdout, "--sampler"))
    entry = SAMPLERS["runtime-random"]
    assert entry.static_genome and entry.factory is runtime_random
    assert type(entry(seed=0)).__name__ == "RandomSampler"


@pytest.mark.parametrize(("argv", "phrase"), [
    (["search", "--device", "d", "--budget", "1ms", "--proxy", "magic"], "unknown proxy 'magic'; known: "),
    (["search", "--device", "d", "--budget", "1ms", "--sampler", "cmaes"], "unknown sampler 'cmaes'; known: "),
])
def test_an_unknown_name_is_one_line_listing_the_registry(argv: list[str], phrase: str) -> None:
    """Exit 2 and one line naming every registered entry (the search itself checks the name)."""
    from nas.testing.cli import assert_one_line_error, run_cli

    registry = PROXIES if "--proxy" in argv else SAMPLERS
    result = run_cli(argv)
    assert_one_line_error(result, 2, phrase + ", ".join(sorted(registry.names())))
