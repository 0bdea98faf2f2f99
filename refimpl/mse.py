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
