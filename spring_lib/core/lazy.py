"""Sub-packages that load their modules on first use (`sl.nets.arms`), so validating a profile
or reading a table never imports torch."""
from __future__ import annotations

import importlib


def submodule_loader(package: str, submodules: tuple[str, ...]):
    """A module-level `__getattr__` (PEP 562) that imports `package.<name>` when first asked."""
    def __getattr__(name):
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
