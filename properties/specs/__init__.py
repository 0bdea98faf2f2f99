"""The loss specs, one record per loss, gathered into ``SPECS``.

Each loss is a module ``properties/specs/<loss>.py``, its unit: everything the suite knows about it --
``SPEC`` (a ``properties.spec.LossSpec``: input domain, error budget, parameters), its own edge-case rows
(``EDGE_ROWS``), invariants (``INVARIANTS``), valid call and bad inputs (``VALID_CALL``, ``BAD_INPUTS``),
its gradient knowledge (``away_from_kinks``, ``at_coincidence``, ``REFUSED``, ``GRADIENT_ROWS``,
``SUBGRADIENT_ROWS``, ``FINITE_DIFFERENCES``) and the wrong implementations its invariants catch
(``INVARIANT_MUTANTS``).  Its reference, analytic gradient and mpmath transcription are
``refimpl/<loss>.py``, ``refimpl/grad/<loss>.py`` and ``refimpl/exact/<loss>.py``; its recorded deviations
are in ``properties/known_deviations.toml``.  The modules are discovered here, so a new loss adds its
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
