"""Modules loaded on first use, so that a command's help, or a command that does not need
them, starts without them (`medperf --help` and `medperf container ls` are measured by
bench/cli_latency.py)."""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for a module until an attribute of it is first asked for."""

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def _load(self) -> ModuleType:
        return importlib.import_module(object.__getattribute__(self, "_name"))

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)


def module(name: str) -> LazyModule:
    return LazyModule(name)
