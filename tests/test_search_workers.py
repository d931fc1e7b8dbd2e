"""Several worker processes on one study: claims happen once, promotions are never lost or doubled.

1. The storage under load: four processes queue and claim trials of one SQLite study at the same time;
   every queued trial is claimed by exactly one process, and none sees "database is locked".
2. A real `nas search --workers 2`, one of whose workers is killed (SIGKILL) while it trains a promoted
   candidate: the other worker fails that trial once, continues it from its last rung, and finishes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas.run import TrialRecord
from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup

CLI = [sys.executable, "-c", "from nas.cli import main; main()"]
CLAIMERS, QUEUED_EACH = 4, 25


def _claim_all(url: str, study_name: str, start: object, results: object) -> None:
    """Queue QUEUED_EACH trials, then claim every queued trial this process can (as workers do)."""
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from nas.search.storage import open_storage, storage_of

    study = optuna.load_study(study_name=study_name, storage=open_storage(url))
    storage, _ = storage_of(study)
    start.wait()
    try:
        for i in range(QUEUED_EACH):
            study.enqueue_trial({"x": i}, user_attrs={"by": os.getpid()})
        claimed = []
        for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            try:
                if storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING):
                    claimed.append(trial.number)
            except UpdateFinishedTrialError:
                pass
        results.put((os.getpid(), claimed, None))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put((os.getpid(), [], f"{type(exc).__name__}: {exc}"))


def test_queued_trials_are_claimed_once_under_load(tmp_path: Path) -> None:
    import optuna

    from nas.search.storage import open_storage

    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="load", storage=open_storage(url))
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(url, "load", start, results)) for _ in range(CLAIMERS)]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [error for _, _, error in outcomes if error] == []
    claims = [number for _, claimed, _ in outcomes for number in claimed]
    trials = optuna.load_study(study_name="load", storage=url).get_trials()
    assert len(trials) == CLAIMERS * QUEUED_EACH
    assert sorted(claims) == sorted(set(claims))  # no trial claimed twice
    waiting = [t.number for t in trials if t.state.name == "WAITING"]
    assert sorted(claims + waiting) == list(range(len(trials)))  # nothing lost either


def _records(out: Path) -> list[TrialRecord]:
    import optuna

    try:
        study = json.loads((out / "run.json").read_text())["study"]
        trials = optuna.load_study(study_name=study, storage=f"sqlite:///{out / 'study.db'}").get_trials()
    except Exception:  # noqa: BLE001 - not created yet
        return []
    return [TrialRecord.from_trial(t) for t in trials]


def _freeze_a_worker_mid_rung(proc: subprocess.Popen, out: Path, deadline: float) -> tuple[int, TrialRecord]:
    """SIGSTOP a worker seen training a promoted candidate; return its pid and the trial it holds, read from
    the study once the worker is frozen (so the trial cannot finish between the look and the kill)."""
    while time.monotonic() < deadline:
        seen = next((r for r in _records(out) if r.state == "RUNNING" and r.rungs and r.worker), None)
        if seen is not None:
            pid = int(seen.worker.rsplit(":", 1)[1])
            os.kill(pid, signal.SIGSTOP)
            held = [r for r in _records(out) if r.state == "RUNNING" and r.worker == seen.worker]
            if len(held) == 1 and held[0].rungs:
                return pid, held[0]
            os.kill(pid, signal.SIGCONT)  # it moved on meanwhile: look again
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no candidate was promoted")


def _two_worker_search(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A real `nas search --workers 2` on the tiny space with a training proxy (rungs of up to 90 steps)."""
    space, tables = write_tiny_setup(tmp_path)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*CLI, "search", "--device", DEVICE, "--tables", str(tables), "--space", str(space), "--budget", "0.4ms",
         "--trials", "12", "--proxy", "train", "--proxy-opt", "steps=90", "--sampler", "random", "--workers", "2",
         "--no-report", "--json", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out


@pytest.mark.slow  # worker processes killed and resumed
def test_a_killed_worker_loses_no_promotion(tmp_path: Path) -> None:
    proc, out = _two_worker_search(tmp_path)
    pid, victim = _freeze_a_worker_mid_rung(proc, out, deadline=time.monotonic() + 240)
    os.kill(pid, signal.SIGKILL)
    out_text, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]

    records = {r.trial: r for r in _records(out)}
    rungs = json.loads((out / "run.json").read_text())["rungs"]
    dead = records[victim.trial]
    assert dead.interrupted and "died" in dead.reason and dead.rungs[:len(victim.rungs)] == victim.rungs
    continuation = [r for r in records.values() if r.retry_of == victim.trial]
    assert len(continuation) == 1 and continuation[0].scored and continuation[0].worker != victim.worker
    assert continuation[0].rungs[:len(dead.rungs)] == dead.rungs and len(continuation[0].rungs) > len(dead.rungs)
    scored = [r for r in records.values() if r.scored]
    assert len({r.arch for r in scored}) == len(scored) >= 12  # no network scored twice
    assert all([g.steps for g in r.rungs] == rungs[:len(r.rungs)] for r in scored)  # each rung once, in order
    assert not [r for r in records.values() if r.state == "RUNNING"]
    assert json.loads(out_text)["scored"] == len(scored)


@pytest.mark.slow  # a coordinator process killed, its workers watched
def test_workers_do_not_outlive_a_killed_coordinator(tmp_path: Path) -> None:
    """SIGKILL of the search's parent process: its worker processes stop at once (parent-death signal), and what
    they held is continued on --resume."""
    proc, out = _two_worker_search(tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not [r for r in _records(out) if r.state == "RUNNING" and r.worker]:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.1)
    workers = _children(proc.pid)
    assert len(workers) >= 2, workers
    killed = time.monotonic()
    proc.kill()  # the workers hold its stdout/stderr pipes, so communicate() returns once they are all gone
    proc.communicate(timeout=60)
    outlived = time.monotonic() - killed
    assert outlived < 5, f"worker processes outlived the killed search by {outlived:.0f} s"
    assert not [pid for pid in workers if _alive(pid)]
    result = subprocess.run([*CLI, "search", "--resume", "--out", str(out), "--workers", "1", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not [r for r in _records(out) if r.state == "RUNNING"]


def _children(pid: int) -> list[int]:
    """Worker processes of ``pid`` (spawned children running python, not the resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and "multiprocessing.spawn" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie, reaped by nobody after its parent died, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
