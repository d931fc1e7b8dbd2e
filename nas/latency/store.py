"""The one way a user table is written: never over a shipped table, never over another table without ``--force``,
never a table that fails its sanity checks.

Every command that writes a table of the user's (``nas latency calibrate --as``, ``nas profile``, ``nas profile
import``, ``nas tables fit --timings --as``) goes through :func:`write_user_table` (or, for a table written in
steps as it is measured, :func:`user_table_path` first). The rules:

- The name is a plain file stem (``my-box``), and the file is ``<tables folder>/<name>.json`` (the folder:
  ``--tables DIR``, else the user folder ``~/.config/nas/latency_tables``).
- A name that another folder of the search path already holds (a table shipped with nas, one in
  ``$NAS_TABLES_DIR`` or in the user folder) is refused: the new table would hide that one, or be hidden by it,
  and every command using the name would silently switch tables. The one exception is a command that extends
  that very table (``nas profile --only-missing`` copies a shipped table to the user folder and adds keys to
  the copy): ``updating=`` says so, and ``nas devices`` shows the copy as such.
- An existing table at the path is replaced only with ``force=True`` (``--force``), or when the command is
  extending it (``updating=``).
- Sanity checks: callables ``check(table) -> problems`` given by the command (a calibration's scales, overhead
  and leave-one-out error, see :func:`nas.latency.calibrate.calibration_checks`) plus the floor every table
  obeys: no network it prices (the presets it covers, the networks it was fitted on) costs less than
  :data:`MIN_NETWORK_MS`. A table with problems is refused with the first reason and nothing is written; with
  ``force=True`` it is written and its provenance says ``forced`` with every problem.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable
from pathlib import Path

from nas.errors import NasError, UsageError
from nas.latency.table import LatencyTable, TableError, read_table, table_dirs, user_tables_dir

MIN_NETWORK_MS = 0.01  # no table may price a network below this: 10 us is less than one runtime call costs
MAX_LOO_MEAN_PCT = 25.0  # honest calibrations measure 2-7% (README; benchmarks/results/latency_calibrate.md)
MAX_LOO_MAX_PCT = 60.0  # ... and at most 22% for their worst network
SCALE_RANGE = 100.0  # a fitted scale outside [1/100, 100] of the base table is another device, or another unit

Check = Callable[[LatencyTable], Iterable[str]]


class TableWriteError(UsageError):
    """A user table was not written: the name is taken, the file exists, or the table fails a sanity check."""


def check_table_name(name: str, *, option: str = "--as") -> str:
    """``name`` if it is a plain table name (the file stem of ``<name>.json``); else a TableWriteError."""
    if (not name or name != Path(name).name or name.startswith(".") or name.endswith(".json")
            or any(c.isspace() for c in name)):
        raise TableWriteError(f"{option} {name!r} must be a plain table name (letters, digits, '-', '_'), such as "
                              "'my-box'")
    return name


def user_table_path(name: str, *, tables_dir: str | Path | None = None, force: bool = False,
                    updating: LatencyTable | None = None, option: str = "--as", resume: bool = False) -> Path:
    """Where table ``name`` may be written, after the name and overwrite rules (see the module docstring).

    Args:
        tables_dir: the folder to write into (default: the user folder).
        force: replace an existing table at that path.
        updating: the table this write extends (its own file, or a copy of it that takes precedence): writing
            under its name is then what the user asked for.
        option: the option that named the table, for the messages.
        resume: an unfinished table at the path (``provenance.complete`` false) may be continued without
            ``force`` (``nas profile`` resumes a stopped profile).

    Raises:
        TableWriteError: the name is not plain, shadows another table, or the path holds a table and neither
            ``force`` nor ``updating`` allows replacing it.
    """
    check_table_name(name, option=option)
    folder = Path(tables_dir) if tables_dir else user_tables_dir()
    path = folder / f"{name}.json"
    extending = updating is not None and updating.device == name
    if not extending:
        for other in table_dirs(tables_dir):
            found = other / f"{name}.json"
            if _same_folder(other, folder) or not found.is_file():
                continue
            what = "a table shipped with nas" if _is_shipped(other) else "another table"
            raise TableWriteError(f"{option} {name}: {found} is {what} of that name, which a table written to "
                                  f"{folder} would {_shadow_verb(other, folder, tables_dir)}; choose another name "
                                  f"(such as {name}-mine)")
    if path.exists() and not force and not extending:
        try:
            existing = read_table(path)
            article = "an" if existing.method[:1] in tuple("aeiou") else "a"  # an estimated, a measured table
            what, unfinished = f"{article} {existing.method} table", not existing.complete
        except TableError:
            what, unfinished = "an unreadable table", False
        if not (resume and unfinished):
            raise TableWriteError(f"{path} exists ({what}): pass --force to replace it, or choose another {option} "
                                  "name")
    return path


def write_user_table(table: LatencyTable, *, tables_dir: str | Path | None = None, force: bool = False,
                     checks: Iterable[Check] = (), updating: LatencyTable | None = None,
                     option: str = "--as") -> Path:
    """Write user table ``table`` (named ``table.device``) after the name, overwrite and sanity rules.

    Args:
        tables_dir: the folder to write into (default: the user folder).
        force: replace an existing table, and write a table that fails its checks (marked ``forced`` in its
            provenance, with the problems).
        checks: the command's own sanity checks, each ``check(table)`` -> the problems it finds (one line each);
            :func:`floor_problems` always runs too.
        updating: the table this write extends (see :func:`user_table_path`).
        option: the option that named the table, for the messages.

    Returns the path written.

    Raises:
        TableWriteError: refused; nothing was written.
    """
    from nas.latency.table import save_table

    path = user_table_path(table.device, tables_dir=tables_dir, force=force, updating=updating, option=option)
    problems = [p for check in (*checks, floor_problems) for p in check(table)]
    if problems and not force:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise TableWriteError(f"table '{table.device}' not written: {problems[0]}{more}; pass --force to write it "
                              "anyway (marked as forced)")
    if problems:
        table.provenance["forced"] = {
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "problems": problems}
    return save_table(table, path)


def floor_problems(table: LatencyTable) -> list[str]:
    """The networks ``table`` prices below :data:`MIN_NETWORK_MS`: the presets it covers (at its resolution) and
    the networks its fit recorded (``provenance.calibration.networks``, fitted ms)."""
    from nas.latency.predict import predict_latency
    from nas.models.presets import PRESETS

    priced: list[tuple[str, float]] = []
    for name, preset in PRESETS.items():
        try:
            priced.append((name, predict_latency(preset.config.replace(resolution=table.resolution), table,
                                                 extend=False).total_ms))
        except NasError:  # a preset the table does not cover (or cannot be planned at its resolution)
            continue
    for net in table.provenance.get("calibration", {}).get("networks", []) or []:
        if isinstance(net, dict) and isinstance(net.get("fitted_ms"), (int, float)):
            priced.append((str(net.get("name")), float(net["fitted_ms"])))
    low = [(name, ms) for name, ms in priced if not ms >= MIN_NETWORK_MS]
    if not low:
        return []
    name, ms = min(low, key=lambda item: item[1])
    return [f"it prices {name} at {ms:.4g} ms, below the floor of {MIN_NETWORK_MS} ms per network "
            f"({len(low)} network(s) below it)"]


def scale_problems(scales: dict[str, float], *, base: str) -> list[str]:
    """Factors on base table ``base`` (label -> factor) outside ``[1/SCALE_RANGE, SCALE_RANGE]``: one problem, the
    furthest out."""
    bad = {k: s for k, s in scales.items() if not 1 / SCALE_RANGE <= s <= SCALE_RANGE}
    if not bad:
        return []
    kind, scale = max(bad.items(), key=lambda kv: abs(_log(kv[1])))
    unit = " (times in us instead of ms?)" if 300 <= scale <= 3000 else ""
    return [f"{kind} {scale:.4g} is outside the plausible range {1 / SCALE_RANGE:g}-{SCALE_RANGE:g}x of base table "
            f"'{base}'{unit}"]


def loo_problems(mean_pct: float, max_pct: float) -> list[str]:
    """A leave-one-out error beyond :data:`MAX_LOO_MEAN_PCT` mean or :data:`MAX_LOO_MAX_PCT` for one network."""
    if not mean_pct <= MAX_LOO_MEAN_PCT:
        return [f"leave-one-out error {mean_pct:.4g}% mean is beyond the bound of {MAX_LOO_MEAN_PCT:g}% (no "
                "consistent fit explains these timings)"]
    if not max_pct <= MAX_LOO_MAX_PCT:
        return [f"leave-one-out error {max_pct:.4g}% for one network is beyond the bound of {MAX_LOO_MAX_PCT:g}% "
                "(a timing inconsistent with the others?)"]
    return []


def _log(value: float) -> float:
    import math

    return math.log(value) if value > 0 else float("inf")


def _is_shipped(folder: Path) -> bool:
    from nas.latency.table import _shipped_dir

    shipped = _shipped_dir()
    return shipped is not None and _same_folder(folder, shipped)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def _shadow_verb(other: Path, folder: Path, tables_dir: str | Path | None) -> str:
    """'hide' when ``folder`` comes before ``other`` in the search path, else 'be hidden by'."""
    order = [d.resolve() for d in table_dirs(tables_dir)]
    try:
        return "hide" if order.index(folder.resolve()) < order.index(other.resolve()) else "be hidden by"
    except ValueError:
        return "hide"
