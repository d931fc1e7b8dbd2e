"""Bad input to `nas proxy` (and the proxy options of `nas search`): one line, the right exit code."""

from __future__ import annotations

import pytest
import torch

from nas.testing.cli import assert_one_line_error, run_cli

ARCH = "mobilevit-xxs"
TRAIN = ["proxy", ARCH, "--proxy", "train"]
SEARCH = ["search", "--device", "iphone12", "--budget", "5ms"]

CASES = [
    ([*TRAIN, "--epochs", "-1"], 2, "--epochs must be > 0, got -1"),
    ([*TRAIN, "--epochs", "0"], 2, "--epochs must be > 0"),
    ([*TRAIN, "--epochs", "1", "--steps", "3"], 2, "give --epochs or --steps, not both"),
    ([*TRAIN, "--resolution", "0"], 2, "option resolution must be > 0, got 0"),
    ([*TRAIN, "--steps", "-3"], 2, "option steps must be > 0, got -3"),
    ([*TRAIN, "--steps", "0"], 2, "option steps must be > 0"),
    ([*TRAIN, "--steps", "abc"], 2, "'abc' is not a valid integer"),
    ([*TRAIN, "--proxy-opt", "nosuch=1"], 2, "has no option nosuch; accepted: resolution, threads, steps"),
    ([*TRAIN, "--proxy-opt", "steps=abc"], 2, "option steps must be an integer, got 'abc'"),
    ([*TRAIN, "--proxy-opt", "steps=2.5"], 2, "option steps must be an integer, got 2.5"),
    ([*TRAIN, "--proxy-opt", "steps=true"], 2, "option steps must be an integer"),
    (["proxy", ARCH, "--proxy-opt", "steps"], 2, "is not KEY=VALUE"),
    ([*TRAIN, "--proxy-opt", "lr=-1"], 2, "option lr must be > 0"),
    ([*TRAIN, "--proxy-opt", "label_smoothing=1.5"], 2, "option label_smoothing must be <= 0.99"),
    (["proxy", ARCH, "--proxy", "sotl", "--proxy-opt", "window=0"], 2, "option window must be > 0"),
    (["proxy", ARCH, "--proxy", "zico", "--proxy-opt", "num_batches=1"], 2, "option num_batches must be >= 2"),
    (["proxy", ARCH, "--proxy", "naswot", "--steps", "3"], 2, "apply to training proxies, not 'naswot'"),
    (["proxy", ARCH, "--proxy", "magic"], 2, "unknown proxy 'magic'; known:"),
    (["proxy", ARCH, "--train-device", "tpu"], 2, "unknown train device 'tpu'; known: auto, cpu, cuda, mps"),
    (["proxy", ARCH, "--data", "folder:/no/such/folder"], 2, "no such folder"),
    (["proxy", ARCH, "--data", "cifar10"], 2, "needs a folder"),
    (["proxy", ARCH, "--data", "imagenet:/x"], 2, "unknown dataset kind 'imagenet'"),
    (["proxy", ARCH, "--steps", "3"], 2, "apply to training proxies, not 'naswot+params'"),
    (["proxy", ARCH, "--proxy-opt", "steps=3"], 2, "proxy 'naswot+params' has no option steps; accepted:"),
    (["proxy", ARCH, "--proxy-opt", "weight=-1"], 2, "option weight must be >= 0, got -1"),
    ([*SEARCH, "--proxy-opt", "nosuch=1"], 2, "has no option nosuch; accepted:"),
    ([*SEARCH, "--proxy", "train", "--proxy-opt", "steps=-3"], 2, "option steps must be > 0, got -3"),
    ([*SEARCH, "--proxy", "train", "--proxy-opt", "steps=abc"], 2, "option steps must be an integer"),
]
if not torch.cuda.is_available():
    CASES.append((["proxy", ARCH, "--train-device", "cuda"], 2, "'cuda' is not available here; available: cpu"))
if not torch.backends.mps.is_available():
    CASES.append((["proxy", ARCH, "--train-device", "mps"], 2, "'mps' is not available here"))


@pytest.mark.parametrize(("argv", "code", "phrase"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_line(argv: list[str], code: int, phrase: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # a search that got this far would write runs/ here
    assert_one_line_error(run_cli(argv), code, phrase)
    assert not (tmp_path / "runs").exists()  # refused before any run folder was made
