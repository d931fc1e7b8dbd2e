"""ArchConfig: exact JSON round trip and one-line validation errors naming the field."""

from __future__ import annotations

import json

import pytest

from nas.config import ArchConfig
from nas.errors import ConfigError
from nas.models.presets import get_preset, list_presets


@pytest.mark.parametrize("name", list_presets())
def test_json_round_trip_is_exact(name):
    cfg = get_preset(name)
    text = cfg.to_json()
    back = ArchConfig.from_json(text)
    assert back == cfg
    assert back.to_json() == text


def test_round_trip_of_sampled_configs(default_space):
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        cfg = default_space.sample(study.ask())
        assert ArchConfig.from_json(cfg.to_json()) == cfg


def _deit_dict():
    return json.loads(get_preset("deit-tiny").to_json())


def _error(data) -> str:
    with pytest.raises(ConfigError) as exc:
        ArchConfig.from_dict(data)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_unknown_mixer_names_field_and_accepted_values():
    d = _deit_dict()
    d["stages"][0]["mixer"]["kind"] = "lstm"
    msg = _error(d)
    assert "stages[0].mixer.kind" in msg and "lstm" in msg and "hilo" in msg and "mhsa" in msg


def test_channels_not_divisible_by_heads():
    d = _deit_dict()
    d["stages"][0]["mixer"]["num_heads"] = 5
    msg = _error(d)
    assert "stages[0].mixer.num_heads" in msg and "192" in msg


def test_resolution_not_divisible_by_total_stride():
    d = json.loads(get_preset("efficientformer-l1").to_json())
    d["resolution"] = 100
    msg = _error(d)
    assert "resolution" in msg and "32" in msg


def test_missing_field():
    d = _deit_dict()
    del d["stages"][0]["channels"]
    assert "stages[0].channels" in _error(d) and "missing" in _error(d)


def test_unknown_field_and_wrong_type():
    d = _deit_dict()
    d["stages"][0]["colour"] = "red"
    assert "stages[0].colour" in _error(d)
    d = _deit_dict()
    d["stages"][0]["depth"] = "twelve"
    assert "stages[0].depth" in _error(d) and "int" in _error(d)


def test_unknown_activation_lists_accepted():
    d = _deit_dict()
    d["stages"][0]["act"] = "mish"
    msg = _error(d)
    assert "gelu" in msg and "hardswish" in msg


def test_load_reads_exported_file_with_arch_key(tmp_path):
    cfg = get_preset("mobilevitv2-0.5")
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"arch": cfg.to_dict(), "latency_ms": 1.0}))
    assert ArchConfig.load(path) == cfg


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json"):
        ArchConfig.load(bad)
    with pytest.raises(ConfigError, match="no such file"):
        ArchConfig.load(tmp_path / "missing.json")


def test_arch_id_is_what_builds_the_network():
    from nas.config import arch_id

    cfg = get_preset("deit-tiny")
    renamed = cfg.replace(name="other", notes="a note", choices={"family": "vit", "x": 1})
    assert arch_id(renamed) == arch_id(cfg) and len(arch_id(cfg)) == 16
    assert arch_id(cfg.replace(resolution=160)) != arch_id(cfg)
    assert arch_id(cfg.replace(num_classes=10)) != arch_id(cfg)
    assert arch_id(get_preset("deit-small")) != arch_id(cfg)


def test_summarize_is_one_line_per_config():
    from nas.config import summarize

    assert summarize(get_preset("deit-tiny")) == "vit: patch16@192 | 12 mhsa/3h@192 | 224px"
    line = summarize(get_preset("efficientformer-l1"))
    assert line.startswith("efficientformer: conv@48 | 3 pool@48 > ") and line.endswith("1 mhsa/8h@448 | 224px")
