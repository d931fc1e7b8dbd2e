"""Adding a token mixer takes two small modules and nothing else: a layer file and a mixer module.

The test writes both into its temporary folder (a gated depthwise-conv token mixer, not part of nas),
imports the mixer module, and shows the new mixer sampled from a YAML space, planned into its own block
keys, priced from a latency table holding those keys, built and run, round-tripped through config JSON,
and passing the mixer contract every shipped mixer passes.
"""

from __future__ import annotations

import importlib
import sys
import textwrap

import optuna
import pytest
import torch

from nas.config import ArchConfig
from nas.errors import ConfigError
from nas.latency.predict import predict_latency
from nas.latency.table import MissingKeysError, load_table
from nas.mixers import MIXERS
from nas.models.builder import build_model
from nas.models.plan import plan
from nas.space import load_space
from nas.space_members import block_specs
from nas.testing import write_table
from nas.testing.contracts import check_mixer

LAYER = '''
"""A gated token mixer: half the channels gate a depthwise conv of the other half, on the token grid."""
import torch
from torch import nn


class GatedConv(nn.Module):
    def __init__(self, dim: int, *, grid: tuple[int, int], kernel_size: int = 3):
        super().__init__()
        self.grid = grid
        self.fc = nn.Linear(dim, 2 * dim)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, 1, kernel_size // 2, groups=dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        value, gate = self.fc(x).chunk(2, dim=-1)  # (B, N, C) each
        value = value.transpose(1, 2).reshape(b, c, self.grid[0], self.grid[1])  # (B, C, H, W)
        value = self.dwconv(value).flatten(2).transpose(1, 2)  # (B, N, C)
        return self.proj(value * torch.sigmoid(gate))
'''

MIXER = '''
"""The ``gated`` mixer: GatedConv token mixing (a plug-in written by a test)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nas.mixers import TokenMixer, register_mixer
from nas.mixers.base import check_odd


@register_mixer
@dataclass(frozen=True)
class GatedMixer(TokenMixer):
    kind: str = "gated"
    kernel_size: int = 3

    def validate(self, stage: Any, size: int, where: str) -> None:
        check_odd(self.kernel_size, f"{where}.kernel_size")

    @staticmethod
    def build(spec: Any) -> Any:
        from gated_layer import GatedConv

        return GatedConv(spec.kwargs["dim"], grid=spec.kwargs["grid"], kernel_size=spec.kwargs["kernel_size"])
'''

SPACE = """
name: gated-litv2
resolution: 64
num_classes: 10
families:
  litv2:
    embed_dim: [32]
    depths: {per_stage: [[1], [1], [1], [1]]}
    mixers: {per_stage: [[identity, gated], [hilo, gated]]}
    head_dim: 16
    alpha: 0.5
    window: 2
"""


@pytest.fixture
def gated(tmp_path, monkeypatch):
    """The two plug-in modules, written and imported; unregistered and forgotten afterwards."""
    (tmp_path / "gated_layer.py").write_text(textwrap.dedent(LAYER))
    (tmp_path / "gated_mixer.py").write_text(textwrap.dedent(MIXER))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("gated_mixer")
    yield module.GatedMixer
    MIXERS.unregister("gated")
    for name in ("gated_mixer", "gated_layer"):
        sys.modules.pop(name, None)


def test_a_new_mixer_is_sampled_planned_priced_and_built(gated, tmp_path):
    (tmp_path / "gated.yaml").write_text(SPACE)
    space = load_space(tmp_path / "gated.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sampled = [space.sample(study.ask()) for _ in range(12)]
    with_gated = [c for c in sampled if any(isinstance(st.mixer, gated) for st in c.stages)]
    assert with_gated, "the sampler never picked the new mixer"
    cfg = with_gated[0]

    keys = [s.key for s in plan(cfg) if s.kind == "gated"]
    assert keys and all(k.startswith("gated|") and "kernel_size=3" in k for k in keys)

    tables = tmp_path / "tables"
    write_table(block_specs(space), tables, device="gated-dev")
    table = load_table("gated-dev", tables)
    pred = predict_latency(cfg, table)
    gated_ms = [ms for key, kind, ms in pred.per_block if kind == "gated"]
    assert len(gated_ms) == len(keys) and all(ms > 0 for ms in gated_ms)
    write_table(block_specs(space), tables, device="no-gated", skip=keys)
    with pytest.raises(MissingKeysError):  # a table without the new keys never prices them as zero
        predict_latency(cfg, load_table("no-gated", tables))

    model = build_model(cfg).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    assert ArchConfig.from_json(cfg.to_json()) == cfg


def test_a_new_mixer_passes_the_mixer_contract(gated):
    check_mixer("gated", coreml=False)  # the Core ML conversion is proved for the shipped mixers


def test_a_new_mixer_validates_its_own_fields(gated, tmp_path):
    (tmp_path / "gated.yaml").write_text(SPACE)
    space = load_space(tmp_path / "gated.yaml")
    params = next(p for p in space.enumerate() if p["litv2.mixers.0"] == "gated")
    data = space.config_from_params(params).to_dict()
    data["stages"][0]["mixer"]["kernel_size"] = 4
    with pytest.raises(ConfigError, match=r"stages\[0\]\.mixer\.kernel_size': must be odd, got 4"):
        ArchConfig.from_dict(data)
