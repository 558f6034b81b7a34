"""Sub-packages that load their modules on first use (`sl.nets.arms`), so validating a profile
or reading a table never imports torch."""
from __future__ import annotations

import importlib
from typing import Callable


def submodule_loader(package: str, submodules: tuple[str, ...]):
    """A module-level `__getattr__` (PEP 562) that imports `package.<name>` when first asked."""
    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__


def lazy_function(package: str, module: str, name: str) -> Callable:
    """`package.module.name`, imported when first called: a package registers a function of
    its own (an arm kind's runner) without loading that module, and torch, until it runs."""
    def call(*args, **kwargs):
        return getattr(importlib.import_module(f"{package}.{module}"), name)(*args, **kwargs)
    call.__qualname__ = call.__name__ = name
    call.__module__ = f"{package}.{module}"
    return call
