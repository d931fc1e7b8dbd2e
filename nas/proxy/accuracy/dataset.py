"""The published-accuracy dataset: one row per published network, its config and its ImageNet-1k top-1.

The shipped CSV (``data/published_top1.csv``) names, per row, a config JSON (relative to the CSV's folder),
the published top-1 (single crop, ImageNet-1k only), the resolution it was measured at, the recipe facts
that matter (epochs, distillation, recipe family), the published parameter count and the source (paper or
official README and table). ``load_accuracy_rows`` reads and checks it: a row whose config does not rebuild,
an unknown recipe or yes/no value, a top-1 outside 0-100 is refused in one line naming the row.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import NasError, UsageError

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_CSV = DATA_DIR / "published_top1.csv"
COLUMNS = ("name", "config", "family", "paper", "table", "top1", "resolution", "params_m", "params_source",
           "epochs", "distilled", "recipe", "resolution_row", "source", "notes")
# Recipe families: the training recipe a paper used (deit: DeiT's; deit3: DeiT III's stronger one; cvnets:
# ml-cvnets' MobileViT recipe; efficientformer / litv2: those papers' DeiT-like recipes; augreg: "How to train
# your ViT?" on ImageNet-1k alone; sam: the SAM optimizer with Inception-style augmentation only).
RECIPES = ("deit", "deit3", "cvnets", "efficientformer", "litv2", "augreg", "sam")
STANDARD_EPOCHS = 300
YES_NO = {"yes": True, "no": False}
PARAMS_TOLERANCE = 0.03  # a row's config must rebuild within 3% of the published parameter count


class AccuracyDataError(UsageError):
    """A row of an accuracy dataset that cannot be used (named in the message)."""


@dataclass(frozen=True)
class AccuracyRow:
    """One published network.

    Attributes:
        name: the row's name (unique in its file).
        config: the network, rebuilt from the JSON the row names.
        family, paper, table, source: where the number comes from.
        top1: published ImageNet-1k top-1 (%).
        resolution: the resolution the top-1 was measured at (the config's).
        params_m: the published parameter count (millions).
        epochs: training epochs (None where the source does not say).
        distilled: trained with knowledge distillation.
        recipe: one of RECIPES.
        resolution_row: a higher-resolution fine-tune of another row's network.
    """

    name: str
    config: ArchConfig
    family: str
    paper: str
    table: str
    top1: float
    resolution: int
    params_m: float
    epochs: int | None
    distilled: bool
    recipe: str
    resolution_row: bool
    source: str


def _field(row: dict[str, str], key: str, where: str) -> str:
    value = (row.get(key) or "").strip()
    if not value:
        raise AccuracyDataError(f"{where}: column '{key}' is empty")
    return value


def _number(row: dict[str, str], key: str, where: str) -> float:
    text = _field(row, key, where)
    try:
        value = float(text)
    except ValueError:
        raise AccuracyDataError(f"{where}: {key} '{text}' is not a number") from None
    if not math.isfinite(value):
        raise AccuracyDataError(f"{where}: {key} '{text}' is not a finite number")
    return value


def _yes_no(row: dict[str, str], key: str, where: str) -> bool:
    text = _field(row, key, where).lower()
    if text not in YES_NO:
        raise AccuracyDataError(f"{where}: {key} '{text}' is not one of: yes, no")
    return YES_NO[text]


def parse_row(row: dict[str, str], *, folder: Path, where: str) -> AccuracyRow:
    """One CSV row (a dict of its columns) as an AccuracyRow; ``where`` names it in errors.

    Raises:
        AccuracyDataError: a missing or malformed value, an unknown recipe, a top-1 outside 0-100, a config
            that does not load or validate, or a resolution that differs from the config's.
    """
    name = _field(row, "name", where)
    where = f"{where} ({name})"
    top1 = _number(row, "top1", where)
    if not 0.0 < top1 < 100.0:
        raise AccuracyDataError(f"{where}: top1 {top1:g} is outside 0-100 (a percentage)")
    recipe = _field(row, "recipe", where)
    if recipe not in RECIPES:
        raise AccuracyDataError(f"{where}: unknown recipe '{recipe}'; accepted: {', '.join(RECIPES)}")
    epochs_text = (row.get("epochs") or "").strip()
    epochs = None
    if epochs_text:
        epochs_value = _number(row, "epochs", where)
        if epochs_value <= 0 or not epochs_value.is_integer():
            raise AccuracyDataError(f"{where}: epochs '{epochs_text}' is not a positive integer")
        epochs = int(epochs_value)
    params_m = _number(row, "params_m", where)
    if params_m <= 0:
        raise AccuracyDataError(f"{where}: params_m {params_m:g} is not positive")
    resolution = _number(row, "resolution", where)
    path = folder / _field(row, "config", where)
    try:
        cfg = ArchConfig.load(path)
    except NasError as exc:
        raise AccuracyDataError(f"{where}: config {path.name} does not rebuild: {exc}") from None
    except OSError as exc:
        raise AccuracyDataError(f"{where}: config {path.name} cannot be read ({exc.strerror})") from None
    if cfg.resolution != resolution:
        raise AccuracyDataError(f"{where}: resolution {resolution:g} differs from its config's {cfg.resolution}")
    return AccuracyRow(name, cfg, _field(row, "family", where), _field(row, "paper", where),
                       _field(row, "table", where), top1, int(resolution), params_m, epochs,
                       _yes_no(row, "distilled", where), recipe, _yes_no(row, "resolution_row", where),
                       _field(row, "source", where))


def load_accuracy_rows(path: str | Path | None = None) -> list[AccuracyRow]:
    """Every row of the accuracy CSV at ``path`` (default: the shipped one), checked.

    Raises:
        AccuracyDataError: a file that cannot be read, a missing column, a duplicate name, or a bad row
            (see ``parse_row``), each in one line naming the row.
    """
    path = Path(path) if path is not None else SHIPPED_CSV
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AccuracyDataError(f"accuracy dataset {path}: cannot be read ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise AccuracyDataError(f"accuracy dataset {path.name}: missing column(s) {', '.join(missing)}; "
                                f"expected: {', '.join(COLUMNS)}")
    rows, seen = [], set()
    for line, raw in enumerate(reader, start=2):
        parsed = parse_row(raw, folder=path.parent, where=f"{path.name} line {line}")
        if parsed.name in seen:
            raise AccuracyDataError(f"{path.name} line {line} ({parsed.name}): duplicate name")
        seen.add(parsed.name)
        rows.append(parsed)
    if not rows:
        raise AccuracyDataError(f"accuracy dataset {path.name}: no rows")
    return rows


def dataset_digest(path: str | Path | None = None) -> str:
    """sha256 of the CSV and every config it names: what a fit file was computed from."""
    path = Path(path) if path is not None else SHIPPED_CSV
    digest = hashlib.sha256(path.read_bytes())
    for row in csv.DictReader(path.read_text(encoding="utf-8").splitlines()):
        config = path.parent / (row.get("config") or "")
        digest.update(config.read_bytes() if config.is_file() else b"")
    return digest.hexdigest()


def params_problem(row: AccuracyRow, counted_params: int) -> str | None:
    """Why ``row``'s rebuilt network (``counted_params`` parameters) is too far from the published count."""
    counted_m = counted_params / 1e6
    if abs(counted_m - row.params_m) > PARAMS_TOLERANCE * row.params_m:
        return (f"{row.name}: rebuilt with {counted_m:.2f} M parameters, published {row.params_m:g} M "
                f"(more than {PARAMS_TOLERANCE:.0%} apart)")
    return None


def describe(rows: list[AccuracyRow]) -> dict[str, Any]:
    """Counts per family and paper, for docs and the benchmark."""
    out: dict[str, Any] = {"rows": len(rows), "families": {}, "papers": {}}
    for row in rows:
        out["families"][row.family] = out["families"].get(row.family, 0) + 1
        out["papers"][row.paper] = out["papers"].get(row.paper, 0) + 1
    return out
