"""Analytic gradients (vector-Jacobian products) of the float64 references, in NumPy.

``refimpl.grad.<loss>(*tensors, **same_kwargs_as_the_reference, grad_output=None)``
returns ``{arg: vjp, arg + "__mag": magnitude}`` for each differentiable floating
input: exactly what ``loss.backward(grad_output)`` would leave in ``arg.grad`` in
exact arithmetic, with torch's conventions at the non-differentiable points (each
module's docstring states its formula, source and conventions), plus a non-negative
magnitude scale for rounding-error bounds (see ``refimpl.grad._common``).
``grad_output`` is a scalar (default 1) for reduced losses and an array of the
unreduced terms' shape (default ones) for reduction 'none'.

Differentiated arguments (``DIFFERENTIABLE``, the one map the gradient checks use): every
floating tensor the loss is a differentiable function of, positional or keyword -- the
weights too (``weight``, ``pos_weight``: a learnt or data-dependent weighting back-propagates
into them), targets wherever they are real numbers (regression targets, probability targets,
soft labels, Dice's target).  Not differentiated: class indices (integers) and the +-1 labels
of the hinge, cosine and contrastive embedding losses (the loss is piecewise constant in them:
only +-1 is admitted).  Where torch 2.13 refuses an argument (BCE's and BCE-with-logits'
weights, cross_entropy's class weight with index targets) the gradient is still defined
here; the refusal is a recorded known deviation (properties/known_deviations.toml).

Verified against central finite differences of the references
(``tests/test_reference_gradients.py``).  No torch import.
"""

import importlib
import pkgutil

import numpy as np

#: the loss modules (``refimpl/grad/<loss>.py``, discovered: a new loss adds its module, nothing here)
_MODULES = {m.name: importlib.import_module(f"{__name__}.{m.name}")
            for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
for _name, _module in _MODULES.items():
    globals()[_name] = getattr(_module, _name)

#: the differentiated arguments of each loss: positional ones in call order, then keyword ones
#: (each module's ``DIFFERENTIABLE``)
DIFFERENTIABLE = {name: module.DIFFERENTIABLE for name, module in _MODULES.items()}

#: targets that are labels when every entry is 0 or 1 (a module's ``LABELS_WHEN_HARD``: focal's)
LABELS_WHEN_HARD = {name: module.LABELS_WHEN_HARD for name, module in _MODULES.items()
                    if hasattr(module, "LABELS_WHEN_HARD")}


def differentiated(loss: str, args: dict, kwargs: dict) -> list[str]:
    """The arguments of ``DIFFERENTIABLE[loss]`` present in a call as floating arrays (positional
    ``args`` or keyword ``kwargs``, name -> value): class-index targets and absent weights drop out,
    and so do ``LABELS_WHEN_HARD`` targets whose every entry is 0 or 1."""
    present = {**kwargs, **args}
    floating = lambda n: getattr(present[n], "dtype", None) is not None and present[n].dtype.kind == "f"
    hard = lambda n: n in LABELS_WHEN_HARD.get(loss, ()) and bool(np.all((present[n] == 0) | (present[n] == 1)))
    return [n for n in DIFFERENTIABLE[loss] if n in present and floating(n) and not hard(n)]

__all__ = ["DIFFERENTIABLE", "LABELS_WHEN_HARD", "differentiated", *_MODULES]
