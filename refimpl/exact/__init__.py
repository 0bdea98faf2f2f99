"""High-precision (mpmath) evaluations that verify the float64 references, one module per loss
(``refimpl/exact/<loss>.py``, discovered: a new loss adds its module, nothing here).

Every float64 reference in :mod:`refimpl` is trusted only after it agrees with
the function of the same name here.  Each function below is an independent,
textbook transcription of the loss's mathematics plus the semantics of the
PyTorch (or torchvision / MONAI) function it mirrors, evaluated in mpmath at
``_DPS`` (60) significant digits inside a local ``mpmath.workdps`` context; the
global ``mpmath.mp`` precision is never changed.

Conventions
-----------
* Inputs are float64 arrays (each element converted exactly with
  ``mpmath.mpf(float(v))``), integer arrays for class indices, and Python
  scalars for parameters; signatures match the float64 references.
* Outputs are ``numpy`` arrays of ``dtype=object`` holding ``mpmath.mpf``
  values, shaped exactly as torch's result (0-d for reduced results).  Undefined
  results (a mean over nothing, 0/0) are ``mpf('nan')``.
* No float64 stabilisation tricks are copied.  The plain formula is used, and
  an exact algebraic identity replaces it only where the plain form would
  cancel catastrophically even at 60 digits (the identity is named in the
  function's docstring): ``log(1 - x)`` is evaluated as ``log1p(-x)``,
  ``-log(sigmoid(z))`` as ``log1p(exp(-z))``, ``log_softmax`` as
  ``-log1p(sum_{j != c} exp(x_j - x_c))``, and the cosine / Dice ``1 - a/b``
  as ``(b - a)/b`` with ``b - a`` formed in exact arithmetic.  mpmath has an
  unbounded exponent range, so ``exp`` of any finite float64 never overflows.
* Light validation only (reduction strings, obviously invalid parameters),
  raising ``ValueError``; the float64 references validate thoroughly.
"""

from __future__ import annotations

import importlib
import pkgutil

import mpmath  # noqa: F401 -- refimpl.exact.mpmath, for callers that build mpf inputs

__all__ = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
for _name in __all__:
    globals()[_name] = getattr(importlib.import_module(f"{__name__}.{_name}"), _name)
