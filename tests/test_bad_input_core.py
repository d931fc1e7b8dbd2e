"""Bad configs and space YAML files through the real CLI: one line that names the key, the right exit code.

The files are written into a temporary folder; ``{dir}`` in a case's argv is that folder. Values are
shown as the YAML/JSON reader wrote them (true, null, "text"), never as Python prints them.
"""

from __future__ import annotations

import json

import pytest

from nas.models.presets import get_preset
from nas.testing.cli import assert_one_line_error, run_cli

VIT = "families:\n  vit:\n    embed_dim: [192]\n"
SPACES = {
    "depth-true.yaml": VIT + "    depth: [true]\n",
    "depth-float.yaml": VIT + "    depth: [6, 9.5]\n",
    "embed-float.yaml": "families:\n  vit:\n    embed_dim: [192.0]\n",
    "no-embed-dim.yaml": "families:\n  vit:\n    depth: [6, 9]\n",
    "resolution-225.yaml": "resolution: 225\n" + VIT,
    "resolution-text.yaml": "resolution: big\n" + VIT,
    "resolution-true.yaml": "resolution: true\n" + VIT,
    "null-value.yaml": "families:\n  vit:\n    embed_dim: [null]\n",
    "nested-list.yaml": "families:\n  vit:\n    embed_dim: [[192]]\n",
    "name-list.yaml": "name: [a, b]\n" + VIT,
    "size-number.yaml": "families:\n  mobilevit:\n    size: [xxs, 5]\n",
    "head-dim-zero.yaml": VIT + "    head_dim: [0]\n",
    "width-negative.yaml": "families:\n  mobilevitv2:\n    width_mult: [-1.0]\n",
    "unknown-mixer.yaml": "families:\n  litv2:\n    mixers: {per_stage: [[identity, lstm], [identity]]}\n",
}


def _config(**changes) -> dict:
    data = get_preset("deit-tiny").to_dict()
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return data


def _document(schema: object = 1, fmt: object = "nas-arch") -> dict:
    return {"format": fmt, "schema": schema, "arch": get_preset("deit-tiny").to_dict()}


CONFIGS = {
    "schema-99.json": _document(schema=99),
    "format-other.json": _document(fmt="onnx"),
    "depth-10000.json": _config(stages__0__depth=10_000),
    "stages-10000.json": {**_config(), "stages": [_config()["stages"][0] | {"depth": 1}] * 10_000},
    "channels-huge.json": _config(stem__channels=[100_000], stages__0__channels=100_000),
    "depth-text.json": _config(stages__0__depth="3"),
    "depth-true.json": _config(stages__0__depth=True),
    "heads-float.json": _config(stages__0__mixer__num_heads=3.5),
    "mixer-kind-list.json": _config(stages__0__mixer__kind=["mhsa"]),
    # issue 21: every size knob has a limit (ratios, heads, patch, resolution, attention size)
    "mlp-ratio-1e9.json": _config(stages__0__mlp_ratio=1e9),
    "heads-1000.json": _config(stages__0__mixer__num_heads=1000),
    "patch-size-2.json": _config(stem__patch_size=2, resolution=224),
    "resolution-huge.json": _config(resolution=100_000 * 16),
    "classes-huge.json": _config(num_classes=10**9),
}

