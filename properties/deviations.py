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


def _half_sum_overflows(loss, mean_like) -> bool:
    """``loss`` (float16, 4000 terms of 40 or 80) is inf where ``mean_like`` (the same terms' mean, fused) is
    finite: a sum in the input dtype divided afterwards."""
    import torch

    return bool(torch.isinf(loss)) and bool(torch.isfinite(mean_like))


def cross_entropy_half_mean_overflows() -> bool:
    import torch
    import torch.nn.functional as F

    x = torch.zeros(4000, 2, dtype=torch.float16)
    x[:, 0] = 80.0  # -log_softmax of class 1: 80 per sample, mean 80, sum 320000
    y = torch.ones(4000, dtype=torch.long)
    terms = F.cross_entropy(x, y, reduction="none")
    return _half_sum_overflows(F.cross_entropy(x, y), terms.float().mean()) and float(terms[0]) == 80.0


def torch_sum_of_expanded_tensor_accumulates_sequentially() -> bool:
    """torch.sum (CPU) of 4096 float64 copies of v = 1.3, a (1, 4) row expanded to (1024, 4) (stride 0
    along the rows), is further from 4096 v than ceil(log2 4096) = 12 roundings allow (~170 u), while
    the same values contiguous are within it (~3 u): the rows of stride 0 are added one by one (error
    growing like n u), the contiguous tensor by torch's cascade sum."""
    from fractions import Fraction

    import torch

    v = 1.3
    exact = Fraction(v) * 4096
    rel = lambda t: float(abs(Fraction(float(t.sum())) - exact) / exact) / 2.0**-53
    expanded = torch.full((1, 4), v, dtype=torch.float64).expand(1024, 4)
    return rel(expanded) > 12 and rel(torch.full((1024, 4), v, dtype=torch.float64)) <= 12


def nll_loss_ignored_target_skips_cascade_flush() -> bool:
    """F.cross_entropy (CPU, float64) of 4096 rows of 5 equal logits (each term log 5): with the
    targets at the multiples of 16 -- the cascade's flush points -- ignored, the 'sum' is further from
    the exact sum than ceil(log2 n) = 12 roundings allow (~550 u), while ignoring the next target of
    each block instead is within it (~1 u); with class weights the total weight of a 'mean' (what its
    backward divides by) is off the same way (the gradient ~130 u)."""
    from fractions import Fraction

    import torch
    import torch.nn.functional as F

    n, x = 4096, torch.full((4096, 5), 1e-3, dtype=torch.float64)
    term = Fraction(float(-torch.log_softmax(x[0], 0)[0]))
    w = torch.tensor([1.3, 0.7, 1.1, 0.9, 1.7], dtype=torch.float64)

    def errors(offset):
        t = torch.tensor([-100 if i % 16 == offset else i % 5 for i in range(n)])
        kept = t[t != -100]
        exact = term * len(kept)
        ulps = lambda got, want: float(abs(Fraction(float(got)) - want) / abs(want)) / 2.0 ** -53
        xg = x.clone().requires_grad_()
        (g,) = torch.autograd.grad(F.cross_entropy(xg, t, weight=w), xg)
        b = int(torch.nonzero(t != -100)[0])
        p = Fraction(float(torch.softmax(x[b], 0)[t[b]]))
        total = sum(Fraction(float(w[c])) for c in kept.tolist())
        return (ulps(F.cross_entropy(x, t, reduction="sum"), exact),
                ulps(g[b, t[b]], Fraction(float(w[t[b]])) * (p - 1) / total))

    skipped, flushed = errors(0), errors(1)
    return all(e > 12 for e in skipped) and all(e <= 12 for e in flushed)


def mse_weighted_half_mean_overflows() -> bool:
    import torch
    import torch.nn.functional as F

    x, zero = torch.full((4000,), 6.0, dtype=torch.float16), torch.zeros(4000, dtype=torch.float16)
    w = torch.full((4000,), 2.0, dtype=torch.float16)  # 2 * 36 per element: weighted mean 36, sum 288000
    numerator = _half_sum_overflows(F.mse_loss(x, zero, weight=w), F.mse_loss(x, zero)) and float(F.mse_loss(x, zero)) == 36.0
    # the weights' sum: 3000 weights of 30 sum to 90000 > 65504 (inf), the mean 0.0065^2 ~ 4.2e-5 is a float16
    # number, torch gives 0 (the float32 computation gives the mean)
    small, heavy = torch.full((3000,), 0.0065, dtype=torch.float16), torch.full((3000,), 30.0, dtype=torch.float16)
    got = F.mse_loss(small, torch.zeros_like(small), weight=heavy)
    want = F.mse_loss(small.float(), torch.zeros(3000), weight=heavy.float())
    return numerator and float(got) == 0.0 and float(want) > 4e-5


