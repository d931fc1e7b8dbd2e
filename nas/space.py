"""Search spaces: YAML files of design choices, sampled through Optuna's trial API.

A space names architecture families (``nas.models.families``) and, for each, the values every
choice may take. A list is a categorical choice; a scalar is fixed; ``{per_stage: [[...], ...]}``
is one categorical choice per stage. ``SearchSpace.sample(trial)`` asks the trial for
``family`` and then ``<family>.<choice>[.<stage>]``, and builds the ArchConfig with the family
builder, so a stored trial's params replay to the same config (``config_from_params``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nas.config import ArchConfig
from nas.errors import ConfigError, SpaceError, UnknownNameError, UsageError
from nas.models.families import FAMILIES, build_family, choice_problem
from nas.resources import data_dir

DEFAULT_SPACE = "hybrid-vit"
Scalar = Any  # bool | int | float | str


@dataclass(frozen=True)
class Choice:
    """One design choice of a family: a categorical over ``options`` (one per stage if ``per_stage``)."""

    name: str
    options: tuple[tuple[Scalar, ...], ...]  # per stage; a plain choice has one entry
    per_stage: bool

    def param_names(self, family: str) -> list[str]:
        if self.per_stage:
            return [f"{family}.{self.name}.{i}" for i in range(len(self.options))]
        return [f"{family}.{self.name}"]

    @property
    def searched(self) -> bool:
        return any(len(o) > 1 for o in self.options)


RESOLUTION = "resolution"  # the choice a space with several deploy resolutions gives each family


@dataclass(frozen=True)
class SearchSpace:
    """A named search space: deploy resolution, class count, and choices per family.

    ``resolution`` is the deploy resolution, or the first of several: a space with a list of resolutions
    searches over them as one more choice of every family (``<family>.resolution``).
    """

    name: str
    description: str
    resolution: int
    num_classes: int
    families: dict[str, tuple[Choice, ...]]
    path: Path | None = None

    # -- sampling -------------------------------------------------------------------------
    def sample(self, trial: Any) -> ArchConfig:
        """Ask ``trial`` (any Optuna trial, FixedTrial included) for every choice; build the config."""
        family = trial.suggest_categorical("family", list(self.families))
        params = {"family": family}
        for choice in self.families[family]:
            for pname, opts in zip(choice.param_names(family), choice.options):
                params[pname] = trial.suggest_categorical(pname, list(opts))
        return self.config_from_params(params)

    def config_from_params(self, params: dict[str, Any]) -> ArchConfig:
        """The ArchConfig of trial params (``family`` and ``<family>.<choice>[.<stage>]``); what a trial
        stored replays to the config it built. Params of other families are ignored."""
        missing = self._missing_params(params)
        if missing:
            raise ConfigError(f"params lack {', '.join(missing)} for space '{self.name}'")
        family = params["family"]
        values: dict[str, Any] = {}
        for choice in self.families[family]:
            picked = [params[pname] for pname in choice.param_names(family)]
            values[choice.name] = picked if choice.per_stage else picked[0]
        resolution = values.pop(RESOLUTION, self.resolution)
        return build_family(family, values, name=f"{self.name}-{family}", resolution=resolution,
                            num_classes=self.num_classes)

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The deploy resolutions the space searches over (one, unless its YAML lists several)."""
        for choices in self.families.values():
            for choice in choices:
                if choice.name == RESOLUTION:
                    return tuple(choice.options[0])
        return (self.resolution,)

    def at_resolution(self, *resolutions: int) -> SearchSpace:
        """This space deployed at ``resolutions`` instead (several: searched over, as a YAML list would be)."""
        if not resolutions or any(not isinstance(r, int) or r <= 0 for r in resolutions):
            raise ConfigError(f"resolutions must be positive integers, got {list(resolutions)}")
        families = {fam: tuple(c for c in choices if c.name != RESOLUTION) + _resolution_choice(resolutions)
                    for fam, choices in self.families.items()}
        space = dataclasses.replace(self, resolution=resolutions[0], families=families)
        _check_values(space, self.path)
        return space

    def _missing_params(self, params: dict[str, Any]) -> list[str]:
        family = params.get("family")
        if family not in self.families:
            return ["family"]
        names = [n for c in self.families[family] for n in c.param_names(family)]
        return [n for n in names if n not in params]

    # -- presets --------------------------------------------------------------------------
    def preset_params(self, preset: str) -> dict[str, Any]:
        """Trial params that make this space build ``preset`` (at the space's resolution).

        Raises ConfigError if the preset's family or one of its values is not in the space.
        """
        from nas.models.presets import PRESETS

        p = PRESETS[preset]
        if p.family not in self.families:
            raise ConfigError(f"preset '{preset}': family '{p.family}' is not in space '{self.name}'")
        defaults = {
            k: v.default for k, v in inspect.signature(FAMILIES[p.family]).parameters.items()
            if v.default is not inspect.Parameter.empty
        }
        params: dict[str, Any] = {"family": p.family}
        for choice in self.families[p.family]:
            if choice.name == RESOLUTION:  # the preset's own resolution when the space has it
                own = p.config.resolution
                params[choice.param_names(p.family)[0]] = own if own in choice.options[0] else self.resolution
                continue
            value = p.choices.get(choice.name, defaults.get(choice.name))
            values = list(value) if choice.per_stage else [value]
            for pname, v, opts in zip(choice.param_names(p.family), values, choice.options):
                if v not in opts:
                    raise ConfigError(f"preset '{preset}': {pname} = {v!r} is not among {list(opts)}")
                params[pname] = v
        return params

    def presets_in_space(self) -> list[str]:
        """Names of the presets this space contains."""
        from nas.models.presets import PRESETS

        found = []
        for name in PRESETS:
            try:
                self.preset_params(name)
            except ConfigError:
                continue
            found.append(name)
        return found

    # -- enumeration ----------------------------------------------------------------------
    def enumerate(self, family: str | None = None) -> Iterator[dict[str, Any]]:
        """Every param dict of the space (or of one family), as trials would store them."""
        for fam in [family] if family else list(self.families):
            names = ["family"]
            option_lists: list[tuple[Scalar, ...]] = [(fam,)]
            for choice in self.families[fam]:
                names += choice.param_names(fam)
                option_lists += list(choice.options)
            for combo in itertools.product(*option_lists):
                yield dict(zip(names, combo))

    @property
    def content_hash(self) -> str:
        """Short sha256 of what decides the members (resolution, class count, every family's choices);
        the name, description and file path aside. Caches of results over the members key on it."""
        definition = {
            "resolution": self.resolution, "num_classes": self.num_classes,
            "families": {fam: [[c.name, c.per_stage, [list(o) for o in c.options]] for c in choices]
                         for fam, choices in self.families.items()},
        }
        return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]

    def size(self) -> int:
        """Number of distinct param dicts (architectures) in the space."""
        return sum(
            math.prod(len(o) for c in choices for o in c.options) for choices in self.families.values()
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain description (for `nas space show --json`)."""
        fams = {}
        for fam, choices in self.families.items():
            fams[fam] = {
                c.name: ({"per_stage": [list(o) for o in c.options]} if c.per_stage else list(c.options[0]))
                for c in choices if c.name != RESOLUTION
            }
        return {
            "name": self.name, "description": self.description, "resolution": self.resolution,
            "resolutions": list(self.resolutions),
            "num_classes": self.num_classes, "families": fams, "size": self.size(),
            "presets": self.presets_in_space(), "path": str(self.path) if self.path else None,
        }


# ----------------------------------------------------------------------------- loading
def space_dirs() -> list[Path]:
    """Folders searched for space YAML files: the shipped ``search_spaces/``."""
    return [data_dir("search_spaces")]


def list_spaces() -> dict[str, Path]:
    """Name -> path of every space file found."""
    found: dict[str, Path] = {}
    for folder in space_dirs():
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def load_space(name_or_path: str | Path = DEFAULT_SPACE) -> SearchSpace:
    """Load a space by name (shipped) or from a YAML path; errors name the file, key and problem."""
    ref = str(name_or_path)
    path = Path(ref)
    if not (ref.endswith((".yaml", ".yml")) or path.is_file()):
        spaces = list_spaces()
        if ref not in spaces:
            raise UnknownNameError("space", ref, list(spaces))
        path = spaces[ref]
    if not path.is_file():
        raise SpaceError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise SpaceError(f"{path}: not a text YAML file (a search space is YAML text, such as "
                         f"search_spaces/{DEFAULT_SPACE}.yaml)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())  # one line
        raise SpaceError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_space(data, path=path)


def _fail(path: Path | None, key: str, problem: str) -> SpaceError:
    return SpaceError(f"{path or '<space>'}: key '{key}': {problem}")


def parse_space(data: Any, *, path: Path | None = None) -> SearchSpace:
    """Validate a parsed YAML document and build the SearchSpace."""
    if not isinstance(data, dict):
        raise _fail(path, "(top)", "expected a mapping with name, resolution, families")
    allowed = {"name", "description", "resolution", "num_classes", "families"}
    for key in data:
        if key not in allowed:
            raise _fail(path, str(key), f"unknown key; accepted: {', '.join(sorted(allowed))}")
    name = data.get("name") or (path.stem if path else "space")
    for key, value in (("name", name), ("description", data.get("description", ""))):
        if not isinstance(value, str):
            raise _fail(path, key, f"must be a string, got {_show(value)}")
    resolution = data.get("resolution", 224)
    resolutions = resolution if isinstance(resolution, list) else [resolution]
    if not resolutions or any(not isinstance(r, int) or isinstance(r, bool) or r <= 0 for r in resolutions) \
            or len(set(resolutions)) != len(resolutions):
        raise _fail(path, "resolution", f"must be a positive integer or a list of distinct ones to search over, "
                                        f"got {_show(resolution)}")
    num_classes = data.get("num_classes", 1000)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes <= 0:
        raise _fail(path, "num_classes", f"must be a positive integer, got {_show(num_classes)}")
    fams = data.get("families")
    if not isinstance(fams, dict) or not fams:
        raise _fail(path, "families", f"must map family names ({', '.join(FAMILIES)}) to their choices")
    families: dict[str, tuple[Choice, ...]] = {}
    for fam, spec in fams.items():
        if fam not in FAMILIES:
            raise _fail(path, f"families.{fam}", f"unknown family; accepted: {', '.join(FAMILIES)}")
        families[fam] = _parse_family(fam, spec or {}, path) + _resolution_choice(resolutions)
    space = SearchSpace(name, data.get("description", "").strip(), resolutions[0], num_classes, families, path)
    _check_values(space, path)
    return space


def parse_resolutions(text: str) -> tuple[int, ...]:
    """``--resolution 256`` or ``224,256`` (what `nas search` and `nas space show` accept).

    Raises:
        UsageError: not a comma-separated list of distinct positive integers.
    """
    try:
        values = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        values = ()
    if not values or any(v <= 0 for v in values) or len(set(values)) != len(values):
        raise UsageError(f"--resolution {text!r}: give a positive integer or a comma-separated list of them, such as "
                         "256 or 224,256")
    return values


def _resolution_choice(resolutions: tuple[int, ...] | list[int]) -> tuple[Choice, ...]:
    """The per-family choice of a space with several resolutions (none for one)."""
    return (Choice(RESOLUTION, (tuple(resolutions),), per_stage=False),) if len(resolutions) > 1 else ()


def _parse_family(fam: str, spec: Any, path: Path | None) -> tuple[Choice, ...]:
    if not isinstance(spec, dict):
        raise _fail(path, f"families.{fam}", "expected a mapping of choice -> values")
    params = inspect.signature(FAMILIES[fam]).parameters
    accepted = [p for p in params if p not in ("name", "resolution")]
    choices = []
    for cname, raw in spec.items():
        key = f"families.{fam}.{cname}"
        if cname not in accepted:
            raise _fail(path, key, f"unknown choice; accepted: {', '.join(accepted)}")
        default = params[cname].default
        wants_tuple = isinstance(default, tuple) or cname in ("depths", "mixers")
        if isinstance(raw, dict):
            if set(raw) != {"per_stage"} or not isinstance(raw["per_stage"], list):
                raise _fail(path, key, "a mapping must be {per_stage: [[options of stage 1], ...]}")
            if not wants_tuple:
                raise _fail(path, key, "per_stage is only for per-stage choices (depths, mixers)")
            if isinstance(default, tuple) and len(raw["per_stage"]) != len(default):
                raise _fail(path, key, f"needs {len(default)} stages, got {len(raw['per_stage'])}")
            options = tuple(_options(o, fam, cname, f"{key}.per_stage[{i}]", path)
                            for i, o in enumerate(raw["per_stage"]))
            choices.append(Choice(cname, options, per_stage=True))
        else:
            if wants_tuple:
                raise _fail(path, key, "a per-stage choice needs {per_stage: [[...], ...]}")
            choices.append(Choice(cname, (_options(raw, fam, cname, key, path),), per_stage=False))
    given = {c.name for c in choices}
    for pname in accepted:
        if params[pname].default is inspect.Parameter.empty and pname not in given:
            raise _fail(path, f"families.{fam}", f"choice '{pname}' is missing (required: it has no default)")
    return tuple(choices)


def _options(raw: Any, fam: str, choice: str, key: str, path: Path | None) -> tuple[Scalar, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise _fail(path, key, "needs at least one value")
    for v in values:
        if not isinstance(v, (bool, int, float, str)):
            raise _fail(path, key, f"values must be numbers or strings, got {_show(v)}")
        problem = choice_problem(fam, choice, v)
        if problem:
            raise _fail(path, key, problem)
    if len({_show(v) for v in values}) != len(values):
        raise _fail(path, key, f"duplicate values in {_show(values)}")
    return tuple(values)


def _show(value: Any) -> str:
    """A value as the YAML/JSON reader wrote it (true, null, "text"), not as Python prints it."""
    return json.dumps(value, default=str)


def _check_values(space: SearchSpace, path: Path | None) -> None:
    """Build each family from the first option of every choice, then with every single option in turn, so
    a bad value names its key (and a problem of the space itself, such as its resolution, names that)."""
    for fam, choices in space.families.items():
        base = {c.name: [o[0] for o in c.options] if c.per_stage else c.options[0][0] for c in choices}
        base.pop(RESOLUTION, None)
        for resolution in space.resolutions:  # a resolution the networks cannot take is blamed on itself
            try:
                build_family(fam, base, name=space.name, resolution=resolution)
            except ConfigError as exc:
                field = re.match(r"field '([a-z_]+)", str(exc))
                culprit = next((c for c in choices if field and c.name == field.group(1)), None)
                if culprit and not culprit.per_stage:
                    key, problem = f"families.{fam}.{culprit.name}", f"value {_show(base[culprit.name])} is invalid"
                elif field and field.group(1) == "resolution":
                    key, problem = "resolution", f"{resolution} does not fit family {fam}"
                else:
                    key, problem = f"families.{fam}", "its networks do not build"
                raise _fail(path, key, f"{problem}: {exc}") from None
        for choice in choices:
            for stage, opts in enumerate(choice.options):
                for v in opts:
                    values = {**base, RESOLUTION: space.resolution}
                    if choice.per_stage:
                        values[choice.name] = [*base[choice.name][:stage], v, *base[choice.name][stage + 1:]]
                    else:
                        values[choice.name] = v
                    resolution = values.pop(RESOLUTION, space.resolution)
                    try:
                        build_family(fam, values, name=space.name, resolution=resolution)
                    except ConfigError as exc:
                        key = f"families.{fam}.{choice.name}" + (f".per_stage[{stage}]" if choice.per_stage else "")
                        if choice.name == RESOLUTION:
                            key = "resolution"
                        raise _fail(path, key, f"value {_show(v)} is invalid: {exc}") from None
