"""Plug-ins that follow a declared convention or API limit (``properties.conventions``), for
``tests/test_conventions.py`` and ``tests/gate/test_declared_limits.py``.

Each vocabulary entry has an implementation that *follows* it (correct under it, a finding without
the declaration: ``NAME``), the same one *declaring* it with the ``lossproof_conventions``
attribute (``NAME_declared``), and the same one declaring it with a real bug beside it
(``NAME_bug``: a finding with the declaration too).  For an API limit, ``NAME_violates`` declares
the limit but returns a (wrong) value outside it instead of raising.  Everything else follows the
contract (the correct catalogue implementations do the work).
"""

from __future__ import annotations

import functools

import torch
from hypothesis import HealthCheck, Phase, settings

from ._support import check_param, check_reduction, opmath, reduce, same_shape
from .classification import _check_unit, cross_entropy
from .divergence_segmentation import dice
from .embedding import _pdist, _triplet_setup
from .regression import mse_loss

#: Keras's epsilon()
KERAS_EPS = 1e-7

#: A Hypothesis profile for the gate runs of ``tests/test_conventions.py`` (``-p
#: tests.catalogue.conventions --hypothesis-profile conventions-quick``, :data:`PROFILE_ARGS`): 10
#: examples, derandomized, no shrinking -- a run checks several plug-ins at once and must find every
#: bug, not its minimal example (shrinking a failure of a 6 x 5 triplet case takes ~10 s).
PROFILE = "conventions-quick"
PROFILE_ARGS = ("-p", __name__, "--hypothesis-profile", PROFILE)
settings.register_profile(PROFILE, max_examples=10, derandomize=True, deadline=None, print_blob=True, database=None,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate),
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])


def declare(fn, *conventions: str, name: str | None = None):
    """``fn`` as a new function object (same signature) declaring ``conventions`` by attribute."""

    @functools.wraps(fn)
    def declared(*args, **kwargs):
        return fn(*args, **kwargs)

    declared.lossproof_conventions = list(conventions)
    if name:
        declared.__name__ = declared.__qualname__ = name
    return declared


# ============================================================================ empty_mean=zero (mse)


def mse_empty_mean_zero(input, target, reduction="mean", weight=None):
    """Correct MSE except that a 'mean' over no elements is 0 (Keras's ``divide_no_nan``), not NaN."""
    if reduction == "mean" and input.numel() == 0:
        return torch.zeros((), dtype=input.dtype, device=input.device)
    return mse_loss(input, target, reduction=reduction, weight=weight)


def _mse_weighted_mean_over_n(input, target, reduction="mean", weight=None):
    """BUG: the weighted 'mean' divides sum(w l) by the number of elements, not by sum(w)."""
    if reduction == "mean" and weight is not None:
        return mse_loss(input, target, reduction="sum", weight=weight) / max(input.numel(), 1)
    return mse_empty_mean_zero(input, target, reduction=reduction, weight=weight)


mse_empty_mean_zero_declared = declare(mse_empty_mean_zero, "empty_mean=zero")
mse_empty_mean_zero_bug = declare(_mse_weighted_mean_over_n, "empty_mean=zero", name="mse_empty_mean_zero_bug")


# ============================================================================ compute_dtype=float32 (mse)


def mse_float32(input, target, reduction="mean", weight=None):
    """Correct MSE computed in float32 whatever the input dtype (Keras's default floatx), the
    result returned in the input's dtype."""
    cast = lambda t: None if t is None else t.float()
    return mse_loss(cast(input), cast(target), reduction=reduction, weight=cast(weight)).to(input.dtype)


def _mse_float32_over_n(input, target, reduction="mean", weight=None):
    """BUG: as :func:`_mse_weighted_mean_over_n`, in float32."""
    if reduction == "mean" and weight is not None:
        return (mse_float32(input, target, reduction="sum", weight=weight) / max(input.numel(), 1))
    return mse_float32(input, target, reduction=reduction, weight=weight)


mse_float32_declared = declare(mse_float32, "compute_dtype=float32")
mse_float32_bug = declare(_mse_float32_over_n, "compute_dtype=float32", name="mse_float32_bug")


# ============================================================================ clip=1e-7 (bce)


