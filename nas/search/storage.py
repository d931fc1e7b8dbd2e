"""Where the study lives: SQLite in the run folder by default, any Optuna RDB URL to share one study.

SQLite (``study.db``) rather than Optuna's journal file: one file that ``optuna-dashboard`` and
``nas report`` open directly. Several local worker processes share it safely: WAL journal, a 60 s
busy timeout, and every transaction opened with ``BEGIN IMMEDIATE``. The last point matters: by
default Python's sqlite3 runs a transaction's first SELECT outside any lock, so two processes could
both read a queued trial as WAITING and both claim it; with ``BEGIN IMMEDIATE`` a read-then-write
(claiming a queued trial, finishing a running one) is atomic, as it is on PostgreSQL with
``SELECT ... FOR UPDATE``. The search's claims and its exactly-once recovery rest on that.

Interrupted trials: a worker that dies leaves its trial RUNNING. Trials record their worker
(``host:pid``); a worker starting on the same host fails the RUNNING trials of dead processes at once.
Trials of other hosts are caught by Optuna's heartbeat (a RUNNING trial without a heartbeat for
``GRACE_PERIOD_S``). Either way the one process whose FAIL transition succeeds queues the retry.
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
SQLITE_BUSY_TIMEOUT_S = 60


class StorageError(NasError):
    """The study storage cannot be opened (unreachable server, bad URL, missing driver)."""


class NoStudyError(UsageError):
    """--resume was asked for a study that does not exist."""


def default_storage_url(out: Path) -> str:
    """The SQLite URL of ``out/study.db`` (absolute, so the URL works from any folder)."""
    from nas.run.folder import STUDY_DB

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


DRIVERS = {"postgresql": "pip install psycopg2-binary", "postgres": "pip install psycopg2-binary",
           "mysql": "pip install pymysql, and give the URL as mysql+pymysql://...",
           "mariadb": "pip install pymysql, and give the URL as mariadb+pymysql://..."}


def driver_hint(url: str, exc: ImportError) -> str:
    """What to install for ``url``'s database (its scheme), or the module that is missing."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme in DRIVERS:
        return f"{scheme}: {DRIVERS[scheme]}"
    missing = f" ({exc.name})" if exc.name else ""
    return f"install the SQLAlchemy driver of '{scheme}'{missing}; PostgreSQL is the tested shared storage"


def open_storage(url: str) -> Any:
    """An Optuna RDBStorage for ``url`` with heartbeats; one-line StorageError if it cannot be opened."""
    import optuna

    given, url = url, normalize_url(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        db = url.split("sqlite:///", 1)[-1]
        if db and not Path(db).parent.exists():
            raise StorageError(f"cannot open storage '{url}': folder {Path(db).parent} does not exist")
    else:
        engine_kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S,
                                                     grace_period=GRACE_PERIOD_S)
            break
        except ImportError as exc:
            raise StorageError(f"cannot open storage '{redact(given)}': its database driver is not installed "
                               f"({driver_hint(url, exc)})") from None
        except Exception as exc:  # noqa: BLE001 - sqlalchemy/driver errors of every kind become one line
            text = str(exc)
            if attempt < 3 and ("duplicate key" in text or "already exists" in text or "locked" in text):
                time.sleep(0.5 + attempt)  # another worker is creating the tables right now
                continue
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            raise StorageError(f"cannot open storage '{redact(given)}': {first[:200]}") from None
    if url.startswith("sqlite"):
        _serialize_sqlite(storage.engine)
    return storage


def _serialize_sqlite(engine: Any) -> None:
    """WAL + synchronous=NORMAL (a commit does not wait for the disk, a killed process loses no committed
    trial) and ``BEGIN IMMEDIATE`` transactions (a read-then-write is atomic across processes)."""
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # sqlite3 must not open transactions itself: "begin" below does
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    engine.dispose()  # reconnect with the pragmas


def study_exists(storage: Any, name: str) -> bool:
    """True when ``storage`` holds a study called ``name``."""
    return any(s.study_name == name for s in storage.get_all_studies())


def worker_id() -> str:
    """``host:pid`` of this process, stored on every trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # not Linux, or it just exited
        return True
    return state not in ("Z", "X")


def dead_local_worker(worker: str) -> bool:
    """True when ``worker`` (``host:pid``) ran on this host and its process is gone."""
    host, _, pid = worker.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid))


def storage_of(study: Any) -> tuple[Any, int]:
    """The storage object a study reads through (Optuna's cache over the database) and the study's id.

    The search claims queued trials and creates trials through the same object as the study, so that
    the study's cache knows every trial it touches (Optuna's own ask() does the same).
    """
    return study._storage, study._study_id
