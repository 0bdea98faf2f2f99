"""Gradient of ``refimpl.cosine_embedding`` (``torch.nn.functional.cosine_embedding_loss``).

With A = |a|^2 + EPS, B = |b|^2 + EPS (EPS = float32(1e-12), torch's), S = sqrt(A B),
cos = <a, b> / S, per row:

    d cos / d a = b / S - cos a / A          d cos / d b = a / S - cos b / B
    term = 1 - cos (y = 1):              d term = -d cos
           max(0, cos - margin) (y = -1): d term = d cos if cos - margin >= 0 else 0
    times gbar = grad_output ('none'), g ('sum'), g / N ('mean').

Conventions: EPS keeps everything finite for a zero vector (cos = 0, d cos/da = b / S);
torch's ``(cos - margin).clamp_min_(0)`` backward passes the gradient where
cos - margin >= 0, so at cos == margin exactly the gradient is d cos (not 0).
mag: ``(|b| / S + c' |a| / A) |gbar|`` (and symmetrically), where the term is active, with
c' = sum |a_i b_i| / S >= |cos|: the computed cos inherits the dot product's cancellation
(measured: float16, <a, b> = 2.548 - 2.549, a gradient entry 173 ulp off against |cos|).
Source: ATen ``cosine_embedding_loss`` (Loss.cpp), a composite differentiated by autograd.
"""

from __future__ import annotations

import numpy as np

from .. import cosine_embedding as _reference
from .._common import as_f64
from ..cosine_embedding import EPSILON
from ._common import expand_rows, pack, per_term

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input1', 'input2')  # target: +-1 labels



def cosine_embedding(input1, input2, target, margin: float = 0.0, reduction: str = "mean", grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.cosine_embedding`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

    Per row, A = |a|^2 + EPS, B = |b|^2 + EPS (EPS = float32(1e-12)), S = sqrt(A B), cos = <a, b> / S,
    gbar = grad_output ('none'), g ('sum'), g / N ('mean'):
        d cos / d a = b / S - cos a / A,      d cos / d b = a / S - cos b / B
        y = 1:  d/da = -gbar d cos / d a;     y = -1: d/da = gbar d cos / d a where cos - margin >= 0, else 0
        (likewise d/db; at cos == margin the gradient passes: torch's clamp_min backward)

    Parameters:
        input1, input2, target, margin, reduction: as for :func:`refimpl.cosine_embedding`, which is called
            to validate them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: (N,) or 0-d.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input1" and "input2" (the inputs' shape), plus "input1__mag" /
    "input2__mag", a non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``):
    (|b| / S + c' |a| / A) |gbar| where the term is active (and symmetrically), c' = sum |a_k b_k| / S.
    The target (+-1 labels) is not differentiated.
    Source: ATen ``cosine_embedding_loss`` (Loss.cpp), a composite differentiated by autograd.
    """
    _reference(input1, input2, target, margin=margin, reduction=reduction)  # validates
    a, b, y = as_f64("input1", input1), as_f64("input2", input2), as_f64("target", target)
    big_a = np.sum(a * a, axis=-1) + EPSILON
    big_b = np.sum(b * b, axis=-1) + EPSILON
    s = np.sqrt(big_a * big_b)
    cos = np.sum(a * b, axis=-1) / s
    gbar = per_term(grad_output, reduction, y.shape)
    with np.errstate(invalid="ignore"):
        factor = np.where(y == 1, -gbar, np.where(cos - float(margin) >= 0, gbar, 0.0))
    cos_mag = np.sum(np.abs(a * b), axis=-1) / s
    f, c, S, cm = expand_rows(factor), expand_rows(cos), expand_rows(s), expand_rows(cos_mag)
    A, B = expand_rows(big_a), expand_rows(big_b)
    ga = (b / S - c * a / A) * f
    gb = (a / S - c * b / B) * f
    ma = (np.abs(b) / S + cm * np.abs(a) / A) * np.abs(f)
    mb = (np.abs(a) / S + cm * np.abs(b) / B) * np.abs(f)
    return pack(input1=(ga, ma), input2=(gb, mb))
