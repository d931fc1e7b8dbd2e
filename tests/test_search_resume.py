"""A real `nas search` process stopped by SIGTERM, then killed by SIGKILL mid-training, then resumed:
no finished trial is lost or trained again, and the killed trial's candidate is run again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_search_support import DEVICE, write_tiny_setup

CLI = [sys.executable, "-c", "from nas.cli import main; main()"]


def _trials(out: Path) -> list:
    import optuna

    if not (out / "run.json").is_file():
        return []
    study = json.loads((out / "run.json").read_text())["study"]
    try:
        return optuna.load_study(study_name=study, storage=f"sqlite:///{out / 'study.db'}").get_trials()
    except Exception:  # noqa: BLE001 - the study is being created by the child process
        return []


def _wait(proc: subprocess.Popen, out: Path, ready, timeout_s: float = 90.0) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        trials = _trials(out)
        if ready(trials):
            return trials
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"timed out; stderr: {proc.communicate()[1][-2000:]}")


def _trained(trials: list) -> list:
    return [t for t in trials if t.state.name == "COMPLETE" and t.user_attrs.get("trained")]


def test_sigterm_sigkill_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    space, tables = write_tiny_setup(tmp_path)
    out = tmp_path / "run"
    args = [*CLI, "search", "--device", DEVICE, "--tables", str(tables), "--space", str(space), "--budget", "0.4ms",
            "--trials", "5", "--proxy", "train", "--proxy-opt", "steps=25", "--sampler", "random", "--seed", "3",
            "--no-report", "--out", str(out)]
    # 1. SIGTERM once two candidates are trained: the current trial finishes, then the process exits 143
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait(proc, out, lambda ts: len(_trained(ts)) >= 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    first = _trials(out)
    assert not [t for t in first if t.state.name == "RUNNING"] and 2 <= len(_trained(first)) < 5
    assert (out / "trials.csv").read_text().count("\n") == len(first) + 1  # the folder was kept current

    # 2. resume, then SIGKILL while a candidate trains: its trial is left RUNNING
    proc = subprocess.Popen([*args, "--resume"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n0 = len(first)
    _wait(proc, out, lambda ts: any(t.number >= n0 and t.state.name == "RUNNING" and t.user_attrs.get("feasible")
                                    for t in ts))
    proc.kill()
    proc.communicate(timeout=30)
    second = _trials(out)
    killed = [t for t in second if t.state.name == "RUNNING"]
    assert len(killed) == 1

    # 3. resume to the end: the dead worker's trial is failed and its candidate run again
    done = subprocess.run([*args, "--resume", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    final = {t.number: t for t in _trials(out)}
    for t in second:  # nothing finished is lost or changed
        if t.state.name == "COMPLETE":
            assert final[t.number].state.name == "COMPLETE" and final[t.number].values == t.values
    assert final[killed[0].number].state.name == "FAIL"
    assert "interrupted" in final[killed[0].number].user_attrs["reason"]
    retry = [t for t in final.values() if t.user_attrs.get("retry_of") == killed[0].number]
    assert len(retry) == 1 and retry[0].params == killed[0].params and retry[0].state.name == "COMPLETE"
    trained = _trained(final.values())
    assert len(trained) == 5 == json.loads(done.stdout)["trained"]
    assert len({t.user_attrs["arch"] for t in trained}) == 5  # no network trained twice
