"""Resumable, multi-fidelity training: rungs, advance, save/resume, refusals, devices."""

from __future__ import annotations

import math
import re

import pytest
import torch
from test_proxy_train import TINY

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.proxy import (
    DeviceError,
    SotlProxy,
    StateError,
    StateMismatchError,
    TrainProxy,
    get_proxy,
    load_dataset,
    resolve_train_device,
)


@pytest.fixture(scope="module")
def tiny() -> ArchConfig:
    return ArchConfig.from_dict(TINY)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").subset(max_train=256, max_val=100)  # 8 steps of 32 per epoch


def weights(session) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in session.model.state_dict().items() if "running" not in k}


def test_rungs_ascend_to_the_budget_by_eta():
    assert TrainProxy(steps=40).rungs == [14, 40]
    assert TrainProxy(steps=120, eta=3, min_steps=10).rungs == [14, 40, 120]
    assert TrainProxy(steps=100, eta=2, min_steps=20).rungs == [25, 50, 100]
    assert TrainProxy(steps=5, min_steps=10).rungs == [5]


def test_resumed_training_equals_uninterrupted_training(tiny, digits, tmp_path):
    """0 -> 5 (scored), saved, resumed in a fresh session -> 12 equals 0 -> 12, across an epoch's reshuffle."""
    proxy = TrainProxy(steps=12, batch_size=32)
    first = proxy.open(tiny, digits, seed=3)
    early = first.advance(5)
    assert early.ok and early.details["steps"] == 5 and early.details["budget_steps"] == 12
    state = first.save(tmp_path / "s.pt")

    resumed = TrainProxy(steps=12, batch_size=32).open(tiny, digits, seed=3, state=state)
    assert resumed.steps_done == 5 and resumed.losses == first.losses
    late = resumed.advance(12)
    straight_session = proxy.open(tiny, digits, seed=3)
    straight = straight_session.advance(12)
    assert late.ok and late.details["steps"] == 12
    assert (late.score, late.final_loss) == (straight.score, straight.final_loss)
    assert resumed.losses == straight_session.losses
    a, b = weights(resumed), weights(straight_session)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert late.cpu_seconds > early.cpu_seconds  # cost counts the part done before the save


def test_scoring_midway_does_not_change_the_run(tiny, digits):
    proxy = TrainProxy(steps=10, batch_size=32)
    stepped = proxy.open(tiny, digits, seed=0)
    scores = [stepped.advance(s).score for s in (2, 6, 10)]
    straight = proxy.open(tiny, digits, seed=0).advance(10)
    assert scores[-1] == straight.score and stepped.final_loss() == straight.final_loss


def test_evaluate_reports_every_rung(tiny, digits):
    proxy = TrainProxy(steps=12, batch_size=32, eta=2, min_steps=3)
    result = proxy.evaluate(tiny, digits, seed=0)
    rungs = result.details["rungs"]
    assert [r["steps"] for r in rungs] == proxy.rungs == [3, 6, 12]
    session = proxy.open(tiny, digits, seed=0)
    assert [r["score"] for r in rungs] == [session.advance(s).score for s in proxy.rungs]
    assert rungs[-1]["score"] == result.score and rungs[0]["cpu_seconds"] < rungs[-1]["cpu_seconds"]


def test_sotl_scores_the_last_losses(tiny, digits):
    proxy = SotlProxy(steps=8, batch_size=32, window=0.25)
    session = proxy.open(tiny, digits, seed=0)
    result = session.advance(8)
    assert result.kind == "loss-based score"
    assert result.score == pytest.approx(-sum(session.losses[-2:]) / 2)
    trained = TrainProxy(steps=8, batch_size=32).open(tiny, digits, seed=0)
    trained.advance(8)
    assert trained.losses == session.losses  # same training, another reading of it


