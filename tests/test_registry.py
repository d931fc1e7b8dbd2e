"""The one registry helper: registration, lazy entries, duplicate names, unknown names."""

from __future__ import annotations

import sys

import pytest

from nas.errors import UnknownNameError
from nas.registry import DuplicateNameError, Registry


def test_decorator_and_call_register_in_order():
    reg: Registry = Registry("widget")

    @reg.register("b")
    def b() -> str:
        return "b"

    reg.register("a", len)
    assert list(reg) == ["b", "a"] == reg.names()
    assert reg["b"] is b and reg["a"] is len and "a" in reg and "c" not in reg
    assert dict(reg) == {"b": b, "a": len} and len(reg) == 2


def test_duplicate_name_is_refused():
    reg: Registry = Registry("widget")
    reg.register("a", 1)
    with pytest.raises(DuplicateNameError, match="widget 'a' is already registered"):
        reg.register("a", 2)
    assert reg["a"] == 1


def test_unknown_name_lists_the_known_ones():
    reg: Registry = Registry("widget")
    reg.register("x", 1)
    reg.register("y", 2)
    with pytest.raises(UnknownNameError, match=r"unknown widget 'z'; known: x, y"):
        reg["z"]
    assert reg.get("z") is None and reg.get("z", 5) == 5
    with pytest.raises(UnknownNameError):
        reg.unregister("z")


def test_lazy_entry_imports_on_first_lookup_only(tmp_path, monkeypatch):
    (tmp_path / "lazy_plugin_mod.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry = Registry("widget")
    reg.register("lazy", "lazy_plugin_mod:VALUE")
    assert reg.names() == ["lazy"] and "lazy_plugin_mod" not in sys.modules  # listing imports nothing
    assert reg["lazy"] == 42 and "lazy_plugin_mod" in sys.modules
    sys.modules.pop("lazy_plugin_mod")


def test_bad_lazy_reference_is_refused():
    with pytest.raises(ValueError, match="package.module:attr"):
        Registry("widget").register("x", "no_colon_here")


def test_unregister_frees_the_name():
    reg: Registry = Registry("widget")
    reg.register("a", 1)
    reg.unregister("a")
    reg.register("a", 2)
    assert reg["a"] == 2


def test_shipped_registries_answer_unknown_names_alike():
    from nas.latency.backends import BACKENDS
    from nas.models.families import FAMILIES
    from nas.models.presets import PRESETS

    for reg, what in ((PRESETS, "preset"), (FAMILIES, "family"), (BACKENDS, "runtime")):
        with pytest.raises(UnknownNameError, match=f"unknown {what} 'nope'; known: "):
            reg["nope"]
