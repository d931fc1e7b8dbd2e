"""The search-settings record: each field says once what --resume and a joining worker do with it, and a new
setting needs nothing else (shown by adding one here); run folders written before it still resume."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from nas.search import run_search
from nas.search.plan import resolve_plan
from nas.search.settings import (
    KEEP,
    RESTORE,
    SearchSettings,
    StudyMismatchError,
    restore,
    saved_settings,
    setting,
    shared_settings,
)
from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup


@dataclass(frozen=True)
class WithColour(SearchSettings):
    """The record with one more setting, declared as any setting is."""

    colour: str | None = setting(flag="--colour", resume=KEEP, shared=True)


@pytest.fixture
def tiny(tmp_path: Path) -> dict[str, str]:
    space, tables = write_tiny_setup(tmp_path)
    return {"device": DEVICE, "space": str(space), "tables_dir": str(tables)}


def _settings(tiny: dict[str, str], out: Path, **more) -> dict:
    return {**tiny, "budget_ms": 0.4, "trials": 2, "proxy": "params", "workers": 1, "report": False, "out": out,
            **more}


def test_restore_keeps_restores_and_refuses_by_the_field_policy() -> None:
    saved = {"device": "a", "budget_ms": 5.0, "trials": 40, "proxy_options": {"steps": 30, "resolution": 32},
             "also": [["b", 20.0]]}
    got = restore(SearchSettings(trials=60, proxy_options={"steps": 30}), saved)
    assert (got.device, got.budget_ms, got.also) == ("a", 5.0, (("b", 20.0),))  # KEEP: restored
    assert got.trials == 60  # RESTORE: given again, it changes
    assert got.proxy_options == {"steps": 30, "resolution": 32}  # a dict is checked by the keys given
    with pytest.raises(StudyMismatchError, match="started with --budget 5.0, not 4.0; drop --budget"):
        restore(SearchSettings(budget_ms=4.0), saved)
    with pytest.raises(StudyMismatchError, match="--proxy-opt steps 30, not 40"):
        restore(SearchSettings(proxy_options={"steps": 40}), saved)
    with pytest.raises(StudyMismatchError, match="--device \\(further\\)"):
        restore(SearchSettings(also=(("b", 30.0),)), saved)


def test_every_field_declares_its_policy_and_flag() -> None:
    import dataclasses

    for f in dataclasses.fields(SearchSettings):
        assert f.metadata["flag"] and f.metadata["resume"] in (None, KEEP, RESTORE), f.name
        assert not f.metadata["shared"] or f.metadata["resume"] == KEEP, f"{f.name}: shared yet not kept"
    assert "budget_ms" in shared_settings(SearchSettings()) and "workers" not in saved_settings(SearchSettings())
    with pytest.raises(ValueError, match="resume must be"):
        setting(flag="--x", resume="sometimes")


def test_a_new_setting_is_saved_restored_and_shared_with_no_other_edit(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_search(WithColour(**_settings(tiny, out), colour="red"))
    meta = json.loads((out / "run.json").read_text())
    assert meta["settings"]["colour"] == "red" and meta["settings"]["budget_ms"] == 0.4
    # --resume restores it when not given, and refuses another value
    plan, _ = resolve_plan(WithColour(out=out, resume=True, trials=3, workers=1))
    assert plan.settings.colour == "red" and plan.settings.trials == 3 and plan.settings.budget_ms == 0.4
    with pytest.raises(StudyMismatchError, match="--colour 'red', not 'blue'"):
        resolve_plan(WithColour(out=out, resume=True, colour="blue"))
    # a worker joining the study from another folder must have the same value
    storage = f"sqlite:///{out / 'study.db'}"
    joining = WithColour(**_settings(tiny, tmp_path / "other"), colour="blue", storage=storage, study=meta["study"])
    with pytest.raises(StudyMismatchError, match="was started with colour='red', this run has 'blue'"):
        run_search(joining)
    result = run_search(joining.replace(colour="red", trials=3))
    assert result.scored == 3


def test_a_run_folder_without_settings_resumes_from_its_flat_fields(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_search(SearchSettings(**_settings(tiny, out), max_params=2_000_000, seed=5))
    meta = json.loads((out / "run.json").read_text())
    written = meta.pop("settings")
    (out / "run.json").write_text(json.dumps(meta))  # as run folders were written before the record
    plan, _ = resolve_plan(SearchSettings(out=out, resume=True, workers=1))
    assert saved_settings(plan.settings) == {**written, "space": str(out / "space.yaml")}  # the run's own copy
    with pytest.raises(StudyMismatchError, match="--seed 5, not 6"):
        resolve_plan(SearchSettings(out=out, resume=True, seed=6))
    result = run_search(SearchSettings(out=out, resume=True, trials=3, workers=1))
    resumed = json.loads((out / "run.json").read_text())["settings"]
    assert result.scored == 3 and resumed == {**written, "space": str(out / "space.yaml"), "trials": 3}