def kl_div_batchmean_half_overflows() -> bool:
    import torch
    import torch.nn.functional as F

    x, t = torch.full((4000, 1), -40.0, dtype=torch.float16), torch.ones(4000, 1, dtype=torch.float16)
    return _half_sum_overflows(F.kl_div(x, t, reduction="batchmean"), F.kl_div(x, t, reduction="mean"))


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



def _refuses(call, argument: str) -> bool:
    """``call(weight_tensor)`` with the weight requiring grad raises torch's refusal naming ``argument``."""
    from .gradients import refused_argument

    try:
        call()
    except RuntimeError as exc:
        return refused_argument(exc) == argument
    return False


def _weight_gradient_exists(loss: str, args, kwargs, name: str) -> bool:
    """The mathematics: the analytic d/d(name) (refimpl.grad) is finite and nonzero at the point."""
    import refimpl.grad

    g = getattr(refimpl.grad, loss)(*args, **kwargs)[name]
    return bool(np.all(np.isfinite(g)) and np.any(g != 0))


def bce_weight_not_differentiable() -> bool:
    import torch.nn.functional as F

    x, t, w = np.array([0.25, 0.75]), np.array([1.0, 0.5]), np.array([2.0, 0.5])
    xt, tt, wt = _t(x, t, w)
    return (_refuses(lambda: F.binary_cross_entropy(xt, tt, weight=wt.requires_grad_()), "weight")
            and _weight_gradient_exists("bce", (x, t), {"weight": w, "clamp_log": True}, "weight"))


def bce_with_logits_weights_not_differentiable() -> bool:
    import torch.nn.functional as F

    x, t, w = np.array([0.3, -1.2]), np.array([1.0, 0.25]), np.array([2.0, 0.5])
    refused = []
    for name in ("weight", "pos_weight"):
        xt, tt, wt, pt = _t(x, t, w, w)
        kwargs = {"weight": wt, "pos_weight": pt}
        kwargs[name] = kwargs[name].requires_grad_()
        refused.append(_refuses(lambda: F.binary_cross_entropy_with_logits(xt, tt, **kwargs), name))
    return all(refused) and all(_weight_gradient_exists("bce_with_logits", (x, t), {"weight": w, "pos_weight": w}, n)
                                for n in ("weight", "pos_weight"))


def cross_entropy_index_weight_not_differentiable() -> bool:
    """Class indices: refused (nll_loss_forward); probability targets: differentiated."""
    import torch
    import torch.nn.functional as F

    import refimpl.grad

    x, w = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), np.array([1.0, 2.0, 3.0])
    idx, prob = np.array([2, 0]), np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    xt, wt = _t(x, w)
    index_refused = _refuses(lambda: F.cross_entropy(xt, torch.tensor(idx), weight=wt.requires_grad_()), "weight")
    wp = _t(w)[0].requires_grad_()
    (g,) = torch.autograd.grad(F.cross_entropy(_t(x)[0], _t(prob)[0], weight=wp), [wp])
    prob_differentiated = np.allclose(g.numpy(), refimpl.grad.cross_entropy(x, prob, weight=w)["weight"],
                                      rtol=1e-12, atol=0)
    return (index_refused and prob_differentiated
            and _weight_gradient_exists("cross_entropy", (x, idx), {"weight": w}, "weight"))

# ---- third-party adapters (properties/adapters) ------------------------------------------


def monai_focal_computes_in_float32() -> bool:
    """monai.losses.FocalLoss casts input and target to float32: a float64 (or float16) call
    returns float32, and the float64 value carries float32's error (~1e-8 relative)."""
    import torch
    from monai.losses import FocalLoss

    import refimpl

    x, t = np.array([[0.3, -1.7, 2.5]]), np.array([[1.0, 0.0, 1.0]])
    loss = FocalLoss(reduction="none", alpha=0.25, gamma=2.0, use_softmax=False)
    out64 = loss(*_t(x, t))
    out16 = loss(*_t(x, t, dtype=torch.float16))
    ref = refimpl.focal(x, t, alpha=0.25, gamma=2.0)
    rel = np.abs(out64.double().numpy() - ref) / ref
    return (out64.dtype == torch.float32 and out16.dtype == torch.float32
            and bool(np.all(rel < 1e-6)) and bool(np.max(rel) > 1e-12))


def monai_focal_sum_averages_spatial_dims() -> bool:
    """FocalLoss(reduction='sum') on (B, C, H) sums the per-(b, c) means over H; on (B, C) (no
    spatial dim) it returns the mean of every element (``mean(dim=[])`` reduces all dims)."""
    import torch
    from monai.losses import FocalLoss

    x = torch.tensor([[[0.5, -1.0, 2.0, 0.25]], [[1.5, 0.0, -0.5, 3.0]]], dtype=torch.float64)
    t = torch.tensor([[[1.0, 0.0, 1.0, 0.0]], [[0.0, 1.0, 1.0, 0.0]]], dtype=torch.float64)
    none = FocalLoss(reduction="none")(x, t)
    s3 = float(FocalLoss(reduction="sum")(x, t))
    s2 = float(FocalLoss(reduction="sum")(x[:, 0], t[:, 0]))
    total = float(none.sum())
    return (np.isclose(s3, float(none.mean(-1).sum()), rtol=1e-6) and np.isclose(s2, float(none.mean()), rtol=1e-6)
            and not np.isclose(s3, total, rtol=1e-3) and not np.isclose(s2, total, rtol=1e-3))


