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


def _imported_after(imports: str) -> list[str]:
    """Top-level packages in ``sys.modules`` after ``imports`` runs in a fresh interpreter."""
    import json
    import subprocess
    import sys

    code = f"import json, sys\n{imports}\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


_IO = ("faust", "mode", "kafka", "aiokafka", "prometheus_client")


def test_core_imports_no_runtime_library() -> None:
    """Every module under app.core, imported together: no faust, Kafka or Prometheus."""
    import app.core

    modules = sorted(m.name for m in pkgutil.walk_packages(app.core.__path__, "app.core."))
    assert "app.core.stages.account" in modules  # the walk found the tree
    loaded = _imported_after("\n".join(f"import {m}" for m in modules))
    bad = [m for m in loaded if m.split(".")[0] in _IO]
    assert not bad, bad
    outside = [m for m in loaded if m.startswith(("app.runtime", "app.tools", "app.enforce"))]
    assert not outside, f"app.core imports outside the core: {outside}"


def test_offline_path_and_stage_driver_import_neither_faust_nor_kafka() -> None:
    """``detect``/``evaluate`` and the runtime's driver and in-memory fakes stay off faust
    and Kafka (faust is loaded only by app.runtime.app; Kafka clients only when used)."""
    loaded = _imported_after(
        "import app.tools.offline, app.tools.evaluate, app.runtime, "
        "app.runtime.driver, app.runtime.memory, app.runtime.host"
    )
    bad = [m for m in loaded if m.split(".")[0] in ("faust", "mode", "kafka", "aiokafka")]
    assert not bad, bad
