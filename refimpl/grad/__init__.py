"""Analytic gradients (vector-Jacobian products) of the float64 references, in NumPy.

``refimpl.grad.<loss>(*tensors, **same_kwargs_as_the_reference, grad_output=None)``
returns ``{arg: vjp, arg + "__mag": magnitude}`` for each differentiable floating
input: exactly what ``loss.backward(grad_output)`` would leave in ``arg.grad`` in
exact arithmetic, with torch's conventions at the non-differentiable points (each
module's docstring states its formula, source and conventions), plus a non-negative
magnitude scale for rounding-error bounds (see ``refimpl.grad._common``).
``grad_output`` is a scalar (default 1) for reduced losses and an array of the
unreduced terms' shape (default ones) for reduction 'none'.

Differentiated inputs: mse / huber / smooth_l1 / bce / bce_with_logits / kl_div: input
and target; cross_entropy: input (and target for probability targets); focal: inputs;
hinge_embedding / dice: input; triplet_margin: anchor, positive, negative;
cosine_embedding / contrastive: input1, input2.

Verified against central finite differences of the references
(``tests/test_reference_gradients.py``).  No torch import.
"""

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
DIFFERENTIABLE = {
    "mse": ("input", "target"),
    "huber": ("input", "target"),
    "smooth_l1": ("input", "target"),
    "cross_entropy": ("input", "target"),  # target only when it is a probability target
    "bce": ("input", "target"),
    "bce_with_logits": ("input", "target"),
    "focal": ("inputs",),
    "kl_div": ("input", "target"),
    "hinge_embedding": ("input",),
    "triplet_margin": ("anchor", "positive", "negative"),
    "cosine_embedding": ("input1", "input2"),
    "contrastive": ("input1", "input2"),
    "dice": ("input",),
}

__all__ = [
    "DIFFERENTIABLE", "bce", "bce_with_logits", "contrastive", "cosine_embedding", "cross_entropy", "dice", "focal",
    "hinge_embedding", "huber", "kl_div", "mse", "smooth_l1", "triplet_margin",
]