def monai_dice_squared_pred_gradient_cancellation() -> bool:
    """DiceLoss(squared_pred=True): p = 0.1, g = 0, smooth_nr = 1e-5, smooth_dr = 1e-2.  The
    exact d/dp = smooth_nr 2p / (p^2 + smooth_dr)^2 = 0.005; MONAI's autograd: 0 in bfloat16,
    0.0078 in float16, ~2e-13 relative off in float64 (about 1000 ulp)."""
    import torch
    from monai.losses import DiceLoss

    grads = {}
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        p = torch.tensor([[[0.1]]], dtype=dtype, requires_grad=True)
        DiceLoss(squared_pred=True, smooth_nr=1e-5, smooth_dr=1e-2, reduction="sum")(p, torch.zeros_like(p)).backward()
        pv = float(p.detach())
        grads[dtype] = (float(p.grad), 1e-5 * 2 * pv / (pv * pv + 1e-2) ** 2)
    got64, exact64 = grads[torch.float64]
    got16, exact16 = grads[torch.float16]
    gotb, exactb = grads[torch.bfloat16]
    return (abs(got64 - exact64) > 100 * 2.0**-52 * exact64 and abs(got16 - exact16) > 0.25 * exact16
            and gotb == 0.0 and exactb > 4e-3)


def monai_dice_squared_pred_forward_cancellation() -> bool:
    """DiceLoss(squared_pred=True) in float64 of 4096 voxels: p = 0.7 where g = 0 (2048 voxels), p = 1e-3
    where g = 1 (2048): the loss is ~108 ulp off the exact value (Fraction arithmetic on the same float64
    inputs), where squared_pred=False is correctly rounded."""
    from fractions import Fraction

    import torch
    from monai.losses import DiceLoss

    n = 2048
    p = torch.cat([torch.full((n,), 0.7, dtype=torch.float64), torch.full((n,), 1e-3, dtype=torch.float64)])[None, None]
    g = torch.cat([torch.zeros(n), torch.ones(n)]).double()[None, None]
    s = Fraction(1e-5)
    a, b = Fraction(0.7), Fraction(1e-3)
    exact = float(1 - (2 * n * b + s) / (n * (a * a + b * b) + n + s))
    got = float(DiceLoss(squared_pred=True, smooth_nr=1e-5, smooth_dr=1e-5)(p, g))
    ulps = abs(got - exact) / float(np.spacing(exact))
    plain = 1 - (2 * n * b + s) / (n * (a + b) + n + s)
    plain_ulps = abs(float(DiceLoss(smooth_nr=1e-5, smooth_dr=1e-5)(p, g)) - float(plain)) / float(np.spacing(float(plain)))
    return ulps > 50 and plain_ulps <= 2


def monai_dice_squared_pred_nan_second_derivative_at_zero_prediction() -> bool:
    """DiceLoss(squared_pred=True) where a channel's prediction is all zero (p = 0, g = 1, three
    voxels, smooth_dr = 1e-2): the first derivative is right (-2 / 3.01 each), the second is NaN
    (double backward of |p| at p = 0), where the exact Hessian of
    1 - (2 g.p + s_nr) / (|p|^2 + |g|^2 + s_dr) is finite (here: a one-sided difference of the
    analytic first derivative, refimpl.grad.dice)."""
    import torch
    from monai.losses import DiceLoss

    import refimpl.grad

    p = torch.zeros(1, 1, 3, dtype=torch.float64, requires_grad=True)
    g = torch.ones(1, 1, 3, dtype=torch.float64)
    out = DiceLoss(squared_pred=True, smooth_nr=1e-5, smooth_dr=1e-2, reduction="sum")(p, g)
    (first,) = torch.autograd.grad(out, p, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), p)

    def grad_at(v):
        return refimpl.grad.dice(np.full((1, 1, 3), v), np.ones((1, 1, 3)), smooth_nr=1e-5, smooth_dr=1e-2,
                                 squared_pred=True, reduction="sum")["input"].sum()

    h = 1e-6  # one-sided: p >= 0 is the domain
    exact_row_sum = (grad_at(h) - grad_at(0.0)) / h
    return bool(np.allclose(first.detach().numpy(), -2 / 3.01) and torch.isnan(second).all()
                and np.isfinite(exact_row_sum))


