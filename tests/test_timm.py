"""The timm entry point (nas.timm): an exported pick built through timm.create_model, checked against
`nas arch show --json`, trained for a few steps with timm's optimizer factory, and its refusals.

Skipped when timm is not installed (the `timm` extra); CI installs it. The export note is checked
without timm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from nas.config import ArchConfig
from nas.errors import ConfigError, UsageError
from nas.models.families import build_family
from nas.testing.cli import run_cli

TINY = {  # 64 px, 10 classes: a class-token ViT and a hybrid MobileViTv2 with MobileViT blocks
    "vit": ("vit", {"embed_dim": 32, "head_dim": 16, "depth": 2, "mlp_ratio": 2.0, "patch_size": 16}),
    "mobilevitv2": ("mobilevitv2", {"width_mult": 0.5, "depths": [1, 1, 1],
                                    "mixers": ["mobilevit", "separable", "separable"]}),
}


@pytest.fixture(scope="module")
def timm() -> Any:
    timm = pytest.importorskip("timm")
    import nas.timm  # noqa: F401  (registers nas_arch)

    return timm


def _export(tmp_path: Path, family: str, **changes: Any) -> Path:
    """A tiny config written as JSON, then exported through the real `nas export --format json`."""
    fam, choices = TINY[family]
    cfg = build_family(fam, choices, name=f"tiny-{family}", resolution=64, num_classes=10)
    if changes:
        cfg = cfg.replace(**changes)
    tmp_path.mkdir(parents=True, exist_ok=True)
    src = tmp_path / f"{family}-src.json"
    src.write_text(cfg.to_json())
    out = tmp_path / f"{family}.json"
    res = run_cli(["export", str(src), "--format", "json", "--out", str(out)])
    assert res.code == 0, res.stderr
    return out


def _arch_show(ref: str) -> dict[str, Any]:
    res = run_cli(["arch", "show", ref, "--json"])
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("family", list(TINY))
def test_create_model_matches_nas(timm: Any, tmp_path: Path, family: str) -> None:
    from nas.models.builder import Network, build_model
    from nas.timm import TimmNetwork

    path = _export(tmp_path, family)
    shown = _arch_show(str(path))
    model = timm.create_model("nas_arch", config=str(path))
    assert isinstance(model, TimmNetwork) and isinstance(model, Network)
    assert sum(p.numel() for p in model.parameters()) == shown["params"]
    assert model.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    assert model.num_classes == 10
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (3, 64, 64) and cfg["num_classes"] == 10 and cfg["architecture"] == "nas_arch"
    assert len(cfg["mean"]) == 3 and len(cfg["std"]) == 3
    assert model.get_submodule(cfg["classifier"]) is model.get_classifier()
    assert model.get_submodule(cfg["first_conv"]).in_channels == 3
    # timm's data config for train.py comes from pretrained_cfg
    assert timm.data.resolve_data_config({}, model=model)["input_size"] == (3, 64, 64)
    # same block names as nas's builder: a checkpoint trained through timm loads into build_model
    reference = build_model(ArchConfig.load(path))
    assert reference.load_state_dict(model.state_dict()) is not None
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.forward_head(model.forward_features(x)), model(x))


def test_overrides_match_the_config_they_describe(timm: Any, tmp_path: Path) -> None:
    path = _export(tmp_path, "mobilevitv2")
    expected = _export(tmp_path / "ref", "mobilevitv2", num_classes=5, in_chans=1, resolution=128)
    model = timm.create_model("nas_arch", config=str(path), num_classes=5, in_chans=1, img_size=128)
    assert sum(p.numel() for p in model.parameters()) == _arch_show(str(expected))["params"]
    assert model.eval()(torch.randn(2, 1, 128, 128)).shape == (2, 5)
    assert model.pretrained_cfg["input_size"] == (1, 128, 128) and len(model.pretrained_cfg["mean"]) == 1
    features = timm.create_model("nas_arch", config=str(path), num_classes=0)
    assert features.eval()(torch.randn(2, 3, 64, 64)).shape == (2, features.num_features)


def test_same_weights_as_the_builder(timm: Any, tmp_path: Path) -> None:
    """Under one seed, timm's model is nas's build_model of the config it describes, tensor for tensor."""
    from nas.models.builder import build_model

    path = _export(tmp_path, "vit")
    torch.manual_seed(3)
    model = timm.create_model("nas_arch", config=str(path), num_classes=7)
    torch.manual_seed(3)
    reference = build_model(ArchConfig.load(path).replace(num_classes=7))
    ours, theirs = model.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_preset_name(timm: Any) -> None:
    model = timm.create_model("nas_arch", config="deit-tiny", num_classes=100)
    assert model.pretrained_cfg["input_size"] == (3, 224, 224) and model.pretrained_cfg["tag"] == "deit-tiny"
    shown = _arch_show("deit-tiny")
    old_head = 192 * 1000 + 1000
    assert sum(p.numel() for p in model.parameters()) == shown["params"] - old_head + 192 * 100 + 100
    # a distilled head (EfficientFormer) names both linears; num_classes=0 drops both; overlays are honoured
    model = timm.create_model("nas_arch", config="efficientformer-l1", num_classes=0,
                              pretrained_cfg_overlay={"crop_pct": 0.95})
    fc, fc_dist = (model.get_submodule(name) for name in model.pretrained_cfg["classifier"])
    assert isinstance(fc, torch.nn.Identity) and isinstance(fc_dist, torch.nn.Identity)
    assert model.pretrained_cfg["crop_pct"] == 0.95 and model.pretrained_cfg["num_classes"] == 0
    assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, model.num_features)


def test_train_steps(timm: Any, tmp_path: Path) -> None:
    """A few optimizer steps through timm's own optimizer factory on one batch: finite, falling loss."""
    from timm.optim import create_optimizer_v2

    torch.manual_seed(0)
    model = timm.create_model("nas_arch", config=str(_export(tmp_path, "vit")), drop_rate=0.0)
    opt = create_optimizer_v2(model, opt="adamw", lr=1e-3, weight_decay=0.05)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = torch.randn(8, 3, 64, 64), torch.randint(0, 10, (8,))
    model.train()
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert len(changed) == len(before)  # every parameter got a gradient and moved


