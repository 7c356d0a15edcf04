"""The runtime: the stage driver, its ports and in-memory backends, and the faust app.

:class:`~app.runtime.driver.StageDriver` drives the stages (apply, publish, checkpoint,
take, idle marks) through the interfaces of :mod:`app.runtime.ports`; :mod:`app.runtime.app`
wires faust and Kafka to it (thin agents: decode → driver → emit). Importing this
package does not import faust: ``create_app`` and ``run_worker`` load it when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.runtime.app import create_app
    from app.runtime.worker import run_worker

__all__ = ["create_app", "run_worker"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.runtime.app import create_app

        return create_app
    if name == "run_worker":
        from app.runtime.worker import run_worker

        return run_worker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