def monai_focal_easy_negative_cancellation() -> bool:
    """FocalLoss(gamma=0, alpha=None), t = 0: autograd d/dx = 0 at x = -20 (exact sigmoid(-20) = 2.06e-9)
    and 4.6e-4 relative off at x = -10, in float32."""
    import torch
    from monai.losses import FocalLoss

    x = torch.tensor([[[-10.0], [-20.0]]], requires_grad=True)
    FocalLoss(gamma=0.0, alpha=None, reduction="sum")(x, torch.zeros_like(x)).backward()
    got = x.grad.double().flatten().numpy()
    exact = 1 / (1 + np.exp([10.0, 20.0]))
    return bool(got[1] == 0.0 and exact[1] > 2e-9 and abs(got[0] - exact[0]) > 1e-4 * exact[0])


def thirdparty_focal_gamma_negative_accepted() -> bool:
    """monai.losses.FocalLoss and kornia's binary_focal_loss_with_logits accept gamma < 0 and
    return finite values (the focusing factor (1 - p_t)^gamma then grows as p_t -> 1)."""
    import torch
    from kornia.losses import binary_focal_loss_with_logits
    from monai.losses import FocalLoss

    x, t = _t([[0.5, -1.0, 2.0]], [[1.0, 0.0, 1.0]])
    monai_out = FocalLoss(gamma=-1.0, reduction="none")(x, t)
    kornia_out = binary_focal_loss_with_logits(x, t, gamma=-1.0, reduction="none")
    return bool(torch.isfinite(monai_out).all()) and bool(torch.isfinite(kornia_out).all())


def monai_dice_negative_smooth_accepted() -> bool:
    """monai.losses.DiceLoss accepts smooth_nr < 0 (and smooth_dr < 0) without a word:
    smooth_nr = -1 here turns a Dice loss of 0.43 into 1."""
    from monai.losses import DiceLoss

    p, g = _t([[[0.5, 0.25]]], [[[1.0, 0.0]]])
    return (np.isclose(float(DiceLoss(smooth_nr=-1.0)(p, g)), 1.0)
            and np.isfinite(float(DiceLoss(smooth_dr=-1e-3)(p, g))))


CHECKS = {f.__name__: f for f in (
    bce_weight_not_differentiable, bce_with_logits_weights_not_differentiable,
    cross_entropy_index_weight_not_differentiable,
    cross_entropy_half_mean_overflows, mse_weighted_half_mean_overflows, kl_div_batchmean_half_overflows,
    torch_sum_of_expanded_tensor_accumulates_sequentially,
    nll_loss_ignored_target_skips_cascade_flush,
    monai_dice_squared_pred_nan_second_derivative_at_zero_prediction,
    triplet_pnorm_gradient_float16_is_infinite,
    bce_backward_float16_at_0_1_is_not_finite, bce_gradient_is_zero_at_exact_boundary,
    kl_div_target_gradient_at_zero_is_nan,
    bce_clamps_log_at_minus_100, kl_div_mean_divides_by_numel, hinge_embedding_is_negative_for_negative_inputs,
    cross_entropy_one_hot_differs_from_index_under_weighted_mean, cross_entropy_weighted_smoothing_moves_the_optimum,
    empty_batch_mean_is_nan, cross_entropy_all_ignored_mean_is_nan, triplet_distance_of_identical_vectors_is_eps,
    cosine_zero_vector_float16_is_nan,
    monai_focal_computes_in_float32, monai_focal_sum_averages_spatial_dims,
    monai_dice_squared_pred_gradient_cancellation, monai_dice_squared_pred_forward_cancellation,
    monai_focal_easy_negative_cancellation,
    thirdparty_focal_gamma_negative_accepted,
    monai_dice_negative_smooth_accepted,
)}


# ---- Keras 3 (torch backend) and fvcore adapters (properties/adapters/keras.py, fvcore.py) ----------


def _keras_losses():
    """``keras.losses`` on the torch backend (KERAS_BACKEND set before Keras's first import, as the adapter does)."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    from keras import losses

    return losses


def keras_float64_computed_in_float32() -> bool:
    """keras.losses.MeanSquaredError of float64 x = 0.3, y = 1: the default dtype returns float32;
    dtype='float64' returns float64 carrying float32's error (0.49000000953674316 for (0.3 - 1)^2,
    relative 1.9e-8) because ops.mean computes in result_type(float64, 'float32') = float32."""
    import torch

    losses = _keras_losses()
    x, y = _t([[0.3]], [[1.0]])
    exact = (0.3 - 1.0) ** 2  # float64: within one float64 ulp of 0.49
    default = losses.MeanSquaredError(reduction="none")(y, x)
    asked = losses.MeanSquaredError(reduction="none", dtype="float64")(y, x)
    rel = abs(float(asked) - exact) / exact
    return default.dtype == torch.float32 and asked.dtype == torch.float64 and 1e-9 < rel < 1e-6


def keras_half_mean_sums_in_input_dtype() -> bool:
    """keras.losses.MeanSquaredError (dtype float16) of 4000 residuals of 6: the mean 36 is a float16
    number, the loss is inf -- 'sum_over_batch_size' / 'mean_with_sample_weight' divide the sum of the
    per-sample losses (144000), formed in the input dtype; torch's fused mse_loss gives 36.  And the
    weights' sum it divides by: 1000 residuals of 0.1 weighted 100 each (sum 1e5) give 0, not 0.01."""
    import torch
    import torch.nn.functional as F

    losses = _keras_losses()
    x, zero = torch.full((4000, 1), 6.0, dtype=torch.float16), torch.zeros(4000, 1, dtype=torch.float16)
    got = losses.MeanSquaredError(dtype="float16")(zero, x)
    # the weights' sum it divides by, also in float16: 1000 weights of 100 (1e5) make a mean of 0.01 zero
    small, w = torch.full((1000, 1), 0.1, dtype=torch.float16), torch.full((1000,), 100.0, dtype=torch.float16)
    weighted = losses.MeanSquaredError(dtype="float16", reduction="mean_with_sample_weight")(zero[:1000], small, sample_weight=w)
    return (_half_sum_overflows(got, F.mse_loss(x, zero)) and float(F.mse_loss(x, zero)) == 36.0
            and float(weighted) == 0.0 and float(F.mse_loss(small, zero[:1000])) > 0.009)