@pytest.mark.parametrize("kwargs, phrase", [
    ({"config": "deit-tiny", "global_pool": "max"}, "does not take global_pool"),
    ({"config": "deit-tiny", "drop_path_rate": 0.1}, "drop_path_rate=0.1 is not supported"),
    ({"config": "deit-tiny", "drop_rate": 0.2}, "drop_rate=0.2 is not supported"),
    ({"config": "deit-tiny", "pretrained": True}, "no pretrained weights"),
    ({}, "needs config="),
    ({"config": "no-such-preset"}, "neither a config JSON file nor a preset"),
    ({"config": 3}, "config must be a config JSON path"),
    ({"config": "deit-tiny", "num_classes": -1}, "num_classes must be an int >= 0"),
    ({"config": "deit-tiny", "img_size": (224, 160)}, "img_size must be an int or a square"),
])
def test_refused_kwargs(timm: Any, kwargs: dict[str, Any], phrase: str) -> None:
    from nas.timm import TimmArgumentError

    with pytest.raises(TimmArgumentError, match=phrase) as info:
        timm.create_model("nas_arch", **kwargs)
    assert isinstance(info.value, UsageError) and isinstance(info.value, TypeError)
    assert "\n" not in str(info.value)


def test_bad_config_files(timm: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        timm.create_model("nas_arch", config=str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="not divisible"):
        timm.create_model("nas_arch", config="deit-tiny", img_size=100)


def test_registered(timm: Any) -> None:
    assert "nas_arch" in timm.list_models("nas_*")


def test_export_notes_the_timm_command(tmp_path: Path) -> None:
    """`nas export --format json` prints the train.py command for the file it wrote (and --json carries it)."""
    out = tmp_path / "pick.json"
    res = run_cli(["export", "mobilevit-xxs", "--format", "json", "--out", str(out)])
    assert res.code == 0, res.stderr
    line = res.stdout.strip().splitlines()[-1]
    assert f"--device-modules nas.timm --model nas_arch --model-kwargs config={out} --num-classes 1000" in line
    assert "nas[timm]" in line
    res = run_cli(["export", "mobilevit-xxs", "--format", "json", "--out", str(out), "--json"])
    assert any("--model nas_arch" in note for note in json.loads(res.stdout)["notes"])
