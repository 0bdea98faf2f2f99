"""Sigmoid focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection"),
mirroring ``torchvision.ops.sigmoid_focal_loss``.

    p    = sigmoid(x)
    ce   = -(t log p + (1 - t) log(1 - p))             (BCE with logits)
    1-p_t = t (1 - p) + (1 - t) p                       (= t sigmoid(-x) + (1 - t) sigmoid(x))
    loss = ce * (1 - p_t)^gamma                         (0^0 = 1)
    if alpha >= 0: loss *= alpha t + (1 - alpha)(1 - t)

Soft targets in [0, 1] use the same formula (torchvision's).  ``alpha < 0``
disables the alpha weighting.  Default reduction is 'none' (torchvision's).
This is NOT ``BCEWithLogitsLoss(pos_weight=...)``, which the source article
calls focal loss: pos_weight rescales positives, it has no (1-p_t)^gamma factor.

Numerics: ``1 - p_t`` as a sum of two non-negative sigmoids (``bce_with_logits.sigmoid``:
``scipy.special.expit`` underflows to 0 below -709);
``ce`` as a sum of two softplus terms (see ``refimpl.bce_with_logits``).
Source: torchvision/ops/focal_loss.py.
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, check_finite_param, check_reduction, check_same_shape, elementwise, reduce
from .bce_with_logits import bce_with_logits_terms, sigmoid as expit


def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none") -> np.ndarray:
    """Sigmoid focal loss (Lin et al. 2017); float64 reference of ``torchvision.ops.sigmoid_focal_loss``.

        p = sigmoid(x),  ce = -(t log p + (1 - t) log(1 - p))      (BCE with logits, as two softplus terms)
        1 - p_t = t (1 - p) + (1 - t) p,   loss = ce (1 - p_t)^gamma   (0^0 = 1)
        alpha >= 0: loss *= alpha t + (1 - alpha)(1 - t);   alpha < 0: no alpha weighting
        'mean' = sum(loss) / n, n = numel

    Parameters:
        inputs: logits x, a real array.
        targets: t, the inputs' shape: labels 0 / 1, or soft targets in [0, 1] (the same formula,
            torchvision's; the values are not checked).
        alpha: a real number (default 0.25); negative disables the weighting.
        gamma: the focusing exponent, a real number >= 0 (default 2.0).
        reduction: 'none' (default, torchvision's), 'mean' or 'sum'.
    Returns a float64 ndarray: the elementwise losses (inputs' shape) for 'none', a 0-d array for 'mean' /
    'sum' (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, a NaN or non-numeric alpha, gamma < 0 or NaN, targets shape
    != inputs shape, or a non-numeric array.
    Source: torchvision/ops/focal_loss.py; Lin, Goyal, Girshick, He & Dollar 2017, "Focal Loss for Dense
    Object Detection".  Not ``BCEWithLogitsLoss(pos_weight=...)``, which has no (1 - p_t)^gamma factor.
    """
    check_reduction(reduction)
    alpha = check_finite_param("alpha", alpha)
    gamma = check_finite_param("gamma", gamma, lo=0.0)
    x = as_f64("inputs", inputs)
    t = as_f64("targets", targets)
    check_same_shape("sigmoid_focal_loss", x, t, "inputs", "targets")
    return reduce(elementwise(lambda x, t: focal_terms(x, t, alpha, gamma), x, t), reduction)


def focal_terms(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    ce = bce_with_logits_terms(x, t)
    one_minus_pt = t * expit(-x) + (1.0 - t) * expit(x)
    loss = ce * one_minus_pt**gamma
    if alpha >= 0:
        loss = loss * (alpha * t + (1.0 - alpha) * (1.0 - t))
    return loss