def keras_scalar_loss_not_reduced() -> bool:
    """Keras leaves a shape-() per-sample loss unreduced (``reduce_values``), weight included:
    MeanSquaredError('mean_with_sample_weight') of l = (1 - 0)^2 = 1 with w = 10 is 10 for a 0-d
    per-sample loss, and sum(w l) / sum(w) = 1 for the same value as a (1,) per-sample loss."""
    losses = _keras_losses()
    mse = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    x, y, w = _t([0.0], [1.0], [10.0])  # (1,): mean over the last axis -> a 0-d per-sample loss
    scalar = float(mse(y, x, sample_weight=w[0]))
    batch = float(mse(y[None], x[None], sample_weight=w))  # (1, 1) -> per-sample (1,)
    return scalar == 10.0 and batch == 1.0


def keras_losses_do_not_broadcast() -> bool:
    """MeanSquaredError('none') of y_pred (2,) = [1, 2] against y_true (2, 1) = [[0], [1]] pairs the
    elements, [1, 1], where torch's mse_loss broadcasts to the (2, 2) outer difference (mean 1.5)."""
    import torch

    losses = _keras_losses()
    x, y = _t([1.0, 2.0], [[0.0], [1.0]])
    got = losses.MeanSquaredError(reduction="none")(y, x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch_mean = float(torch.nn.functional.mse_loss(x, y))
    return tuple(got.shape) == (2,) and got.tolist() == [1.0, 1.0] and torch_mean == 1.5


def keras_empty_batch_reductions() -> bool:
    """An empty per-sample loss of shape (0,) is returned unreduced (shape (0,)) by 'sum' and
    'sum_over_batch_size'; one of shape (0, 3) has 'sum_over_batch_size' 0 (divide_no_nan) where
    the mean over no terms is 0/0 (refimpl.mse: NaN) and 'sum' 0-d 0."""
    import refimpl

    losses = _keras_losses()
    e1, e3 = _t(np.zeros((0, 1)), np.zeros((0, 3, 1)))
    s1 = losses.MeanSquaredError(reduction="sum")(e1, e1)
    m1 = losses.MeanSquaredError(reduction="sum_over_batch_size")(e1, e1)
    m3 = losses.MeanSquaredError(reduction="sum_over_batch_size")(e3, e3)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        math_mean = refimpl.mse(np.zeros((0, 3)), np.zeros((0, 3)), reduction="mean")
    return (tuple(s1.shape) == (0,) and tuple(m1.shape) == (0,) and tuple(m3.shape) == () and float(m3) == 0.0
            and bool(np.isnan(math_mean)))


def keras_all_ignored_mean_is_zero() -> bool:
    """SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100) with every label ignored:
    the mean is 0.0 (the mask weight total / valid is divide_no_nan(2, 0) = 0); the mean over no
    non-ignored target is 0/0 (refimpl.cross_entropy: NaN)."""
    import torch

    import refimpl

    losses = _keras_losses()
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    labels = torch.tensor([[-100], [-100]])
    got = float(losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100)(labels, _t(x)[0]))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        math = refimpl.cross_entropy(x, np.array([-100, -100]), reduction="mean")
    return got == 0.0 and bool(np.isnan(math))


def keras_bce_clips_probabilities() -> bool:
    """BinaryCrossentropy (probabilities, torch backend, float32): p is clipped to [1e-7, 1 - 1e-7]
    before torch's BCE.  p = [0, 1, 1 - 2^-24], t = [1, 1, 0]: [16.118, 1.19e-7, 15.942] where
    the mathematics (refimpl.bce) gives [inf, 0, 16.636]."""
    import torch

    import refimpl

    losses = _keras_losses()
    p, t = np.array([0.0, 1.0, 1.0 - 2.0**-24]), np.array([1.0, 1.0, 0.0])
    got = losses.BinaryCrossentropy(reduction="none")(*_t(t[:, None], p[:, None], dtype=torch.float32)).double().numpy()
    math = refimpl.bce(p, t, reduction="none")
    eps32 = float(np.float32(1e-7))
    return (np.isclose(got[0], -np.log(eps32), rtol=1e-6) and np.isinf(math[0])
            and got[1] > 1e-7 and math[1] == 0.0
            and abs(got[2] - math[2]) > 0.5)


