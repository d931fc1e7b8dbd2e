"""Estimated tables extend themselves: a block key the table lacks is priced by the cost model that made it.

An ``estimated`` table carries its cost model in its provenance (``groups``: the features each coefficient
prices, ``coef_ms``: the coefficients; see :mod:`nas.latency.costmodel`). A key it lacks (another space, another
resolution, a new block) is priced by that model from the block's op features, the way ``nas tables fit`` priced
every entry of the file, and never as zero. The entries added this way are kept apart from the file's (the
table's hash, which names the numbers a search used, does not change), marked in predictions with the model's
version, and stored per table in the user's table folder (``<tables>/added/<device>-<table hash>.json``) so the
next prediction, the other workers of a search and ``nas devices`` see them. ``nas tables fit --space S
--resolution R`` adds the entries of a whole space ahead of time, through the same function.

Measured and calibrated tables are never extended: a key they lack is an error that names the command
measuring it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from nas.errors import UsageError
from nas.files import write_json
from nas.latency.table import LatencyTable, user_tables_dir

MAX_KEYS = 5_000  # block keys one `nas tables fit --space` prices without --force (see KEYS_LIMIT_NOTE)
KEYS_LIMIT_NOTE = ("a key took 0.33 s on average over the first 897 keys of a 16-width ViT space and 0.47 s over the "
                   "166 keys of a 59 x 39 one, up to 5 s for the widest blocks, on 2 shared cores: 5,000 keys take "
                   "30-40 min")


def cost_model(table: LatencyTable) -> Any:
    """The :class:`~nas.latency.costmodel.CostModel` an estimated table carries, or None (measured, calibrated,
    or an estimated table without one)."""
    prov = table.provenance
    groups, coef = prov.get("groups"), prov.get("coef_ms")
    if table.method != "estimated" or not isinstance(groups, dict) or not isinstance(coef, dict):
        return None
    from nas.latency.costmodel import CostModel

    return CostModel({g: tuple(fs) for g, fs in groups.items()}, {g: float(c) for g, c in coef.items()})


def model_version(table: LatencyTable) -> str | None:
    """A short name of the table's cost model (its coefficients' hash), recorded with every entry it adds."""
    prov = table.provenance
    if cost_model(table) is None:
        return None
    canon = json.dumps([prov["groups"], prov["coef_ms"]], sort_keys=True, separators=(",", ":"))
    return "costmodel-" + hashlib.sha256(canon.encode()).hexdigest()[:8]


def added_path(table: LatencyTable) -> Path:
    """Where the entries the cost model added to ``table`` are stored."""
    return user_tables_dir() / "added" / f"{table.device}-{table.hash}.json"


def load_added(table: LatencyTable) -> dict[str, dict[str, Any]]:
    """The stored added entries of ``table`` (read once into ``table.added``; {} when there are none)."""
    if table.added_loaded:
        return table.added
    table.added_loaded = True
    try:
        stored = json.loads(added_path(table).read_text())
        if stored.get("model") == model_version(table) and isinstance(stored.get("entries"), dict):
            for key, entry in stored["entries"].items():
                table.added.setdefault(key, entry)
    except (OSError, ValueError, AttributeError):
        pass  # nothing stored yet, or a store of another model: priced again on demand
    return table.added


_REPORT: ContextVar[tuple[Callable[[str], None], list[int]] | None] = ContextVar("nas_extend_report", default=None)
REPORT_EVERY = 100
STORE_EVERY = 200  # priced entries are stored this often during a long pricing, and at its end


@contextlib.contextmanager
def reporting(report: Callable[[str], None]) -> Iterator[None]:
    """Within this block, pricing on demand says so through ``report`` (a line when it starts, then every
    :data:`REPORT_EVERY` blocks): the first search of a new space or resolution on an estimated table may price
    a thousand blocks (about 0.1 s each) before its first trial."""
    token = _REPORT.set((report, [0]))
    try:
        yield
    finally:
        _REPORT.reset(token)


def check_keys_to_price(space: Any, at: int, count: int, *, force: bool = False) -> None:
    """Refuse pricing ``count`` block keys of ``space`` at ``at`` px ahead of a search when they are more than
    :data:`MAX_KEYS` (``nas tables fit --space``), unless ``force``.

    Raises:
        UsageError: too many keys; names the limit, what it costs and the way past it.
    """
    if count > MAX_KEYS and not force:
        raise UsageError(f"space '{space.name}' at {at} px has {count:,} block keys to price, more than the limit of "
                         f"{MAX_KEYS:,} ({KEYS_LIMIT_NOTE}): pass --force to price them anyway, or narrow the space")


def require_cost_model(table: LatencyTable, *, space: str | None = None, resolution: int | None = None) -> None:
    """Refuse extending ``table`` ahead of a search when it carries no cost model (it is not estimated).

    Raises:
        UsageError: names the command that measures the missing keys of ``space`` at ``resolution`` instead.
    """
    if cost_model(table) is None:
        raise UsageError(f"table '{table.device}' is {table.method} and carries no cost model: only estimated tables "
                         f"are extended; measure its missing keys with: nas profile --device {table.device} --space "
                         f"{space or 'SPACE'} --resolution {resolution or 'R'} --only-missing")


def price_blocks(table: LatencyTable, specs: Iterable[Any], *, origin: str = "on demand",
                 progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any]]:
    """Price every block of ``specs`` that ``table`` lacks with its cost model; store and return the new entries.

    Each entry is ``{"ms": ..., "model": <version>, "origin": origin}``, rounded as ``nas tables fit`` rounds.

    Raises:
        ValueError: ``table`` carries no cost model (it is not an estimated table).
    """
    from nas.latency.costmodel import block_features

    model, version = cost_model(table), model_version(table)
    if model is None:
        raise ValueError(f"table '{table.device}' ({table.method}) carries no cost model")
    load_added(table)
    todo = {s.key: s for s in specs if s.key not in table.entries and s.key not in table.added}
    new: dict[str, dict[str, Any]] = {}
    sink = _REPORT.get()
    for n, (key, spec) in enumerate(todo.items(), start=1):
        new[key] = {"ms": round(model.predict_ms(block_features(spec)), 6), "model": version, "origin": origin}
        if n % STORE_EVERY == 0:  # a long pricing that is stopped keeps what it priced
            table.added.update(new)
            _store(table)
        if progress:
            progress(n, len(todo))
        if sink:
            report, count = sink
            count[0] += 1
            if count[0] == 1:
                report(f"pricing the blocks table '{table.device}' lacks with its cost model ({version}); they are "
                       f"kept for later runs (nas tables fit --space S --resolution R prices a space ahead)")
            elif count[0] % REPORT_EVERY == 0:
                report(f"{count[0]:,} blocks priced by the cost model of '{table.device}'")
    if new:
        table.added.update(new)
        _store(table)
    return new


def _store(table: LatencyTable) -> None:
    """Merge ``table.added`` into its store (another process may have added entries meanwhile)."""
    path = added_path(table)
    try:
        stored = json.loads(path.read_text())
        entries = dict(stored.get("entries", {}))
    except (OSError, ValueError, AttributeError, TypeError):
        entries = {}
    entries.update(table.added)
    write_json(path, {"device": table.device, "table_hash": table.hash, "model": model_version(table),
                      "entries": dict(sorted(entries.items()))}, indent=1)


def added_summary(table: LatencyTable) -> dict[str, Any] | None:
    """How many entries the cost model added to ``table`` and by which model (None: not extendable)."""
    version = model_version(table)
    if version is None:
        return None
    added = load_added(table)
    origins: dict[str, int] = {}
    for entry in added.values():
        origins[entry.get("origin", "on demand")] = origins.get(entry.get("origin", "on demand"), 0) + 1
    return {"entries": len(added), "model": version, "origins": origins, "path": str(added_path(table))}


def added_note(device: str, path: str | None, table_hash: str) -> str | None:
    """"+N entries priced by its cost model (costmodel-...), not in its file" for the table a run used, or None."""
    from nas.latency.table import TableError, read_table

    if not path:
        return None
    try:
        table = read_table(path)
    except TableError:
        return None
    if table.hash != table_hash:
        return None
    summary = added_summary(table)
    if not summary or not summary["entries"]:
        return None
    return f"+{summary['entries']:,} entries priced by its cost model ({summary['model']}), not in its file"
