"""Gradient of ``refimpl.focal`` (``torchvision.ops.sigmoid_focal_loss``) w.r.t. the logits and the targets.

With sigma = sigmoid, u = 1 - p_t = t sigma(-x) + (1 - t) sigma(x), ce = the BCE-with-logits
term and A = alpha t + (1 - alpha)(1 - t) (1 when alpha < 0), loss = A ce u^gamma:

    d ce / dx = sigma(x) - t = (1 - t) sigma(x) - t sigma(-x)
    d u / dx  = (1 - 2t) sigma(x) sigma(-x)
    d loss / dx = A u^gamma [ (1-t) sigma(x) - t sigma(-x) + gamma ce (1 - 2t) r ]
    r = sigma(x) sigma(-x) / u = 1 / (1 + t e^-x + (1 - t) e^x)
    times gbar = grad_output ('none', the default), g ('sum'), g / n ('mean').

``r`` in its last form is a reciprocal of a sum of non-negative terms (an ``e^+-x``
that overflows makes r = 0, its limit; a zero coefficient times an infinite exponential
counts 0, as the reference's convention), so the gradient is finite and accurate for
every finite logit, also where u underflows to 0 (``u^gamma / u`` never formed).
Convention: u > 0 for every finite x, so the loss is smooth (no kinks).  Torch(vision)'s
autograd through ``(1 - p_t) ** gamma`` gives NaN (``0^(gamma-1) * 0``) where ``1 - p_t``
rounds to 0 and 0 < gamma < 1 (saturated logit, hard target); this returns the
mathematical value (0 in the limit), a documented difference from autograd there.
The targets (soft targets in [0, 1]; torchvision differentiates them through autograd) with
A' = dA/dt = 2 alpha - 1 (0 when alpha < 0), d ce / dt = softplus(-x) - softplus(x) = -x and
d u / dt = sigma(-x) - sigma(x):

    d loss / dt = u^gamma [A' ce - A x] + A gamma ce u^(gamma-1) (sigma(-x) - sigma(x))
    times gbar.

``ce u^(gamma-1)`` is formed as ``(ce / u) u^gamma`` (ce / u stays O(1 + |x|) where u is tiny:
ce ~ u there), and is 0 where u^gamma underflows to 0 (its limit).
mag (target): the summands, each times the condition of its cancelling factors as for the
input: ``|gbar| [(|A'| CE + |A| (sp(x) + sp(-x))) (U^gamma + 2 gamma U^(gamma-1))
+ |A| gamma CE (1 + 2 p) (U^(gamma-1) + 2 |gamma-1| U^(gamma-2))]`` (sp: softplus; CE = |1 - t| |x|
+ sp(-x), the summands ce is formed from in torch's form, which cancel where x << 0 and t ~ 0; the
target derivative of BCE-with-logits is formed from both softplus terms; sigma(-x) - sigma(x)
carries ~u (1 + 2p)).
mag: the summands of the textbook (torchvision + autograd) form
``A [(p - t) U^gamma + gamma ce U^(gamma-1) (1 - 2t) p q]`` (p = sigma(x), q = 1 - p,
U = 1 - p_t), each times the condition of its cancelling factors: ``U = 1 - p_t`` and
``q = 1 - p`` are formed with an absolute error ~u, a relative ~u/U and ~u/q, which the
powers U^gamma, U^(gamma-1) multiply by gamma and |gamma - 1|:
``|A| |gbar| [(p + |t|)(U^gamma + 2 gamma U^(gamma-1))
+ gamma CE |1-2t| (r (U^gamma + 2 |gamma-1| U^(gamma-1)) + 2 p U^(gamma-1))]``
(``p q U^(gamma-1) = r U^gamma``; the error ~u of q contributes ``2 p U^(gamma-1)``).
It is infinite where U underflows and gamma < 1, where such implementations give NaN.
Source: torchvision/ops/focal_loss.py; Lin et al. 2017.
"""

from __future__ import annotations

import numpy as np

from .. import focal as _reference
from .._common import as_f64
from ..bce_with_logits import bce_with_logits_terms, sigmoid as expit, softplus_pair
from ._common import pack, per_term

TINY = np.finfo(np.float64).smallest_subnormal

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('inputs', 'targets')  # targets only when soft: LABELS_WHEN_HARD

#: targets that are labels when every entry is 0 or 1 (``refimpl.grad.LABELS_WHEN_HARD``): the contract
#: (torchvision) extends the loss to soft targets, but other implementations extend it differently
#: (kornia's t alpha (1-p)^gamma (-log p) + ..., MONAI's exp(gamma logsigmoid(-x (2t - 1)))): the same
#: values on {0, 1}, different derivatives there.  A hard-label case has no contract derivative
#: w.r.t. them; a soft one does.
LABELS_WHEN_HARD = ("targets",)