def keras_kl_divergence_clips_probabilities() -> bool:
    """KLDivergence clips y_true and y_pred to [1e-7, 1]: a zero target contributes
    1e-7 log(1e-7 / q) (q = 0.25: -1.47e-6), not 0 (refimpl.kl_div: 0 log(0 / q) = 0)."""
    import torch

    import refimpl

    losses = _keras_losses()
    t, q = np.array([0.0, 1.0]), np.array([0.25, 0.75])
    got = losses.KLDivergence(reduction="none")(*_t(t[None, :, None], q[None, :, None], dtype=torch.float32))
    got = got.double().numpy().ravel()
    math = refimpl.kl_div(np.log(q), t, reduction="none")
    eps32 = float(np.float32(1e-7))
    return math[0] == 0.0 and np.isclose(got[0], eps32 * np.log(eps32 / 0.25), rtol=1e-5) and got[0] < -1e-6


def keras_focal_from_logits_through_clipped_sigmoid() -> bool:
    """BinaryFocalCrossentropy(from_logits=True, gamma=0), t = 0, float32: x = 10 gives 9.99959
    (relative error 4.6e-5 against softplus(10) = 10.0000454, ~770 u) and x = 20 the clip's
    -log(1 - float32(1 - 1e-7)) = 15.94 for 20.000000002 (refimpl.focal)."""
    import torch

    import refimpl

    losses = _keras_losses()
    x, t = np.array([10.0, 20.0]), np.zeros(2)
    got = losses.BinaryFocalCrossentropy(from_logits=True, gamma=0.0, reduction="none")(
        *_t(t[:, None], x[:, None], dtype=torch.float32)).double().numpy()
    exact = refimpl.focal(x, t, alpha=-1.0, gamma=0.0, reduction="none")
    rel = np.abs(got - exact) / exact
    return bool(rel[0] > 1e-5 and got[1] < 16.2 and exact[1] > 19.9)


def keras_focal_nan_logit_raises() -> bool:
    """BinaryFocalCrossentropy(from_logits=True) with a NaN logit raises (torch's BCE refuses the
    NaN probability sigmoid(NaN) after the clip); the term depending on it is NaN (refimpl.focal)."""
    import torch

    import refimpl

    losses = _keras_losses()
    x, t = np.array([[np.nan], [0.5]]), np.zeros((2, 1))
    try:
        losses.BinaryFocalCrossentropy(from_logits=True, reduction="none")(*_t(t, x, dtype=torch.float32))
    except RuntimeError:
        raised = True
    else:
        raised = False
    with np.errstate(invalid="ignore"):
        math = refimpl.focal(x.ravel(), t.ravel(), reduction="none")
    return raised and bool(np.isnan(math[0]) and np.isfinite(math[1]))


def keras_cross_entropy_masked_logit_probability_target() -> bool:
    """CategoricalCrossentropy(from_logits=True): logits [0.5, -inf, 2] with target [0.25, 0, 0.75]
    give NaN (0 * log_softmax = 0 * -inf); the loss is 0.5764 (refimpl.cross_entropy: 0 log 0 = 0)."""
    import torch

    import refimpl

    losses = _keras_losses()
    x, q = np.array([[0.5, -np.inf, 2.0]]), np.array([[0.25, 0.0, 0.75]])
    got = losses.CategoricalCrossentropy(from_logits=True, reduction="none")(*_t(q, x, dtype=torch.float32))
    math = refimpl.cross_entropy(x, q, reduction="none")
    return bool(torch.isnan(got).all()) and bool(np.all(np.isfinite(math)))


def keras_huber_delta_not_validated() -> bool:
    """keras.losses.Huber accepts delta <= 0: delta = 0 gives 0 for every residual (|e| = 1, 1.25,
    2.75), delta = -1 the negative delta |e| - delta^2 / 2 = -|e| - 0.5; torch refuses both."""
    import torch
    import torch.nn.functional as F

    losses = _keras_losses()
    x, y = _t([0.5, -1.0, 2.0], [1.5, 0.25, -0.75])
    e = (x - y).abs()
    zero = losses.Huber(delta=0.0, reduction="none")(y[:, None], x[:, None])
    negative = losses.Huber(delta=-1.0, reduction="none")(y[:, None], x[:, None])
    try:
        F.huber_loss(x, y, delta=0.0)
        torch_refuses = False
    except RuntimeError:
        torch_refuses = True
    return (bool((zero == 0).all()) and bool(torch.allclose(negative.double(), -e - 0.5))
            and torch_refuses)


