"""Every module declares ``__all__`` and exports what it claims."""

from __future__ import annotations

import importlib
import pkgutil

import app


def test_every_module_exports_what_it_declares() -> None:
    for mod in pkgutil.walk_packages(app.__path__, "app."):
        if mod.name == "app.__main__":
            continue
        module = importlib.import_module(mod.name)
        assert hasattr(module, "__all__"), mod.name
        for name in module.__all__:
            assert hasattr(module, name), f"{mod.name}.{name}"


def test_core_imports_neither_faust_nor_kafka() -> None:
    import subprocess
    import sys

    code = (
        "import sys, app.stages, app.offline, app.events, app.windows, "
        "app.features, app.detectors, app.alerts, app.stream.driver, app.stream.memory\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('faust', 'kafka', 'aiokafka')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
