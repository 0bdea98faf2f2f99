"""Binary cross-entropy on probabilities, mirroring ``torch.nn.functional.binary_cross_entropy``.

    term_i = -w_i * ( t_i * max(log x_i, -100) + (1 - t_i) * max(log(1 - x_i), -100) )

The clamp of each log at -100 is torch's (documented in ``nn.BCELoss``: "BCELoss
clamps its log function outputs to be greater than or equal to -100", so an
input of exactly 0 or 1 gives a finite loss).  The reference keeps the
mathematics by default (``clamp_log=False``: an infinite loss there, with the
convention ``0 * log 0 = 0``); ``clamp_log=True`` reproduces torch's choice and is
what the BCE spec compares with (``LossSpec.reference_kwargs``; a recorded
known deviation, ``properties/known_deviations.toml``).  ``weight`` is broadcast to the
target's shape as torch's ``expand`` does.  ``log(1 - x)`` is ``log1p(-x)``.

``clip`` (default None, off) is the other common choice, Keras's: the probabilities are clipped
before the logs,

    x_c = min(max(x, lo), hi),   term_i = -w_i * ( t_i * log x_c + (1 - t_i) * log(1 - x_c) )

with ``clip=EPS`` meaning [lo, hi] = [EPS, 1 - EPS] (Keras 3 ``binary_crossentropy``:
``output = clip(output, epsilon(), 1 - epsilon())``, ``epsilon() = 1e-7``; BCE(0, 1) = -log(1e-7)
= 16.118, not 100) and ``clip=(lo, hi)`` giving the bounds as an implementation computing in a
narrower dtype holds them (float32 holds 1 - 1e-7 as 1 - 2^-23 = 0.99999988: BCE(1, 0) there is
-log(2^-23) = 15.942).  A plug-in declares it (``properties.conventions``: ``clip=EPS``); the
contract itself does not clip.  With a clip the logs are >= log(lo) > -100: ``clamp_log`` has no
effect.

Source: ATen ``binary_cross_entropy`` (aten/src/ATen/native/Loss.cpp); Keras 3
``keras/src/backend/*/nn.py`` ``binary_crossentropy``.
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, broadcast_weight, check_reduction, check_same_shape, elementwise, reduce

LOG_CLAMP = -100.0


def clip_bounds(clip) -> tuple[float, float] | None:
    """``clip`` (None, EPS or (lo, hi)) as the bounds (lo, hi) the probabilities are clipped to."""
    if clip is None:
        return None
    lo, hi = (float(clip), 1.0 - float(clip)) if np.ndim(clip) == 0 else (float(clip[0]), float(clip[1]))
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"binary_cross_entropy: clip bounds must satisfy 0 <= lo <= hi <= 1, got {(lo, hi)}")
    return lo, hi


def bce(input, target, weight=None, reduction: str = "mean", *, clamp_log: bool = False, clip=None) -> np.ndarray:
    """Binary cross-entropy on probabilities; float64 reference of ``F.binary_cross_entropy``.

        term_i = -w_i (t_i log x_i + (1 - t_i) log(1 - x_i))    (log(1 - x) as log1p(-x); w = 1 without weight)
        a summand with t_i = 0 (resp. t_i = 1) counts 0 (0 log 0 = 0);  'mean' = sum(term) / n, n = numel
        clamp_log=True: each log is max(log, -100) (torch);  clip: x -> x_c = min(max(x, lo), hi) first (Keras)

    Parameters:
        input: probabilities x, every element in [0, 1].
        target: t, the input's shape, every element in [0, 1] (torch checks it too).
        weight: optional real array broadcast to the input's shape (torch's expand), multiplied into the terms.
        reduction: 'none', 'mean' (default) or 'sum'.
        clamp_log: keyword-only, default False: the mathematics (+inf at x = 0 with t > 0 or x = 1 with
            t < 1); True: torch's clamp of each log at -100 (what the BCE spec compares with).
        clip: keyword-only, default None (no clip); EPS for [lo, hi] = [EPS, 1 - EPS] (Keras: 1e-7), or a
            pair (lo, hi) with 0 <= lo <= hi <= 1.  With a clip, clamp_log has no effect.
    Returns a float64 ndarray: the terms (input's shape) for 'none', a 0-d array for 'mean' / 'sum'
    (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, target shape != input shape, an input or target element
    outside [0, 1] or NaN, a weight that does not broadcast, invalid clip bounds, or a non-numeric array.
    Source: ATen ``binary_cross_entropy`` (Loss.cpp), ``nn.BCELoss`` docs (the -100 clamp); Keras 3
    ``binary_crossentropy`` (the clip).
    """
    check_reduction(reduction)
    x = as_f64("input", input)
    t = as_f64("target", target)
    check_same_shape("binary_cross_entropy", x, t)
    # min/max propagate NaN, which fails both comparisons
    if x.size and not (np.min(x) >= 0.0 and np.max(x) <= 1.0):
        raise ValueError("binary_cross_entropy: all elements of input must be in [0, 1]")
    if t.size and not (np.min(t) >= 0.0 and np.max(t) <= 1.0):  # torch checks the target too
        raise ValueError("binary_cross_entropy: all elements of target must be in [0, 1]")
    w = broadcast_weight(weight, x.shape)
    bounds = clip_bounds(clip)
    if bounds is not None:  # validated above on the unclipped x; np.clip keeps NaN
        x = np.clip(x, *bounds)
    terms = elementwise(lambda x, t, weight=None: bce_terms(x, t, clamp_log, weight), x, t, weight=w)
    return reduce(terms, reduction)


def bce_terms(x: np.ndarray, t: np.ndarray, clamp_log: bool = False, weight=None) -> np.ndarray:
    """The unreduced terms (elementwise; ``weight`` already broadcast, or None)."""
    with np.errstate(divide="ignore"):
        log_x, log_1mx = np.log(x), np.log1p(-x)
    if clamp_log:
        log_x, log_1mx = np.maximum(log_x, LOG_CLAMP), np.maximum(log_1mx, LOG_CLAMP)
    # each product is >= 0 for t in [0, 1]; 0 * (-inf) without the clamp counts 0
    with np.errstate(invalid="ignore"):
        pos = np.where(t == 0, 0.0, -t * log_x)
        neg = np.where(t == 1, 0.0, -(1.0 - t) * log_1mx)
    terms = pos + neg
    return terms if weight is None else terms * weight
