"""Gradient of ``refimpl.dice`` (soft Dice, MONAI ``DiceLoss`` conventions) w.r.t. the prediction and the target.

Per group (n, c) -- or c with batch=True -- with k = 2 if squared_pred else 1,
N = 2 sum p g + smooth_nr, D = sum p^k + sum g^k + smooth_dr, f = 1 - N / D:

    d f / d p_j = (k p_j^(k-1) N / D - 2 g_j) / D
                = (N / D - 2 g_j) / D                 (k = 1)
                = 2 ((p_j - g_j) - p_j f) / D         (k = 2, f <= 1/2; N / D = 1 - f)
                = 2 (p_j N / D - g_j) / D             (k = 2, f > 1/2)
    times gbar = grad_output ('none': shape (N, C') or (C',)), g ('sum'), g / f.size ('mean').

For k = 2 and f <= 1/2 the form with the reference's cancellation-free f keeps a
near-perfect prediction's gradient (f ~ 0, p ~ g) accurate; elsewhere the ratio N / D
is used directly (``1 - f`` would cancel where f ~ 1).  include_background=False (C > 1): channel 0
is not part of the loss and gets a zero gradient; with C = 1 the flag is ignored (MONAI).
The target (soft or one-hot; MONAI differentiates it through autograd): f is symmetric in p
and g but for the ``squared_pred`` power, which applies to both, so d f / d g_j is the
formula above with p and g exchanged:

    d f / d g_j = (k g_j^(k-1) N / D - 2 p_j) / D      (k = 2, f <= 1/2: 2 ((g_j - p_j) - g_j f) / D)

Smooth wherever D != 0 (no kinks).  mag: ``(k |p_j|^(k-1) N / D + 2 |g_j|) / D |gbar|``
(the two summands of the textbook form).
Source: monai/losses/dice.py (DiceLoss.forward), differentiated.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import dice as _reference
from .._common import as_f64, pairwise_sum
from ._common import pack, per_term

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target')



def dice(
    input, target, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, squared_pred: bool = False,
    include_background: bool = True, batch: bool = False, reduction: str = "mean", grad_output=None,
) -> dict:
    """Gradient (VJP) of :func:`refimpl.dice` (MONAI ``DiceLoss``) w.r.t. prediction and target.

    Per group (n, c) -- c with batch=True --, k = 2 if squared_pred else 1:
        N = 2 sum p g + smooth_nr,  D = sum p^k + sum g^k + smooth_dr,  f = 1 - N / D
        d f / d p_j = (k p_j^(k-1) N / D - 2 g_j) / D      (k = 2, f <= 1/2: 2 ((p_j - g_j) - p_j f) / D,
                                                            with the reference's cancellation-free f)
        d f / d g_j = the same with p and g exchanged
        times gbar of the element's group: grad_output ('none'), g ('sum'), g / f.size ('mean')
    Channel 0 gets a zero gradient when include_background=False drops it (C > 1).

    Parameters:
        input, target, smooth_nr, smooth_dr, squared_pred, include_background, batch, reduction: as for
            :func:`refimpl.dice`, which is called to validate them (the same ValueErrors and warning).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: that of f, (N, C') or (C',).
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input" and "target" (the input's shape), plus "input__mag" /
    "target__mag", a non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``):
    (k |p_j|^(k-1) |N / D| + 2 |g_j|) |gbar| / |D| (the textbook form's two summands; swapped for g).
    Source: monai/losses/dice.py (``DiceLoss.forward``), differentiated; Milletari et al. 2016.
    """
    kwargs = dict(smooth_nr=smooth_nr, smooth_dr=smooth_dr, squared_pred=squared_pred,
                  include_background=include_background, batch=batch)
    _reference(input, target, reduction=reduction, **kwargs)  # validates (and warns as MONAI does)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = _reference(input, target, reduction="none", **kwargs)
    p_all, g_all = as_f64("input", input), as_f64("target", target)
    start = 0 if include_background or p_all.shape[1] == 1 else 1
    p, g = p_all[:, start:], g_all[:, start:]
    axes = tuple(range(2, p.ndim))
    if batch:
        axes = (0,) + axes
    if squared_pred:
        denom = pairwise_sum(p * p, axes) + pairwise_sum(g * g, axes) + float(smooth_dr)
    else:
        denom = pairwise_sum(p, axes) + pairwise_sum(g, axes) + float(smooth_dr)
    numer = 2.0 * pairwise_sum(p * g, axes) + float(smooth_nr)
    gbar = per_term(grad_output, reduction, f.shape)
    # group quantities (N, C') or (C',) back against (N, C', *spatial)
    expand = (lambda q: q.reshape((1,) + q.shape + (1,) * (p.ndim - 2))) if batch else (
        lambda q: q.reshape(q.shape + (1,) * (p.ndim - 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        D, F, R, G = expand(denom), expand(f), expand(numer / denom), expand(gbar)

    def partial(own, other):
        """d f / d own (own: the prediction or the target, other: the other one), with its mag."""
        with np.errstate(invalid="ignore", divide="ignore"):
            if squared_pred:
                grad = 2.0 * np.where(F <= 0.5, (own - other) - own * F, own * R - other) / D
                mag = (2.0 * np.abs(own) * np.abs(R) + 2.0 * np.abs(other)) / np.abs(D)
            else:
                grad = (R - 2.0 * other) / D
                mag = (np.abs(R) + 2.0 * np.abs(other)) / np.abs(D)
        out, out_mag = np.zeros(p_all.shape), np.zeros(p_all.shape)
        out[:, start:] = grad * G
        out_mag[:, start:] = mag * np.abs(G)
        return out, out_mag

    return pack(input=partial(p, g), target=partial(g, p))
