"""Agent Identity Lab: the services and teaching aids behind the notebooks."""

from __future__ import annotations

from typing import Any

__all__ = ["Lab", "start_lab"]


def __getattr__(name: str) -> Any:
    # Lazy: child processes (deployed agents) import helpers.* submodules and must not pay
    # for importing the whole lab.
    if name in __all__:
        from . import lab

        return getattr(lab, name)
    raise AttributeError(name)
