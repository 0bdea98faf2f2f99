"""Known deviations (``known_deviations.toml``) and the checks that show each still holds.

Each check calls the implementation on a minimal input and returns True when the
recorded behaviour is observed (and the mathematics, computed independently, differs
from it), so tests/test_known_deviations.py notices the day upstream changes.
Deviations shown by an edge-case or bad-input row are checked by those tests
(the record lists the rows in ``rows``).
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import numpy as np

DEVIATIONS_FILE = Path(__file__).with_name("known_deviations.toml")
REQUIRED_FIELDS = ("loss", "subject", "condition", "behaviour", "mathematics", "reason", "upstream")


def load() -> dict[str, dict]:
    with DEVIATIONS_FILE.open("rb") as f:
        return tomllib.load(f)


def _t(*arrays, dtype=None):
    import torch

    return [torch.tensor(np.asarray(a), dtype=dtype or torch.float64) for a in arrays]


def bce_clamps_log_at_minus_100() -> bool:
    import torch.nn.functional as F

    import refimpl

    x, t = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.5])
    out = F.binary_cross_entropy(*_t(x, t), reduction="none").numpy()
    math = refimpl.bce(x, t, reduction="none")  # clamp_log=False: the mathematics
    return bool(np.array_equal(out, [100.0, 100.0, 50.0]) and np.all(np.isinf(math)))


def kl_div_mean_divides_by_numel() -> bool:
    import torch.nn.functional as F

    x = np.log(np.array([[0.25, 0.75], [0.5, 0.5], [0.125, 0.875]]))
    t = np.array([[0.5, 0.5], [0.25, 0.75], [0.75, 0.25]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mean = float(F.kl_div(*_t(x, t), reduction="mean"))
    total = float(np.sum(t * (np.log(t) - x)))
    return bool(np.isclose(mean, total / t.size, rtol=1e-12) and not np.isclose(mean, total / t.shape[0])
                and any("batchmean" in str(w.message) for w in caught))


def hinge_embedding_is_negative_for_negative_inputs() -> bool:
    import torch.nn.functional as F

    return float(F.hinge_embedding_loss(*_t([-3.0], [1.0]), reduction="sum")) == -3.0


def cross_entropy_one_hot_differs_from_index_under_weighted_mean() -> bool:
    import torch
    import torch.nn.functional as F

    x, w = _t([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], [25.0, 25.0, 100.0])
    idx = torch.tensor([2, 0])
    one_hot = F.one_hot(idx, 3).double()
    by_index = float(F.cross_entropy(x, idx, weight=w))
    by_prob = float(F.cross_entropy(x, one_hot, weight=w))
    total = float(F.cross_entropy(x, idx, weight=w, reduction="sum"))
    return bool(np.isclose(by_index, total / 125.0, rtol=1e-12) and np.isclose(by_prob, total / 2, rtol=1e-12))


def cross_entropy_weighted_smoothing_moves_the_optimum() -> bool:
    """At logits = log q' (the smoothed target) the gradient is 0 without weights, not with them."""
    import torch
    import torch.nn.functional as F

    eps, n_classes = 0.2, 3
    q = np.full(n_classes, eps / n_classes)
    q[0] += 1 - eps
    grads = []
    for weight in (None, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)):
        x = torch.tensor(np.log(q)[None], requires_grad=True)
        F.cross_entropy(x, torch.tensor([0]), weight=weight, label_smoothing=eps).backward()
        grads.append(float(x.grad.abs().max()))
    return grads[0] < 1e-12 and grads[1] > 1e-3


def empty_batch_mean_is_nan() -> bool:
    import torch
    import torch.nn.functional as F

    e, e2 = torch.zeros(0), torch.zeros(0, 3)
    means = [F.mse_loss(e, e), F.cross_entropy(e2, torch.zeros(0, dtype=torch.long)), F.binary_cross_entropy(e, e),
             F.binary_cross_entropy_with_logits(e, e), F.huber_loss(e, e), F.triplet_margin_loss(e2, e2, e2),
             F.kl_div(e, e, reduction="batchmean")]
    return all(bool(torch.isnan(m)) for m in means) and float(F.mse_loss(e, e, reduction="sum")) == 0.0


