"""Two `nas search` processes share one study on a real PostgreSQL server.

The server URL comes from NAS_TEST_POSTGRES_URL (e.g. postgresql://nas:nas@localhost:5432/nas_test,
started by .ci/run). Without it the test is skipped locally and fails in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup

URL = os.environ.get("NAS_TEST_POSTGRES_URL")
CLI = [sys.executable, "-c", "from nas.cli import main; main()"]


@pytest.fixture
def postgres_url() -> str:
    if not URL:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but NAS_TEST_POSTGRES_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("NAS_TEST_POSTGRES_URL not set (no PostgreSQL server for this test)")
    return URL


def test_two_workers_share_one_postgres_study(postgres_url: str, tmp_path: Path) -> None:
    import optuna

    from nas.run import TrialRecord
    from nas.search.storage import normalize_url

    space, tables = write_tiny_setup(tmp_path)
    study = f"test-{uuid.uuid4().hex[:8]}"
    trials = 6
    workers = [subprocess.Popen(
        [*CLI, "search", "--device", DEVICE, "--tables", str(tables), "--space", str(space), "--budget", "0.4ms",
         "--trials", str(trials), "--proxy", "train", "--proxy-opt", "steps=5", "--storage", postgres_url,
         "--study", study, "--worker", str(i), "--workers", "1", "--out", str(tmp_path / f"worker{i}"), "--no-report",
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [w.communicate(timeout=180) for w in workers]
    try:
        for w, (_, err) in zip(workers, results):
            assert w.returncode == 0, err[-2000:]
        all_trials = optuna.load_study(study_name=study, storage=normalize_url(postgres_url)).get_trials()
        numbers = [t.number for t in all_trials]
        assert len(numbers) == len(set(numbers)) and sorted(numbers) == list(range(len(numbers)))
        records = [TrialRecord.from_trial(t) for t in all_trials]
        scored = [r for r in records if r.scored]
        # the trial count is study-wide; a worker stops once scored + others' running trials reach it
        # (a start in the same instant as the other's last trial may add one)
        assert trials <= len(scored) <= trials + 1
        assert len({r.worker for r in scored}) == 2  # both did part of the work
        assert len({r.arch for r in scored}) == len(scored)  # no network scored twice
        assert not [r for r in records if r.state == "RUNNING"]
        for out, _ in results:
            assert json.loads(out)["study"] == study
    finally:
        optuna.delete_study(study_name=study, storage=normalize_url(postgres_url))
