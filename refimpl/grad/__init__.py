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
of hinge_embedding / cosine_embedding / contrastive (the loss is piecewise constant in them:
only +-1 is admitted).  Where torch 2.13 refuses an argument (BCE's and BCE-with-logits'
weights, cross_entropy's class weight with index targets) the gradient is still defined
here; the refusal is a recorded known deviation (properties/known_deviations.toml).

Verified against central finite differences of the references
(``tests/test_reference_gradients.py``).  No torch import.
"""

import numpy as np

from .bce import bce
from .bce_with_logits import bce_with_logits
from .contrastive import contrastive
from .cosine_embedding import cosine_embedding
from .cross_entropy import cross_entropy
from .dice import dice
from .focal import focal
from .hinge_embedding import hinge_embedding
from .huber import huber
from .kl_div import kl_div
from .mse import mse
from .smooth_l1 import smooth_l1
from .triplet_margin import triplet_margin

#: the differentiated arguments of each loss, in call order
#: the differentiated arguments of each loss: positional ones in call order, then keyword ones
DIFFERENTIABLE = {
    "mse": ("input", "target", "weight"),
    "huber": ("input", "target", "weight"),
    "smooth_l1": ("input", "target"),
    "cross_entropy": ("input", "target", "weight"),  # target only when it is a probability target
    "bce": ("input", "target", "weight"),
    "bce_with_logits": ("input", "target", "weight", "pos_weight"),
    "focal": ("inputs", "targets"),
    "kl_div": ("input", "target"),
    "hinge_embedding": ("input",),  # target: +-1 labels
    "triplet_margin": ("anchor", "positive", "negative"),
    "cosine_embedding": ("input1", "input2"),  # target: +-1 labels
    "contrastive": ("input1", "input2"),  # target: +-1 labels
    "dice": ("input", "target"),
}


#: targets that are labels when every entry is 0 or 1: focal's.  Its contract (torchvision) extends the
#: loss to soft targets, but other implementations extend it differently (kornia's t alpha (1-p)^gamma
#: (-log p) + ..., MONAI's exp(gamma logsigmoid(-x (2t - 1)))): the same values on {0, 1}, different
#: derivatives there.  A hard-label case has no contract derivative w.r.t. them; a soft one does.
LABELS_WHEN_HARD = {"focal": ("targets",)}


def differentiated(loss: str, args: dict, kwargs: dict) -> list[str]:
    """The arguments of ``DIFFERENTIABLE[loss]`` present in a call as floating arrays (positional
    ``args`` or keyword ``kwargs``, name -> value): class-index targets and absent weights drop out,
    and so do ``LABELS_WHEN_HARD`` targets whose every entry is 0 or 1."""
    present = {**kwargs, **args}
    floating = lambda n: getattr(present[n], "dtype", None) is not None and present[n].dtype.kind == "f"
    hard = lambda n: n in LABELS_WHEN_HARD.get(loss, ()) and bool(np.all((present[n] == 0) | (present[n] == 1)))
    return [n for n in DIFFERENTIABLE[loss] if n in present and floating(n) and not hard(n)]

__all__ = [
    "DIFFERENTIABLE", "differentiated", "bce", "bce_with_logits", "contrastive", "cosine_embedding", "cross_entropy", "dice", "focal",
    "hinge_embedding", "huber", "kl_div", "mse", "smooth_l1", "triplet_margin",
]
