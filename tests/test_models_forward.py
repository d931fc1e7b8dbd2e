"""Every preset and 200 seeded samples of the default space build and run forward (batch 1 and 2)."""

from __future__ import annotations

import optuna
import pytest
import torch

from nas.models.builder import build_model
from nas.models.plan import plan
from nas.models.presets import get_preset, list_presets

SMALL = 32  # divisible by every network's total stride; keeps the suite fast


def _forward_ok(cfg, resolution=SMALL):
    model = build_model(cfg, resolution=resolution, num_classes=10).eval()
    with torch.no_grad():
        for batch in (1, 2):
            out = model(torch.randn(batch, 3, resolution, resolution))
            assert out.shape == (batch, 10)
            assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_presets())
def test_presets_forward(name):
    _forward_ok(get_preset(name))


def test_presets_forward_at_deploy_resolution_shapes():
    # the plan's analytic shapes agree with what the modules produce
    cfg = get_preset("efficientformer-l1")
    model = build_model(cfg, resolution=64).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for spec, block in zip(model.specs, model):
            assert tuple(x.shape[1:]) == spec.in_shape
            x = block(x)
            assert tuple(x.shape[1:]) == spec.out_shape


@pytest.mark.slow  # 200 networks built and run
def test_200_seeded_samples_build_and_run(default_space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    families = set()
    for _ in range(200):
        trial = study.ask()
        cfg = default_space.sample(trial)
        families.add(cfg.choices["family"])
        _forward_ok(cfg)
        study.tell(trial, 0.0)
    assert families == set(default_space.families)


def test_any_resolution_divisible_by_total_stride():
    cfg = get_preset("mobilevitv2-0.5")
    for res in (64, 96, 160):
        assert plan(cfg, resolution=res)[-1].out_shape == (1000,)
        _forward_ok(cfg, resolution=res)
