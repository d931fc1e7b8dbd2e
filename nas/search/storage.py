"""Where the study lives: SQLite in the run folder by default, any Optuna RDB URL to share one study.

SQLite (``study.db``) rather than Optuna's journal file: one file that ``optuna-dashboard`` and
``nas report`` open directly, transactional, and fast enough for trials that take seconds; several
local processes can share it (with a lock timeout), and PostgreSQL/MySQL URLs serve many machines.

Interrupted trials: a worker that dies leaves its trial RUNNING. Trials record their worker
(host, pid); a worker starting on the same host fails the RUNNING trials of dead processes at once
and re-enqueues their params. Trials of other hosts are caught by Optuna's heartbeat (a RUNNING trial
without a heartbeat for ``GRACE_PERIOD_S`` is failed and re-enqueued by the next worker).
"""

from __future__ import annotations

import os
import re
import socket
import time
import warnings
from pathlib import Path
from typing import Any

from nas.errors import NasError, UsageError

HEARTBEAT_S = 20
GRACE_PERIOD_S = 90
STUDY_DB = "study.db"


class StorageError(NasError):
    """The study storage cannot be opened (unreachable server, bad URL, missing driver)."""


class NoStudyError(UsageError):
    """--resume was asked for a study that does not exist."""


def default_storage_url(out: Path) -> str:
    """The SQLite URL of ``out/study.db`` (absolute, so the URL works from any folder)."""
    return f"sqlite:///{(Path(out) / STUDY_DB).resolve()}"


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and run.json)."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def normalize_url(url: str) -> str:
    """``postgresql://`` with the installed driver: SQLAlchemy 2.1 picks psycopg 3 by default, the
    ``postgres`` extra installs psycopg2; an explicit ``postgresql+driver://`` is kept."""
    import importlib.util

    if url.startswith(("postgresql://", "postgres://")) and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def open_storage(url: str) -> Any:
    """An Optuna RDBStorage for ``url`` with heartbeats; one-line StorageError if it cannot be opened."""
    import optuna

    given, url = url, normalize_url(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}  # wait for other local workers' writes
        db = url.split("sqlite:///", 1)[-1]
        if db and not Path(db).parent.exists():
            raise StorageError(f"cannot open storage '{url}': folder {Path(db).parent} does not exist")
    else:
        engine_kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                callback = {"heartbeat_stale_trial_callback": retry(max_retry=1)} if retry else \
                    {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                                     heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_PERIOD_S,
                                                     **callback)
            break
        except ImportError:
            raise StorageError(f"cannot open storage '{redact(given)}': its database driver is not installed "
                               "(PostgreSQL: pip install psycopg2-binary)") from None
        except Exception as exc:  # noqa: BLE001 - sqlalchemy/driver errors of every kind become one line
            text = str(exc)
            if attempt < 3 and ("duplicate key" in text or "already exists" in text):
                time.sleep(0.5 + attempt)  # another worker is creating the tables right now
                continue
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            raise StorageError(f"cannot open storage '{redact(given)}': {first[:200]}") from None
    if url.startswith("sqlite"):
        _sqlite_wal(storage.engine)
    return storage


def _sqlite_wal(engine: Any) -> None:
    """WAL journal + synchronous=NORMAL: a commit no longer waits for the disk (each trial makes dozens),
    readers do not block the writer, and a killed process still loses no committed trial."""
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # reconnect with the pragmas


def study_exists(storage: Any, name: str) -> bool:
    """True when ``storage`` holds a study called ``name``."""
    return any(s.study_name == name for s in storage.get_all_studies())


def worker_id() -> str:
    """``host:pid`` of this process, stored on every trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_interrupted(study: Any) -> list[int]:
    """Fail the RUNNING trials of dead local workers and re-enqueue every interrupted trial once.

    Returns the numbers of the trials whose params were enqueued again.
    """
    from optuna.trial import TrialState

    host = socket.gethostname()
    trials = study.get_trials(deepcopy=False)
    for t in trials:
        worker = str(t.user_attrs.get("worker", ""))
        if t.state != TrialState.RUNNING or not worker.startswith(f"{host}:"):
            continue
        pid = int(worker.rsplit(":", 1)[1])
        if pid != os.getpid() and not _pid_alive(pid):
            study._storage.set_trial_user_attr(t._trial_id, "reason", f"interrupted: worker {worker} died")
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials} | {t.system_attrs.get("failed_trial")
                                                              for t in trials}
    enqueued = []
    for t in trials:
        reason = str(t.user_attrs.get("reason", ""))
        if t.state == TrialState.FAIL and reason.startswith("interrupted") and t.number not in retried:
            attrs = {"retry_of": t.number}
            if t.user_attrs.get("preset"):
                attrs["preset"] = t.user_attrs["preset"]
            study.enqueue_trial(dict(t.params), user_attrs=attrs, skip_if_exists=False)
            enqueued.append(t.number)
    return enqueued