def _bce_clipped(input, target, weight=None, reduction="mean", *, use_weight=True):
    check_reduction(reduction)
    same_shape("binary_cross_entropy", input, target)
    _check_unit("input", input)
    _check_unit("target", target)
    x = opmath(input.clamp(KERAS_EPS, 1.0 - KERAS_EPS))  # clipped in the input's dtype, as Keras's np.clip
    t = opmath(target).to(x.dtype)
    zero = torch.zeros_like(x)  # 0 log 0 = 0: a summand whose coefficient is 0 (x clipped to 1 in float16)
    terms = -(torch.where(t == 0, zero, t * torch.log(x)) + torch.where(t == 1, zero, (1.0 - t) * torch.log1p(-x)))
    if weight is not None and use_weight:
        terms = terms * torch.broadcast_to(opmath(weight).to(x.dtype), x.shape)
    return reduce(terms, reduction).to(input.dtype)


def bce_keras_clip(input, target, weight=None, reduction="mean"):
    """Correct BCE on probabilities except that they are clipped to [1e-7, 1 - 1e-7] before the
    logs (Keras): BCE(0, 1) = -log(1e-7) = 16.1, not torch's 100."""
    return _bce_clipped(input, target, weight, reduction)


def _bce_keras_clip_no_weight(input, target, weight=None, reduction="mean"):
    """BUG: as :func:`bce_keras_clip`, but ``weight`` is accepted and ignored."""
    return _bce_clipped(input, target, weight, reduction, use_weight=False)


bce_keras_clip_declared = declare(bce_keras_clip, f"clip={KERAS_EPS}")
bce_keras_clip_bug = declare(_bce_keras_clip_no_weight, f"clip={KERAS_EPS}", name="bce_keras_clip_bug")


# ============================================================================ targets=01 (hinge_embedding)


def _hinge01(input, target, margin=1.0, reduction="mean", *, sign=1.0):
    check_reduction(reduction)
    margin = check_param("margin", margin)
    same_shape("hinge_embedding_loss", input, target)
    if not bool(((target == 0) | (target == 1)).all()):
        raise ValueError("hinge_embedding_loss: target values must be 0 or 1")
    x = opmath(input)
    return reduce(torch.where(target == 1, x, torch.clamp_min(sign * (margin - x), 0.0)), reduction).to(input.dtype)


def hinge_embedding_01(input, target, margin=1.0, reduction="mean"):
    """Correct hinge embedding loss taking 0/1 labels (0 for a dissimilar pair) instead of -1/1."""
    return _hinge01(input, target, margin, reduction)


def _hinge_embedding_01_sign(input, target, margin=1.0, reduction="mean"):
    """BUG: max(0, x - margin) for a dissimilar pair instead of max(0, margin - x)."""
    return _hinge01(input, target, margin, reduction, sign=-1.0)


hinge_embedding_01_declared = declare(hinge_embedding_01, "targets=01", "shapes=equal")  # it refuses to broadcast
hinge_embedding_01_bug = declare(_hinge_embedding_01_sign, "targets=01", "shapes=equal", name="hinge_embedding_01_bug")


# ============================================================================ fixed:eps=0 (triplet_margin)


def triplet_without_eps(anchor, positive, negative, margin=1.0, p=2, swap=False, reduction="mean"):
    """Correct triplet margin loss with the plain distance ||a - p||_p: no ``eps`` parameter, and
    no eps added to the difference (torch adds eps = 1e-6)."""
    a, pos, neg, margin, p, _ = _triplet_setup(anchor, positive, negative, margin, p, 0.0, reduction)
    d_pos, d_neg = _pdist(a, pos, p, 0.0), _pdist(a, neg, p, 0.0)
    if swap:
        d_neg = torch.minimum(d_neg, _pdist(pos, neg, p, 0.0))
    return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), reduction).to(anchor.dtype)


def _triplet_without_eps_squared(anchor, positive, negative, margin=1.0, p=2, swap=False, reduction="mean"):
    """BUG: squared distances (FaceNet's form) where the contract uses the distance."""
    a, pos, neg, margin, p, _ = _triplet_setup(anchor, positive, negative, margin, p, 0.0, reduction)
    d_pos, d_neg = _pdist(a, pos, p, 0.0) ** 2, _pdist(a, neg, p, 0.0) ** 2
    if swap:
        d_neg = torch.minimum(d_neg, _pdist(pos, neg, p, 0.0) ** 2)
    return reduce(torch.clamp_min(margin + d_pos - d_neg, 0.0), reduction).to(anchor.dtype)