CASES = [
    # space YAML: wrong types, blamed on the right key, shown as YAML
    (["space", "show", "{dir}/depth-true.yaml"], 2, "key 'families.vit.depth': expected an integer, got true"),
    (["space", "show", "{dir}/depth-float.yaml"], 2, "key 'families.vit.depth': expected an integer, got 9.5"),
    (["space", "show", "{dir}/embed-float.yaml"], 2, "key 'families.vit.embed_dim': expected an integer, got 192.0"),
    (["space", "show", "{dir}/no-embed-dim.yaml"], 2,
     "key 'families.vit': choice 'embed_dim' is missing (required: it has no default)"),
    (["space", "show", "{dir}/resolution-225.yaml"], 2, "key 'resolution': 225 does not fit family vit"),
    (["space", "show", "{dir}/resolution-text.yaml"], 2, "to search over, got \"big\""),
    (["space", "show", "{dir}/resolution-true.yaml"], 2, "to search over, got true"),
    (["space", "show", "{dir}/null-value.yaml"], 2, "values must be numbers or strings, got null"),
    (["space", "show", "{dir}/nested-list.yaml"], 2, "values must be numbers or strings, got [192]"),
    (["space", "show", "{dir}/name-list.yaml"], 2, "key 'name': must be a string, got [\"a\", \"b\"]"),
    (["space", "show", "{dir}/size-number.yaml"], 2, "key 'families.mobilevit.size': expected a string, got 5"),
    (["space", "show", "{dir}/head-dim-zero.yaml"], 2, "value 0 is invalid: field 'head_dim': must be > 0"),
    (["space", "show", "{dir}/width-negative.yaml"], 2, "field 'width_mult': must be > 0, got -1.0"),
    (["space", "show", "{dir}/unknown-mixer.yaml"], 2, "field 'mixers[0]': unknown value 'lstm'; accepted: "),
    (["search", "--device", "iphone12", "--budget", "5ms", "--space", "{dir}/depth-float.yaml", "--trials", "1",
      "--out", "{dir}/run"], 2, "key 'families.vit.depth': expected an integer, got 9.5"),
    # config JSON: schema, absurd sizes (refused before anything is built), wrong types
    (["arch", "show", "{dir}/schema-99.json"], 2, "schema 99 is not supported; this nas reads format \"nas-arch\""),
    (["arch", "show", "{dir}/format-other.json"], 2, "format \"onnx\", schema 1 is not supported"),
    (["arch", "show", "{dir}/depth-10000.json"], 2,
     "field 'stages[0].depth': 10000 layers up to this stage, above the limit of 128 per network "
     "(nas.config.MAX_LAYERS)"),
    (["arch", "show", "{dir}/stages-10000.json"], 2, "above the limit of 128 per network (nas.config.MAX_LAYERS)"),
    (["arch", "show", "{dir}/channels-huge.json"], 2, "100000 channels is above the limit of 8192"),
    (["latency", "predict", "{dir}/depth-10000.json", "--device", "iphone12"], 2, "nas.config.MAX_LAYERS"),
    (["arch", "show", "{dir}/depth-text.json"], 2, "field 'stages[0].depth': expected int, got \"3\""),
    (["arch", "show", "{dir}/depth-true.json"], 2, "field 'stages[0].depth': expected int, got true"),
    (["arch", "show", "{dir}/heads-float.json"], 2, "field 'stages[0].mixer.num_heads': expected int, got 3.5"),
    (["arch", "show", "{dir}/mixer-kind-list.json"], 2, "field 'stages[0].mixer.kind': unknown value"),
    (["latency", "measure", "{dir}/mlp-ratio-1e9.json"], 2,
     "field 'stages[0].mlp_ratio': 1e+09 is above the limit of 16 (nas.config.MAX_RATIO)"),
    (["arch", "show", "{dir}/heads-1000.json"], 2, "field 'stages[0].mixer.num_heads': 1000 is above the limit"),
    (["arch", "show", "{dir}/patch-size-2.json"], 2, "(nas.config.MAX_ATTENTION_ENTRIES)"),
    (["arch", "show", "{dir}/resolution-huge.json"], 2, "field 'resolution': 1.6e+06 is above the limit of 2048"),
    (["arch", "show", "{dir}/classes-huge.json"], 2, "field 'num_classes': 1e+09 is above the limit"),
    # a binary file given as a space
    (["tables", "fit", "--space", "{dir}/binary.yaml"], 2, "binary.yaml: not a text YAML file"),
    (["space", "show", "{dir}/control.yaml"], 2, "not valid YAML: unacceptable character #x0007"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-core")
    for name, text in SPACES.items():
        (root / name).write_text(text)
    for name, doc in CONFIGS.items():
        (root / name).write_text(json.dumps(doc))
    (root / "binary.yaml").write_bytes(bytes(range(256)))
    (root / "control.yaml").write_text("name: \x07\n")
    return root


@pytest.mark.parametrize(("argv", "code", "phrase"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_line(argv: list[str], code: int, phrase: str, folder) -> None:
    result = run_cli([a.replace("{dir}", str(folder)) for a in argv])
    assert_one_line_error(result, code, phrase)
    for python_text in ("True", "None", "'big'", "Traceback", "missing 1 required"):
        assert python_text not in result.stderr, result.stderr


def test_an_absurd_config_is_refused_before_anything_is_built(folder, monkeypatch):
    import nas.models.builder

    def build_model(*args, **kwargs):  # the refusal must come first: nothing is built
        raise AssertionError("build_model called for a refused config")

    monkeypatch.setattr(nas.models.builder, "build_model", build_model)
    assert_one_line_error(run_cli(["arch", "show", str(folder / "depth-10000.json")]), 2, "MAX_LAYERS")
