"""The loss specs, one record per loss, gathered into ``SPECS``.

Each loss is a module ``properties/specs/<loss>.py`` defining ``SPEC`` (a ``properties.spec.LossSpec``:
its input domain, error budget, parameters); the modules are discovered here, so a new loss adds its
module and nothing else.  Modules whose name starts with ``_`` hold strategies several losses share.
"""

from __future__ import annotations

import importlib
import pkgutil

SPECS = {}
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    _spec = importlib.import_module(f"{__name__}.{_module}").SPEC
    if _spec.name != _module:
        raise ImportError(f"properties/specs/{_module}.py defines the spec of {_spec.name!r}: a loss's module is named after it")
    SPECS[_spec.name] = _spec