def cross_entropy_all_ignored_mean_is_nan() -> bool:
    import torch
    import torch.nn.functional as F

    x = torch.zeros(2, 3, requires_grad=True)
    out = F.cross_entropy(x, torch.tensor([-100, -100]), label_smoothing=0.1)
    out.backward()
    return bool(torch.isnan(out)) and bool((x.grad == 0).all())


def triplet_distance_of_identical_vectors_is_eps() -> bool:
    import torch.nn.functional as F

    a = np.ones((1, 128))
    d = float(F.pairwise_distance(*_t(a, a)))
    loss = float(F.triplet_margin_loss(*_t(a, a, a + 1.0), margin=1.0, reduction="sum"))
    eps_dist = 1e-6 * np.sqrt(128)
    return bool(np.isclose(d, eps_dist, rtol=1e-9) and np.isclose(loss, max(0.0, eps_dist - np.linalg.norm(
        np.full(128, -1.0 + 1e-6)) + 1.0), rtol=1e-9))


def cosine_zero_vector_float16_is_nan() -> bool:
    """torch float16 cosine_embedding_loss of a zero vector is NaN; the reference gives 1 - 0 = 1."""
    import torch
    import torch.nn.functional as F

    import refimpl

    a = np.zeros((1, 3))
    b = np.array([[1.0, 2.0, 3.0]])
    y = np.ones(1)
    out = F.cosine_embedding_loss(*_t(a, b, y, dtype=torch.float16), reduction="none")
    ref = refimpl.cosine_embedding(a, b, y, reduction="none")
    return bool(torch.isnan(out).all()) and bool(np.all(ref == 1.0))


def _bce_input_grad(x, t, dtype):
    import torch
    import torch.nn.functional as F

    x = torch.tensor(x, dtype=dtype, requires_grad=True)
    F.binary_cross_entropy(x, torch.tensor(t, dtype=dtype), reduction="sum").backward()
    return x.grad.double().numpy()


def bce_backward_float16_at_0_1_is_not_finite() -> bool:
    import torch

    g16 = _bce_input_grad([0.0, 1.0, 0.0], [0.0, 1.0, 1.0], torch.float16)
    g32 = _bce_input_grad([0.0, 1.0, 0.0], [0.0, 1.0, 1.0], torch.float32)
    return bool(np.all(np.isnan(g16[:2])) and np.isinf(g16[2]) and np.all(np.isfinite(g32)))


def bce_gradient_is_zero_at_exact_boundary() -> bool:
    import torch

    g = _bce_input_grad([0.0, 1.0], [0.0, 1.0], torch.float64)
    # the one-sided derivative: d/dx -log(1 - x) at 0 = 1, d/dx -log(x) at 1 = -1
    return bool(np.array_equal(g, [0.0, 0.0]))


def kl_div_target_gradient_at_zero_is_nan() -> bool:
    import torch
    import torch.nn.functional as F

    t = torch.tensor([0.0, 0.5], dtype=torch.float64, requires_grad=True)
    F.kl_div(torch.tensor([-1.0, -2.0], dtype=torch.float64), t, reduction="sum").backward()
    return bool(torch.isnan(t.grad[0])) and bool(torch.isfinite(t.grad[1]))


def triplet_pnorm_gradient_float16_is_infinite() -> bool:
    import torch
    import torch.nn.functional as F

    grads = []
    for dtype in (torch.float16, torch.float32):
        a = torch.zeros(1, 1, dtype=dtype, requires_grad=True)
        F.pairwise_distance(a, torch.tensor([[0.01]], dtype=dtype), p=3.62).sum().backward()
        grads.append(float(a.grad))
    return np.isinf(grads[0]) and abs(grads[1] + 1.0) < 1e-3


CHECKS = {f.__name__: f for f in (
    triplet_pnorm_gradient_float16_is_infinite,
    bce_backward_float16_at_0_1_is_not_finite, bce_gradient_is_zero_at_exact_boundary,
    kl_div_target_gradient_at_zero_is_nan,
    bce_clamps_log_at_minus_100, kl_div_mean_divides_by_numel, hinge_embedding_is_negative_for_negative_inputs,
    cross_entropy_one_hot_differs_from_index_under_weighted_mean, cross_entropy_weighted_smoothing_moves_the_optimum,
    empty_batch_mean_is_nan, cross_entropy_all_ignored_mean_is_nan, triplet_distance_of_identical_vectors_is_eps,
    cosine_zero_vector_float16_is_nan,
)}