def fvcore_focal_computes_in_float32() -> bool:
    """fvcore.nn.sigmoid_focal_loss casts inputs and targets to float32 (``inputs.float()``): a
    float64 call returns float32 with float32's error (x = [0.3, -1.7, 2.5], t = [1, 0, 1]:
    relative 2.5e-8 .. 2.3e-7 against refimpl.focal)."""
    import torch
    from fvcore.nn import sigmoid_focal_loss

    import refimpl

    x, t = np.array([0.3, -1.7, 2.5]), np.array([1.0, 0.0, 1.0])
    out = sigmoid_focal_loss(*_t(x, t), alpha=0.25, gamma=2.0, reduction="none")
    ref = refimpl.focal(x, t, alpha=0.25, gamma=2.0)
    rel = np.abs(out.double().numpy() - ref) / ref
    return out.dtype == torch.float32 and bool(np.all(rel < 1e-6)) and bool(np.max(rel) > 1e-12)


def fvcore_focal_nan_gradient_fractional_gamma() -> bool:
    """sigmoid_focal_loss(gamma=0.5), t = 1, x = [20, 1e4] (float32): 1 - p_t rounds to 0, the
    derivative of (1 - p_t)^0.5 is inf, times d(1 - p_t)/dx = 0: NaN; the analytic gradient
    (refimpl.grad.focal) is finite (-3.5e-14 and 0)."""
    import torch
    from fvcore.nn import sigmoid_focal_loss

    import refimpl.grad

    x = torch.tensor([20.0, 1e4], requires_grad=True)
    sigmoid_focal_loss(x, torch.ones(2), alpha=0.25, gamma=0.5, reduction="sum").backward()
    exact = refimpl.grad.focal(np.array([20.0, 1e4]), np.ones(2), alpha=0.25, gamma=0.5, reduction="sum")["inputs"]
    return bool(torch.isnan(x.grad).all()) and bool(np.all(np.isfinite(exact)))


def fvcore_smooth_l1_zero_second_derivative_at_zero() -> bool:
    """smooth_l1_loss(beta=1) at r = input - target = 0: the first derivative r / beta = 0 is right,
    the second (double backward through |r|) is 0 where d^2/dr^2 0.5 r^2 / beta = 1 / beta = 1
    (torch.nn.functional.smooth_l1_loss gives 1 there); at r = 0.25 both give 1."""
    import torch
    import torch.nn.functional as F
    from fvcore.nn import smooth_l1_loss

    def second(fn):
        r = torch.tensor([0.0, 0.25], dtype=torch.float64, requires_grad=True)
        (g1,) = torch.autograd.grad(fn(r), r, create_graph=True)
        (g2,) = torch.autograd.grad(g1.sum(), r)
        return g1.detach().numpy(), g2.numpy()

    zero = torch.zeros(2, dtype=torch.float64)
    g1, g2 = second(lambda r: smooth_l1_loss(r, zero, beta=1.0, reduction="sum"))
    _, t2 = second(lambda r: F.smooth_l1_loss(r, zero, beta=1.0, reduction="sum"))
    return bool(np.array_equal(g1, [0.0, 0.25]) and np.array_equal(g2, [0.0, 1.0]) and np.array_equal(t2, [1.0, 1.0]))


