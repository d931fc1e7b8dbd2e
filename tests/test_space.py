"""Search space: Optuna-only sampling, params replay, presets as points, YAML errors."""

from __future__ import annotations

import optuna
import pytest

from nas.errors import SpaceError, UnknownNameError
from nas.models.presets import PRESETS
from nas.space import list_spaces, load_space


def test_default_space_is_shipped(default_space):
    assert "hybrid-vit" in list_spaces()
    assert default_space.resolution == 224
    assert set(default_space.families) == {"vit", "mobilevit", "mobilevitv2", "efficientformer", "litv2"}


def test_stored_params_replay_to_the_same_config(default_space, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s", sampler=optuna.samplers.RandomSampler(seed=3))
    sampled = {}
    for _ in range(25):
        trial = study.ask()
        sampled[trial.number] = default_space.sample(trial)
        study.tell(trial, 0.0)
    reloaded = optuna.load_study(study_name="s", storage=storage)
    for frozen in reloaded.trials:
        assert default_space.config_from_params(frozen.params) == sampled[frozen.number]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_point_of_the_default_space(default_space, name):
    cfg = default_space.config_from_params(default_space.preset_params(name))
    ref = PRESETS[name].config.replace(resolution=default_space.resolution)
    assert (cfg.stem, cfg.stages, cfg.head) == (ref.stem, ref.stages, ref.head)


def test_enumerate_matches_size():
    space = load_space("hybrid-vit")
    assert sum(1 for _ in space.enumerate("litv2")) == 2 * 3 * 2 * 2 * 3 * 4 * 2
    assert space.size() == sum(1 for _ in space.enumerate())


def test_unknown_space_lists_known():
    with pytest.raises(UnknownNameError, match="hybrid-vit"):
        load_space("no-such-space")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("families: [1, 2", "not valid YAML"),
        ("families:\n  vit:\n    colour: [red]\n", "families.vit.colour"),
        ("families:\n  resnet: {}\n", "families.resnet"),
        ("families:\n  vit:\n    embed_dim: [192]\n    act: [gelu, mish]\n", "families.vit.act"),
        ("resolution: -3\nfamilies:\n  vit: {embed_dim: 192}\n", "resolution"),
        ("families:\n  mobilevit:\n    size: xxs\n    depths: [1, 2]\n", "families.mobilevit.depths"),
        ("families:\n  litv2:\n    depths: {per_stage: [[2], [2]]}\n", "needs 4 stages"),
        ("famlies: {}\n", "famlies"),
    ],
)
def test_malformed_yaml_names_file_key_and_problem(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpaceError) as exc:
        load_space(path)
    msg = str(exc.value)
    assert "bad.yaml" in msg and expected in msg and "\n" not in msg


def test_custom_space_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nresolution: 64\nfamilies:\n  vit:\n    embed_dim: [64, 128]\n    head_dim: 32\n"
                    "    depth: [2]\n    patch_size: 16\n")
    space = load_space(path)
    assert space.size() == 2
    cfgs = {space.config_from_params(p).stages[0].channels for p in space.enumerate()}
    assert cfgs == {64, 128}
