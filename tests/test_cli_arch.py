"""CLI: presets, spaces, space show, arch show (read through --json) and their bad inputs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nas.cli import cli, main
from nas.models.presets import get_preset


def _json(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_arch_show_json_fields():
    data = _json(["arch", "show", "deit-tiny", "--json"])
    assert {"name", "params", "macs", "resolution", "config"} <= set(data)
    assert isinstance(data["params"], int) and isinstance(data["macs"], int)
    assert data["params"] == 5_717_416
    assert abs(data["macs"] / 1e9 - 1.26) < 0.02
    assert data["resolution"] == 224
    assert sum(s["params"] for s in data["stages"]) == data["params"]


def test_arch_show_accepts_config_file_and_resolution(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(get_preset("mobilevitv2-0.5").to_json())
    data = _json(["arch", "show", str(path), "--json", "--resolution", "64"])
    assert data["resolution"] == 64 and data["name"] == "mobilevitv2-0.5"


def test_presets_and_spaces_json():
    names = [p["name"] for p in _json(["presets", "--json"])["presets"]]
    assert "litv2-s" in names and len(names) == 16
    spaces = _json(["spaces", "--json"])["spaces"]
    assert spaces[0]["name"] == "hybrid-vit" and spaces[0]["size"] > 1000
    show = _json(["space", "show", "hybrid-vit", "--json"])
    assert "litv2" in show["families"] and len(show["presets"]) == 16


def _run_main(args, capsys):
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    captured = capsys.readouterr()
    return code, captured.err.strip()


def test_unknown_preset_is_one_line_exit_2(capsys):
    code, err = _run_main(["arch", "show", "deit-huge"], capsys)
    assert code == 2 and "\n" not in err and "deit-tiny" in err and "Traceback" not in err


def test_unknown_space_is_one_line_exit_2(capsys):
    code, err = _run_main(["space", "show", "nope"], capsys)
    assert code == 2 and "hybrid-vit" in err and "\n" not in err


def test_bad_config_json_is_one_line_exit_2(tmp_path, capsys):
    data = json.loads(get_preset("deit-tiny").to_json())
    data["stages"][0]["mixer"]["kind"] = "conv3d"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    code, err = _run_main(["arch", "show", str(path)], capsys)
    assert code == 2 and "stages[0].mixer.kind" in err and "bad.json" in err and "\n" not in err


def test_bad_resolution_is_one_line_exit_2(capsys):
    code, err = _run_main(["arch", "show", "litv2-s", "--resolution", "100"], capsys)
    assert code == 2 and "resolution" in err and "\n" not in err
