"""Float64 NumPy/SciPy reference implementations of the lossproof losses.

One function per loss, each mirroring the full parameter surface of the
function it checks (see each module's docstring for the formula and source).
Each loss is a module ``refimpl/<loss>.py`` defining the function of its name, discovered
here (a new loss adds its module, nothing else).  No torch import anywhere in this package.  ``refimpl.exact`` holds the
high-precision (mpmath) evaluations that verify these references.
"""

import importlib
import pkgutil

#: the reference modules, one per loss (not the private helpers, the gradients or the mpmath transcriptions)
__all__ = sorted(m.name for m in pkgutil.iter_modules(__path__)
                 if not m.name.startswith("_") and m.name not in ("grad", "exact"))
for _name in __all__:
    globals()[_name] = getattr(importlib.import_module(f"{__name__}.{_name}"), _name)
