"""The loss specs, one record per loss, gathered into ``SPECS``.

Each loss is a module ``properties/specs/<loss>.py`` defining ``SPEC`` (a ``properties.spec.LossSpec``:
its input domain, error budget, parameters); the modules are discovered here, so a new loss adds its
module and nothing else.  Modules whose name starts with ``_`` hold strategies several losses share.
"""

from __future__ import annotations

import importlib
import pkgutil

#: loss name -> its unit (the module)
UNITS = {m.name: importlib.import_module(f"{__name__}.{m.name}")
         for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name) if not m.name.startswith("_")}
for _name, _unit in UNITS.items():
    if _unit.SPEC.name != _name:
        raise ImportError(f"properties/specs/{_name}.py defines the spec of {_unit.SPEC.name!r}: a loss's unit is named after it")

#: loss name -> its ``LossSpec``
SPECS = {name: unit.SPEC for name, unit in UNITS.items()}
