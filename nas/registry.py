"""One registry helper behind every "name -> thing" table of the tool.

Presets, families, token mixers, latency backends, proxies, samplers, exporters and dataset loaders are
all looked up by name from the command line, the YAML spaces and the run folders. A :class:`Registry`
gives them the same behaviour:

- ``@REG.register("name")`` on a function or class, or ``REG.register("name", obj)``; a bare
  ``@REG.register()`` registers a class under its own ``name`` attribute (backends, proxies);
- ``REG.register("name", "package.module:attr")`` registers a *lazy* entry: listing names (``list(REG)``,
  the CLI's choices and help) imports nothing, the module is imported on the first lookup of that name;
- a duplicate name is refused (:class:`DuplicateNameError`), so two plug-ins cannot silently shadow
  each other;
- ``REG[name]`` of an unknown name raises :class:`nas.errors.UnknownNameError`
  ("unknown <what> '<name>'; known: ...");
- names iterate in registration order;
- ``Registry(what, plugins="package")`` makes a *plug-in package*: on the registry's first use (a lookup,
  ``in``, listing) every module of that package, subpackages included, is imported, so the decorators in
  them register their entries. A new plug-in is then one new module in the package, listed by the CLI
  without an edit anywhere else; a module that fails to import fails that first use, loudly.

A registry is a read-only ``Mapping`` (``name in REG``, ``REG.items()``, ``dict(REG)`` work), so code that
used plain dicts keeps working.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

from nas.errors import UnknownNameError

T = TypeVar("T")


class DuplicateNameError(ValueError):
    """A name registered twice in one registry (a programming error, not user input)."""


class _Lazy:
    """A ``"module:attr"`` reference resolved on first lookup."""

    __slots__ = ("ref",)

    def __init__(self, ref: str):
        module, sep, attr = ref.partition(":")
        if not (module and sep and attr):
            raise ValueError(f"lazy registry entry '{ref}' must read 'package.module:attr'")
        self.ref = ref

    def resolve(self) -> Any:
        module, _, attr = self.ref.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


class Registry(Mapping[str, T], Generic[T]):
    """Named entries of one kind (``what`` names the kind in errors: "preset", "runtime", ...)."""

    def __init__(self, what: str, *, plugins: str | None = None):
        """Args:
            what: the kind of entry, as error messages name it.
            plugins: a package whose modules register entries here; imported on first use.
        """
        self.what = what
        self.plugins = plugins
        self._entries: dict[str, Any] = {}
        self._plugins_loaded = plugins is None

    @overload
    def register(self, name: str | None = None) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T | str) -> T | str: ...

    def register(self, name: str | None = None, obj: Any = None) -> Any:
        """Register ``obj`` under ``name``; without ``obj``, a decorator that registers what it decorates
        (under its ``name`` attribute when ``name`` is not given).

        A string ``obj`` of the form ``"package.module:attr"`` is a lazy entry (imported on first lookup).

        Raises:
            DuplicateNameError: ``name`` is already registered.
        """
        if obj is None:
            def deco(target: T) -> T:
                self._add(getattr(target, "name", None) if name is None else name, target)
                return target

            return deco
        if name is None:
            raise ValueError(f"registering an object in the {self.what} registry needs its name")
        self._add(name, _Lazy(obj) if isinstance(obj, str) else obj)
        return obj

    def _add(self, name: str, entry: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise DuplicateNameError(f"{self.what} '{name}' is already registered")
        self._entries[name] = entry

    def _load_plugins(self) -> None:
        """Import every module of the plug-in package once (they register themselves as they load)."""
        if self._plugins_loaded:
            return
        assert self.plugins is not None
        self._plugins_loaded = True  # a plug-in that reads this registry while it loads sees it as is
        try:
            _import_package(self.plugins)
        except BaseException:
            self._plugins_loaded = False  # the next use tries again, and fails again in the same words
            raise

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for plug-ins loaded by tests); unknown names raise UnknownNameError."""
        self._load_plugins()
        if name not in self._entries:
            raise UnknownNameError(self.what, name, list(self._entries))
        del self._entries[name]

    def __getitem__(self, name: str) -> T:
        """The entry registered as ``name`` (a lazy entry is imported now).

        Raises:
            UnknownNameError: no such name; the message lists the known ones.
        """
        self._load_plugins()
        try:
            entry = self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.what, str(name), list(self._entries)) from None
        if isinstance(entry, _Lazy):
            entry = entry.resolve()
            self._entries[name] = entry
        return entry

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        """The entry of ``name``, or ``default`` when there is none (no error)."""
        return self[name] if name in self else default

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        self._load_plugins()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._entries)

    def names(self) -> list[str]:
        """Every registered name, in registration order (imports no lazy entry; a plug-in package is
        imported on the registry's first use)."""
        self._load_plugins()
        return list(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"


def _import_package(name: str) -> None:
    """Import the package ``name`` and every module below it (``__main__`` modules are scripts: skipped)."""
    package = importlib.import_module(name)
    for info in pkgutil.iter_modules(getattr(package, "__path__", []), prefix=f"{name}."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        if info.ispkg:
            _import_package(info.name)
        else:
            importlib.import_module(info.name)