def fvcore_invalid_reduction_accepted() -> bool:
    """smooth_l1_loss and sigmoid_focal_loss accept reduction='avg' (any string but 'mean' and
    'sum') and return the unreduced 'none' result; torch refuses it."""
    import torch.nn.functional as F
    from fvcore.nn import sigmoid_focal_loss, smooth_l1_loss

    x, y = _t([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    same = (bool((smooth_l1_loss(x, y, beta=1.0, reduction="avg") == smooth_l1_loss(x, y, beta=1.0)).all())
            and bool((sigmoid_focal_loss(x, y, reduction="avg") == sigmoid_focal_loss(x, y)).all()))
    try:
        F.smooth_l1_loss(x, y, reduction="avg")
        torch_refuses = False
    except ValueError:
        torch_refuses = True
    return same and torch_refuses


def fvcore_negative_parameters_accepted() -> bool:
    """smooth_l1_loss takes beta = -0.5 as L1 (|r|: beta < 1e-5 is L1) and sigmoid_focal_loss takes
    gamma = -1 (finite values; the focusing factor then grows as p_t -> 1); both are defined for
    beta >= 0 and gamma >= 0 (refimpl refuses them)."""
    import torch
    from fvcore.nn import sigmoid_focal_loss, smooth_l1_loss

    import refimpl

    x, y = _t([[0.5, -1.0, 2.0]], [[1.0, 0.0, 1.0]])
    l1 = bool(torch.equal(smooth_l1_loss(x, y, beta=-0.5), (x - y).abs()))
    focal = bool(torch.isfinite(sigmoid_focal_loss(x, y, gamma=-1.0)).all())
    refused = []
    for call in (lambda: refimpl.smooth_l1(x.numpy(), y.numpy(), beta=-0.5),
                 lambda: refimpl.focal(x.numpy(), y.numpy(), gamma=-1.0)):
        try:
            call()
            refused.append(False)
        except ValueError:
            refused.append(True)
    return l1 and focal and all(refused)


def fvcore_smooth_l1_empty_mean_is_zero() -> bool:
    """smooth_l1_loss(reduction='mean') of an empty input is ``0.0 * loss.sum()`` = 0, where the
    mean over no terms is 0/0 (refimpl.smooth_l1 and torch: NaN)."""
    from fvcore.nn import smooth_l1_loss

    import refimpl

    (e,) = _t(np.zeros(0))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        math = refimpl.smooth_l1(np.zeros(0), np.zeros(0), reduction="mean")
    return float(smooth_l1_loss(e, e, beta=1.0, reduction="mean")) == 0.0 and bool(np.isnan(math))


def fvcore_smooth_l1_small_beta_is_l1() -> bool:
    """smooth_l1_loss with 0 < beta < 1e-5 computes L1 (documented): beta = 1e-6, r = 1e-7 gives
    |r| = 1e-7 where smooth L1 is 0.5 r^2 / beta = 5e-9 (refimpl.smooth_l1)."""
    from fvcore.nn import smooth_l1_loss

    import refimpl

    r = np.array([1e-7])
    got = float(smooth_l1_loss(*_t(r, np.zeros(1)), beta=1e-6, reduction="sum"))
    math = float(refimpl.smooth_l1(r, np.zeros(1), beta=1e-6, reduction="sum"))
    return got == 1e-7 and np.isclose(math, 5e-9, rtol=1e-12)


CHECKS.update({f.__name__: f for f in (
    keras_float64_computed_in_float32, keras_half_mean_sums_in_input_dtype, keras_scalar_loss_not_reduced, keras_empty_batch_reductions,
    keras_losses_do_not_broadcast,
    keras_all_ignored_mean_is_zero, keras_bce_clips_probabilities, keras_kl_divergence_clips_probabilities,
    keras_focal_from_logits_through_clipped_sigmoid, keras_focal_nan_logit_raises,
    keras_cross_entropy_masked_logit_probability_target, keras_huber_delta_not_validated,
    fvcore_focal_computes_in_float32, fvcore_focal_nan_gradient_fractional_gamma,
    fvcore_smooth_l1_zero_second_derivative_at_zero, fvcore_invalid_reduction_accepted,
    fvcore_negative_parameters_accepted, fvcore_smooth_l1_empty_mean_is_zero, fvcore_smooth_l1_small_beta_is_l1,
)})




def monai_focal_soft_target_cancellation() -> bool:
    """FocalLoss(gamma=0, alpha=None) at x = 1e16, t = 31/32 in float32: x - x t cancels, 1.07e-6
    relative off (18 u of float32) the exact x (1 - t) + softplus(-x) (exact in float64 here)."""
    import torch
    from monai.losses import FocalLoss

    x, t = torch.tensor([[[1e16]]]), torch.tensor([[[0.96875]]])
    got = FocalLoss(gamma=0.0, alpha=None, reduction="none", use_softmax=False)(x, t).double().item()
    xv = float(x.double().item())
    exact = xv * (1 - 0.96875) + float(np.log1p(np.exp(-xv)))  # 1 - t and the product are exact in float64
    return abs(got - exact) > 16 * 2.0 ** -24 * exact


CHECKS[monai_focal_soft_target_cancellation.__name__] = monai_focal_soft_target_cancellation


def meta_backward_empty_mean_divides_by_zero() -> bool:
    """mse_loss's, huber_loss's and smooth_l1_loss's backward on meta with an empty input and
    reduction 'mean' raise ZeroDivisionError (their meta kernels divide by numel() in Python); on
    cpu the gradient is an empty tensor."""
    import torch
    import torch.nn.functional as F

    def grad(f, device):
        x = torch.empty(0, device=device).requires_grad_()
        out = f(x, torch.empty(0, device=device), reduction="mean")
        return torch.autograd.grad(out, [x], torch.ones_like(out))[0]

    for f in (F.mse_loss, F.huber_loss, F.smooth_l1_loss):
        try:
            grad(f, "meta")
            return False
        except ZeroDivisionError:
            if tuple(grad(f, "cpu").shape) != (0,):
                return False
    return True


def keras_meta_input_moved_to_keras_device() -> bool:
    """keras.losses.MeanSquaredError of two meta tensors returns a tensor on Keras's device (cpu
    here, cuda where there is one), not on meta."""
    import torch

    losses = _keras_losses()
    x = torch.empty(4, 1, device="meta")
    out = losses.MeanSquaredError()(x, x)
    return out.device.type != "meta"


CHECKS.update({f.__name__: f for f in (meta_backward_empty_mean_divides_by_zero, keras_meta_input_moved_to_keras_device)})