triplet_without_eps_declared = declare(triplet_without_eps, "fixed:eps=0")
triplet_without_eps_bug = declare(_triplet_without_eps_squared, "fixed:eps=0", name="triplet_without_eps_bug")


def dice_without_numerator_smoothing(input, target, smooth_dr=1e-5, squared_pred=False, include_background=True,
                                     batch=False, reduction="mean"):
    """Correct soft Dice without numerator smoothing (no ``smooth_nr``: 1 - 2 sum p g / (sum p + sum g
    + smooth_dr)); an empty prediction of an empty target scores 1, not the contract's 0."""
    return dice(input, target, 0.0, smooth_dr, squared_pred, include_background, batch, reduction)


dice_without_numerator_smoothing_declared = declare(dice_without_numerator_smoothing, "fixed:smooth_nr=0")


# ============================================================================ cross-entropy limits


def _ignored_counted(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """BUG (index targets): ignored targets counted in the mean's denominator."""
    if reduction == "mean" and not target.is_floating_point() and weight is None:
        terms = cross_entropy(input, target, ignore_index=ignore_index, reduction="none",
                              label_smoothing=label_smoothing)
        return terms.mean()
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def ce_index_targets(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Correct cross-entropy for class-index targets; refuses probability targets."""
    if target.is_floating_point():
        raise ValueError("cross_entropy: only class-index targets are supported")
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _ce_index_targets_bug(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    if target.is_floating_point():
        raise ValueError("cross_entropy: only class-index targets are supported")
    return _ignored_counted(input, target, weight, ignore_index, reduction, label_smoothing)


def _ce_index_targets_argmax(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """BUG: probability targets are silently replaced by their argmax class (a value, not an error)."""
    if target.is_floating_point():
        target = target.argmax(dim=0 if input.dim() == 1 else 1)
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


ce_index_targets_declared = declare(ce_index_targets, "targets=index")
ce_index_targets_bug = declare(_ce_index_targets_bug, "targets=index", name="ce_index_targets_bug")
ce_index_targets_violates = declare(_ce_index_targets_argmax, "targets=index", name="ce_index_targets_violates")


def ce_probability_targets(input, target, weight=None, reduction="mean", label_smoothing=0.0):
    """Correct cross-entropy for class-probability targets (no ignore_index); refuses index targets."""
    if not target.is_floating_point():
        raise ValueError("cross_entropy: only class-probability targets are supported")
    return cross_entropy(input, target, weight, reduction=reduction, label_smoothing=label_smoothing)


def _ce_probability_targets_bug(input, target, weight=None, reduction="mean", label_smoothing=0.0):
    """BUG: label smoothing spreads eps over C - 1 classes instead of C."""
    if not target.is_floating_point():
        raise ValueError("cross_entropy: only class-probability targets are supported")
    c = input.shape[0 if input.dim() == 1 else 1]
    eps = label_smoothing * c / (c - 1) if c > 1 and label_smoothing < 1 else label_smoothing
    return cross_entropy(input, target, weight, reduction=reduction, label_smoothing=eps)


def _ce_probability_targets_cast(input, target, weight=None, reduction="mean", label_smoothing=0.0):
    """BUG: index targets are cast to float and broadcast over the classes as if probabilities."""
    if not target.is_floating_point():
        target = target.to(input.dtype).unsqueeze(0 if input.dim() == 1 else 1).expand_as(input).clone()
    return cross_entropy(input, target, weight, reduction=reduction, label_smoothing=label_smoothing)


ce_probability_targets_declared = declare(ce_probability_targets, "targets=probability")
ce_probability_targets_bug = declare(_ce_probability_targets_bug, "targets=probability",
                                     name="ce_probability_targets_bug")
ce_probability_targets_violates = declare(_ce_probability_targets_cast, "targets=probability",
                                          name="ce_probability_targets_violates")


def ce_batched(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Correct cross-entropy for batched input (N, C, ...); refuses a (C,) input."""
    if input.dim() < 2:
        raise ValueError(f"cross_entropy: input must be (N, C, ...), got shape {tuple(input.shape)}")
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _ce_batched_bug(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    if input.dim() < 2:
        raise ValueError(f"cross_entropy: input must be (N, C, ...), got shape {tuple(input.shape)}")
    return _ignored_counted(input, target, weight, ignore_index, reduction, label_smoothing)


def _ce_batched_keeps_dim(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """BUG: a (C,) input is made (1, C) and its result returned with that batch dimension (shape (1,)
    for reduction='none', where the contract's is ())."""
    if input.dim() == 1:
        return cross_entropy(input[None], target.reshape(1, *target.shape[1:]) if target.dim() else target[None],
                             weight, ignore_index, "none", label_smoothing)
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


ce_batched_declared = declare(ce_batched, "batch=required")
ce_batched_bug = declare(_ce_batched_bug, "batch=required", name="ce_batched_bug")
ce_batched_violates = declare(_ce_batched_keeps_dim, "batch=required", name="ce_batched_violates")


def ce_smoothing_below_1(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Correct cross-entropy that refuses label_smoothing >= 1 (the whole target replaced by the
    uniform distribution)."""
    if label_smoothing >= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be < 1, got {label_smoothing}")
    return cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def _ce_smoothing_below_1_bug(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    if label_smoothing >= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be < 1, got {label_smoothing}")
    return _ignored_counted(input, target, weight, ignore_index, reduction, label_smoothing)


def _ce_smoothing_capped(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """BUG: label_smoothing >= 1 silently computed as 0.999 (a value, not an error)."""
    return cross_entropy(input, target, weight, ignore_index, reduction, 0.999 if label_smoothing >= 1 else label_smoothing)


ce_smoothing_below_1_declared = declare(ce_smoothing_below_1, "label_smoothing<1")
ce_smoothing_below_1_bug = declare(_ce_smoothing_below_1_bug, "label_smoothing<1", name="ce_smoothing_below_1_bug")
ce_smoothing_below_1_violates = declare(_ce_smoothing_capped, "label_smoothing<1",
                                        name="ce_smoothing_below_1_violates")


# ============================================================================ tied:smooth_dr=smooth_nr (dice)


def dice_one_smooth(input, target, smooth_nr=1e-5, squared_pred=False, include_background=True, batch=False,
                    reduction="mean"):
    """Correct soft Dice with one smoothing constant for numerator and denominator (no smooth_dr)."""
    return dice(input, target, smooth_nr, smooth_nr, squared_pred, include_background, batch, reduction)


def _dice_one_smooth_squared_target(input, target, smooth_nr=1e-5, squared_pred=False, include_background=True,
                                    batch=False, reduction="mean"):
    """BUG: squared_pred squares the prediction only, not the target."""
    if not squared_pred:
        return dice_one_smooth(input, target, smooth_nr, False, include_background, batch, reduction)
    p, g = opmath(input), opmath(target)
    dims = list(range(2, p.dim())) + ([0] if batch else [])
    s = (lambda v: v.sum(dim=dims)) if dims else (lambda v: v)
    if not include_background and p.shape[1] > 1:
        p, g = p[:, 1:], g[:, 1:]
    f = 1.0 - (2.0 * s(p * g) + smooth_nr) / (s(p * p) + s(g) + smooth_nr)
    return reduce(f, reduction).to(input.dtype)


def _dice_one_smooth_any(input, target, smooth_nr=1e-5, squared_pred=False, include_background=True, batch=False,
                         reduction="mean", **ignored):
    """BUG: accepts smooth_dr (in **kwargs) and ignores it."""
    return dice_one_smooth(input, target, smooth_nr, squared_pred, include_background, batch, reduction)


dice_one_smooth_declared = declare(dice_one_smooth, "tied:smooth_dr=smooth_nr")
dice_one_smooth_bug = declare(_dice_one_smooth_squared_target, "tied:smooth_dr=smooth_nr", name="dice_one_smooth_bug")
dice_one_smooth_violates = declare(_dice_one_smooth_any, "tied:smooth_dr=smooth_nr", name="dice_one_smooth_violates")
