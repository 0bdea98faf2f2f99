"""Mean squared error, mirroring ``torch.nn.functional.mse_loss``.

    term_i = w_i * (x_i - y_i)^2            (w = 1 without ``weight``)
    mean   = sum_i term_i / n               (unweighted)
    mean   = sum_i term_i / sum_i w_i       (weighted: torch>=2.6 F.mse_loss divides by sum(w))

Source: torch/nn/functional.py ``mse_loss`` and ATen ``mse_loss`` (Loss.cpp).
Input and target broadcast as ``torch.broadcast_tensors`` does (torch warns).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, broadcast_pair, check_reduction, check_same_shape, reduce


def mse(input, target, reduction: str = "mean", weight=None) -> np.ndarray:
    """Mean squared error; float64 reference of ``torch.nn.functional.mse_loss``.

        term_i = w_i (x_i - y_i)^2        (x, y broadcast together; w = 1 without ``weight``)
        'mean' = sum_i term_i / n         (n = number of terms)
        'mean' = sum_i term_i / sum(w)    (with ``weight``: torch>=2.6 divides by the weights' sum)

    Parameters:
        input, target: real arrays x, y, broadcast like ``torch.broadcast_tensors`` (torch warns).
        reduction: 'none', 'mean' (default) or 'sum'.
        weight: optional real array of exactly ``input``'s shape (not the broadcast shape), multiplied
            into the terms.
    Returns a float64 ndarray: the terms (broadcast shape) for 'none', a 0-d array for 'mean' / 'sum'
    (an empty 'mean' is NaN; a weighted 'mean' with sum(w) = 0 is NaN or inf).
    Raises ValueError for an unknown reduction, a non-numeric array, shapes that do not broadcast, or a
    weight whose shape is not the input's.
    Source: torch/nn/functional.py ``mse_loss`` and ATen ``mse_loss`` (Loss.cpp).
    """
    check_reduction(reduction)
    x, y = broadcast_pair(as_f64("input", input), as_f64("target", target))
    r = x - y
    terms = r * r
    if weight is None:
        return reduce(terms, reduction)
    w = as_f64("weight", weight)
    check_same_shape("mse weight", np.asarray(input), w, b_name="weight")
    terms = terms * w
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.sum(terms) / np.sum(w))
    return reduce(terms, reduction)