def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none", grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.focal` (torchvision ``sigmoid_focal_loss``).

        sigma = sigmoid, u = 1 - p_t = t sigma(-x) + (1 - t) sigma(x), ce = the BCE-with-logits term,
        A = alpha t + (1 - alpha)(1 - t), A' = 2 alpha - 1 (A = 1, A' = 0 for alpha < 0), loss = A ce u^gamma
        d/dx = gbar A u^gamma [(1 - t) sigma(x) - t sigma(-x) + gamma ce (1 - 2t) r],
               r = sigma(x) sigma(-x) / u = 1 / (1 + t e^-x + (1 - t) e^x)
        d/dt = gbar (u^gamma (A' ce - A x) + A gamma ce u^(gamma-1) (sigma(-x) - sigma(x)))
        gbar = grad_output ('none', the default), g ('sum'), g / n ('mean')
    Finite for every finite logit, also where u underflows (no u^gamma / u formed): there torchvision's
    autograd gives NaN for 0 < gamma < 1, this the mathematical limit.

    Parameters:
        inputs, targets, alpha, gamma, reduction: as for :func:`refimpl.focal`, which is called to validate
            them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the inputs'.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "inputs" and "targets" (the inputs' shape; "targets" is computed even
    for 0 / 1 labels, which the gradient checks skip: ``refimpl.grad.LABELS_WHEN_HARD``), plus "inputs__mag"
    / "targets__mag", a non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``):
    the summands of the textbook (torchvision + autograd) form times the condition of U = 1 - p_t
    (see the module docstring); infinite where U underflows and gamma < 1.
    Source: torchvision/ops/focal_loss.py, differentiated; Lin et al. 2017.
    """
    _reference(inputs, targets, alpha=alpha, gamma=gamma, reduction=reduction)  # validates
    alpha, gamma = float(alpha), float(gamma)
    x, t = as_f64("inputs", inputs), as_f64("targets", targets)
    gbar = per_term(grad_output, reduction, x.shape)
    if alpha >= 0:
        gbar = gbar * (alpha * t + (1.0 - alpha) * (1.0 - t))
    sx, snx = expit(x), expit(-x)
    u = t * snx + (1.0 - t) * sx
    ce = bce_with_logits_terms(x, t)
    with np.errstate(over="ignore", invalid="ignore"):
        e_pos = np.where(t == 0, 0.0, t * np.exp(-x))
        e_neg = np.where(t == 1, 0.0, (1.0 - t) * np.exp(x))
        r = 1.0 / (1.0 + e_pos + e_neg)
        ug = u**gamma
        focus = gamma * ce * (1.0 - 2.0 * t) * r if gamma != 0 else np.zeros(x.shape)
        grad = ug * ((1.0 - t) * sx - t * snx + focus) * gbar
        if gamma == 0:
            mag = (sx + np.abs(t)) * np.abs(gbar)
        else:
            ue = np.maximum(u, TINY)  # an underflowed U: its powers' limits (inf for gamma < 1)
            uge, ug1 = ue**gamma, ue ** (gamma - 1.0)
            times = lambda a, b: np.where(a == 0, 0.0, a * b)  # a zero factor wins over an inf limit
            c1, c2 = sx + np.abs(t), np.abs(gamma * _ce_formed(x, t, softplus_pair(x)[1]) * (1.0 - 2.0 * t))
            mag = times(np.abs(gbar), times(c1, uge + 2.0 * gamma * ug1)
                        + times(c2, r * uge + times(2.0 * abs(gamma - 1.0) * r + 2.0 * sx, ug1)))
    return pack(inputs=(grad, mag), targets=_targets_gradient(x, t, alpha, gamma, per_term(grad_output, reduction,
                                                                                            x.shape)))


def _ce_formed(x, t, sp_neg_x):
    """The magnitude the BCE-with-logits term ce is formed at in the textbook form torch evaluates,
    ``(1 - t) x + max(-x, 0) + log(e^-max + e^(-x - max))``: its summands ``|1 - t| |x| + softplus(-x)``.
    Where they cancel, a gradient that carries ce inherits their rounding, not ce's own magnitude
    (x = -65.5, t = 0: ce = e^-65.5 = 3e-29 from summands of 131; torch's float32 ce is 0, and so is
    the target gradient A' ce of a focal loss with alpha = 1 there).  ``sp_neg_x``: softplus(-x)."""
    return np.abs(1.0 - t) * np.abs(x) + sp_neg_x


def _targets_gradient(x, t, alpha, gamma, gbar):
    """``(d loss / d targets, mag)`` (see the module docstring)."""
    a = alpha * t + (1.0 - alpha) * (1.0 - t) if alpha >= 0 else np.ones(x.shape)
    da = (2.0 * alpha - 1.0) if alpha >= 0 else 0.0
    sx, snx = expit(x), expit(-x)
    u = t * snx + (1.0 - t) * sx
    ce = bce_with_logits_terms(x, t)
    sp_x, sp_neg_x = softplus_pair(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ug = u**gamma
        ratio = np.where(u > 0, ce / np.where(u > 0, u, 1.0), 0.0)  # ce / u: O(1 + |x|)
        focus = np.where(ug == 0, 0.0, gamma * a * ratio * ug * (snx - sx)) if gamma != 0 else np.zeros(x.shape)
        grad = (ug * (da * ce - a * x) + focus) * gbar
        ue = np.maximum(u, TINY)
        ug1, ug2 = ue ** (gamma - 1.0), ue ** (gamma - 2.0)
        times = lambda p, q: np.where(p == 0, 0.0, p * q)  # a zero factor wins over an inf limit
        formed = _ce_formed(x, t, sp_neg_x)  # ce's rounding, not its magnitude, where its summands cancel
        c1 = abs(da) * formed + np.abs(a) * (sp_x + sp_neg_x)
        c2 = np.abs(a) * gamma * formed * (1.0 + 2.0 * sx)
        mag = times(np.abs(gbar), times(c1, ug + 2.0 * gamma * ug1)
                    + (times(c2, ug1 + 2.0 * abs(gamma - 1.0) * ug2) if gamma != 0 else 0.0))
    return grad, mag
