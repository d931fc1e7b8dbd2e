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


def test_bare_decorator_registers_a_class_under_its_name():
    reg: Registry = Registry("widget")

    @reg.register()
    class Gear:
        name = "gear"

    assert reg["gear"] is Gear
    with pytest.raises(ValueError, match="widget name must be a non-empty string"):
        reg.register()(len)  # no ``name`` attribute
    with pytest.raises(ValueError, match="needs its name"):
        reg.register(None, 1)


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


def _plugin_package(root, name: str, modules: dict[str, str]) -> None:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from nas.registry import Registry\nREG = Registry('widget', plugins=__name__)\n")
    for module, source in modules.items():
        path = pkg / f"{module.replace('.', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_plugin_package_is_imported_on_first_use(tmp_path, monkeypatch):
    register = "from {pkg} import REG\nREG.register('{name}', 1)\n"
    _plugin_package(tmp_path, "widgets_pkg", {
        "b_one": register.format(pkg="widgets_pkg", name="one"),
        "sub/__init__": "",
        "sub/two": register.format(pkg="widgets_pkg", name="two"),
        "__main__": "raise SystemExit('a script, never imported')\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    import widgets_pkg

    try:
        assert "widgets_pkg.b_one" not in sys.modules  # importing the package loads no plug-in
        assert widgets_pkg.REG.names() == ["one", "two"]  # subpackages too, in file order
        assert "widgets_pkg.__main__" not in sys.modules
    finally:
        for module in [m for m in sys.modules if m.startswith("widgets_pkg")]:
            sys.modules.pop(module)


def test_a_broken_plugin_fails_every_use_alike(tmp_path, monkeypatch):
    _plugin_package(tmp_path, "broken_pkg", {"bad": "raise ImportError('needs a missing package')\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    import broken_pkg

    try:
        for _ in range(2):  # not silently empty the second time
            with pytest.raises(ImportError, match="missing package"):
                "x" in broken_pkg.REG  # noqa: B015
    finally:
        for module in [m for m in sys.modules if m.startswith("broken_pkg")]:
            sys.modules.pop(module)