@pytest.mark.parametrize(("change", "phrase"), [
    ({"seed": 1}, "was saved with seed 0, not 1"),
    ({"options": {"steps": 13}}, "with options steps=12, not steps=13"),
    ({"options": {"lr": 1e-3}}, "with options lr=0.002, not lr=0.001"),
    ({"cfg": "wider"}, "for another network (saved as 'tiny')"),
    ({"data": 128}, "for dataset digits (256 training images), not digits (128)"),
])
def test_a_state_of_another_run_is_refused(tiny, digits, tmp_path, change, phrase):
    proxy = TrainProxy(steps=12, batch_size=32)
    session = proxy.open(tiny, digits, seed=0)
    session.advance(1)
    state = session.save(tmp_path / "s.pt")
    cfg = tiny
    if change.get("cfg"):
        cfg = ArchConfig.from_dict({**TINY, "stages": [{**TINY["stages"][0], "channels": 24}, TINY["stages"][1]]})
    data = digits.subset(max_train=change["data"]) if change.get("data") else digits
    other = TrainProxy(**{"steps": 12, "batch_size": 32, **change.get("options", {})})
    with pytest.raises(StateMismatchError, match=re.escape(phrase)):
        other.open(cfg, data, seed=change.get("seed", 0), state=state)


def test_options_that_do_not_change_training_may_differ_on_resume(tiny, digits, tmp_path):
    session = TrainProxy(steps=12, batch_size=32).open(tiny, digits, seed=0)
    session.advance(2)
    state = session.save(tmp_path / "s.pt")
    resumed = TrainProxy(steps=12, batch_size=32, eta=2, threads=2, eval_batch=50).open(
        tiny, digits, seed=0, state=state)
    assert resumed.steps_done == 2


def test_unreadable_states_and_backward_advances_are_refused(tiny, digits, tmp_path):
    proxy = TrainProxy(steps=4, batch_size=32)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state")
    with pytest.raises(StateError, match="unreadable"):
        proxy.open(tiny, digits, seed=0, state=bad)
    with pytest.raises(StateError, match="no such file"):
        proxy.open(tiny, digits, seed=0, state=tmp_path / "missing.pt")
    session = proxy.open(tiny, digits, seed=0)
    session.advance(2)
    for steps in (1, 5, 2.5):
        with pytest.raises(UsageError, match="advance to"):
            session.advance(steps)


def test_a_failed_run_stays_failed_after_resume(tiny, digits, tmp_path):
    proxy = TrainProxy(steps=30, batch_size=32, lr=1e12, weight_decay=0.0)
    session = proxy.open(tiny, digits, seed=0)
    result = session.advance(30)
    assert not result.ok and "non-finite" in result.reason
    resumed = proxy.open(tiny, digits, seed=0, state=session.save(tmp_path / "s.pt"))
    again = resumed.advance(30)
    assert not again.ok and again.reason == result.reason


def test_cpu_device_and_refusals():
    assert resolve_train_device("cpu") == torch.device("cpu")
    auto = resolve_train_device("auto")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert auto.type == expected
    with pytest.raises(DeviceError, match="unknown train device 'tpu'; known: auto, cpu, cuda, mps"):
        resolve_train_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="'cuda' is not available here; available: .*cpu"):
            resolve_train_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(DeviceError, match="'mps' is not available here"):
            resolve_train_device("mps")


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_accelerator_training_runs_there(tiny, digits, name):
    available = torch.cuda.is_available() if name == "cuda" else torch.backends.mps.is_available()
    if not available:
        pytest.skip(f"no {name} device here")
    session = TrainProxy(steps=4, batch_size=32).open(tiny, digits, seed=0, device=name)
    assert session.train_x.device.type == name  # the split went to the device once
    result = session.advance(4)
    assert result.ok and result.details["device"].startswith(name) and 0 <= result.score <= 1


def test_training_free_proxies_score_on_the_cpu_and_refuse_absent_devices(tiny, digits):
    assert get_proxy("naswot", batch_size=16).evaluate(tiny, digits, device="cpu").details["device"] == "cpu"
    with pytest.raises(DeviceError):
        get_proxy("naswot").evaluate(tiny, digits, device="tpu")


def test_state_files_stay_small(tiny, digits, tmp_path):
    """Weights + AdamW moments + data order: about 3 x 4 bytes per parameter, nothing else of size."""
    session = TrainProxy(steps=4, batch_size=32).open(tiny, digits, seed=0)
    session.advance(1)
    size = session.save(tmp_path / "s.pt").stat().st_size
    assert size < 3 * 4 * session.params + 64_000 and math.isfinite(size)
