"""Soft Dice loss (Milletari, Navab & Ahmadi 2016, V-Net), with MONAI ``DiceLoss`` conventions.

For prediction p and target g of shape (N, C, *spatial), per (n, c) -- or per c
with ``batch=True``, which also sums over N:

    I = sum p g,   P = sum p^k,   G = sum g^k,   k = 2 if squared_pred else 1
    f = 1 - (2 I + smooth_nr) / (P + G + smooth_dr)

``include_background=False`` drops channel 0 (ignored, as MONAI does, when C = 1).
reduction 'none' returns (N, C) -- (C,) with batch=True --; 'mean' / 'sum' reduce f.
Torch ships no DiceLoss (the source article's ``DiceLoss()`` is undefined).

Numerics: ``1 - ratio`` cancels when the prediction is good; the reference
evaluates the numerator ``P + G - 2I + smooth_dr - smooth_nr`` as a sum of
non-negative terms -- ``sum p(1-g) + g(1-p)`` (k = 1) or ``sum (p-g)^2`` (k = 2),
valid for p, g in [0, 1] -- so f keeps full relative accuracy near 0.
Source: monai/losses/dice.py (DiceLoss.forward).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._common import (as_f64, check_finite_param, check_reduction, check_same_shape, elementwise, pairwise_sum,
                      reduce)


def dice(
    input, target, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, squared_pred: bool = False,
    include_background: bool = True, batch: bool = False, reduction: str = "mean",
) -> np.ndarray:
    """Soft Dice loss (Milletari, Navab & Ahmadi 2016, V-Net) with MONAI ``DiceLoss`` conventions.

    Per (n, c) -- per c with ``batch=True``, which also sums over N --, sums over the spatial axes:
        I = sum p g,   P = sum p^k,   G = sum g^k,   k = 2 if squared_pred else 1
        f = 1 - (2 I + smooth_nr) / (P + G + smooth_dr)
          = (P + G - 2 I + smooth_dr - smooth_nr) / (P + G + smooth_dr)   (how it is evaluated: the numerator
            from sum p (1 - g) + g (1 - p) (k = 1) or sum (p - g)^2 (k = 2), non-negative for p, g in [0, 1])

    Parameters:
        input: prediction p, a real array (N, C, *spatial) (at least 2-D; the values are not checked).
        target: g, the input's shape.
        smooth_nr, smooth_dr: the numerator / denominator smoothing, real numbers >= 0 (default 1e-5 each).
        squared_pred: default False; True squares p and g in the denominator sums (k = 2).
        include_background: default True; False drops channel 0 (ignored, with a warning, when C = 1).
        batch: default False; True also sums over the batch axis: one f per channel.
        reduction: 'none', 'mean' (default) or 'sum', applied to the f values.
    Returns a float64 ndarray: f of shape (N, C') -- (C',) with batch=True; C' = C, or C - 1 without the
    background -- for 'none', a 0-d array for 'mean' / 'sum'.  A zero denominator gives NaN or inf.
    Raises ValueError for an unknown reduction, a smoothing term < 0, NaN or not a number, target shape !=
    input shape, an input of fewer than 2 dimensions, or a non-numeric array.
    Source: monai/losses/dice.py (``DiceLoss.forward``); torch ships no Dice loss.
    """
    check_reduction(reduction)
    mismatch, denom = dice_parts(input, target, smooth_nr, smooth_dr, squared_pred, include_background, batch)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = mismatch / denom
    return reduce(f, reduction)


def dice_parts(input, target, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, squared_pred: bool = False,
               include_background: bool = True, batch: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per (n, c) -- per c with ``batch`` --: the loss's numerator ``P + G - 2I + smooth_dr - smooth_nr``
    (cancellation-free, see the module docstring) and its denominator ``P + G + smooth_dr``; f = ratio."""
    smooth_nr = check_finite_param("smooth_nr", smooth_nr, lo=0.0)
    smooth_dr = check_finite_param("smooth_dr", smooth_dr, lo=0.0)
    p, g = as_f64("input", input), as_f64("target", target)
    check_same_shape("dice", p, g)
    if p.ndim < 2:
        raise ValueError(f"dice: input must have shape (N, C, *spatial), got {p.shape}")
    if not include_background:
        if p.shape[1] == 1:
            warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=3)
        else:
            p, g = p[:, 1:], g[:, 1:]
    axes = tuple(range(2, p.ndim))
    if batch:
        axes = (0,) + axes
    if squared_pred:
        denom = pairwise_sum(p * p, axes) + pairwise_sum(g * g, axes) + smooth_dr
        mismatch = pairwise_sum(elementwise(lambda p, g: (p - g) ** 2, p, g), axes)
    else:
        denom = pairwise_sum(p, axes) + pairwise_sum(g, axes) + smooth_dr
        mismatch = pairwise_sum(elementwise(lambda p, g: p * (1.0 - g) + g * (1.0 - p), p, g), axes)
    return mismatch + (smooth_dr - smooth_nr), denom
