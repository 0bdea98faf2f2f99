"""Deliberately wrong implementations for the invariants: each derived from the (correct) reference
subject, each one realistic way to be wrong, each violating at least one invariant
(``tests/test_invariants_can_fail.py`` maps every invariant to one of them)."""

from __future__ import annotations

import torch

from .mutants import MUTANTS as OUTPUT_MUTANTS
from properties.specs import SPECS
from properties.subjects import Subject, reference_subject


def _reduce(terms, reduction):
    return terms if reduction == "none" else terms.sum() if reduction == "sum" else terms.mean()


def _output(fn):
    def wrap(base):
        def call(*args, **kwargs):
            return fn(base(*args, **kwargs))
        return call
    return wrap


def _sign_flipped(base):
    """Drops the minus sign of a log-likelihood: every positive term becomes negative."""
    return _output(lambda out: -out)(base)


def _mean_is_sum(base):
    """reduction='mean' forgets to divide (and 'batchmean' too)."""
    def call(*args, **kwargs):
        if kwargs.get("reduction") in ("mean", "batchmean"):
            kwargs = {**kwargs, "reduction": "sum"}
        return base(*args, **kwargs)
    return call


def _sum_is_mean(base):
    """reduction='sum' is silently treated as the default 'mean'."""
    def call(*args, **kwargs):
        if kwargs.get("reduction") == "sum":
            kwargs = {**kwargs, "reduction": "mean"}
        return base(*args, **kwargs)
    return call


def _broadcasts_first_target(base):
    """Broadcasts the second argument's first sample over the batch (a wrong-dimension broadcast)."""
    def call(*args, **kwargs):
        second = args[1]
        if isinstance(second, torch.Tensor) and second.ndim:
            args = (args[0], second[:1].expand_as(second).clone(), *args[2:])
        return base(*args, **kwargs)
    return call


def _perturbs_second(base):
    """Applies a preprocessing step (an offset of 1/16) to the second argument only: asymmetric."""
    def call(*args, **kwargs):
        args = (args[0], args[1] + 0.0625 * (1 + args[1].abs()), *args[2:])
        return base(*args, **kwargs)
    return call


def _normalised(name):
    def wrap(base):
        """Normalises the ``name`` tensor to sum 1 (as some libraries do with class weights)."""
        def call(*args, **kwargs):
            w = kwargs.get(name)
            if w is not None:
                kwargs = {**kwargs, name: w / w.sum()}
            return base(*args, **kwargs)
        return call
    return wrap


def _ce_drops_max(base):
    """log-sum-exp as log Σ exp(x − m) without adding m back: CE − max_c x (not shift invariant)."""
    def call(x, t, **kwargs):
        out = base(x, t, **kwargs)
        if kwargs.get("reduction") == "none":
            out = out - x.amax(dim=0 if x.ndim == 1 else 1)
        return out
    return call


def _ce_prob_mean_over_classes(base):
    """Probability targets: 'mean' divides by N·C (all elements) instead of N."""
    def call(x, t, **kwargs):
        if t.is_floating_point() and kwargs.get("reduction") == "mean":
            return base(x, t, **{**kwargs, "reduction": "sum"}) / t.numel()
        return base(x, t, **kwargs)
    return call


def _ce_smoothing_off_target(base):
    """Label smoothing that spreads ε over the C − 1 wrong classes (ε/(C−1)) instead of all C (ε/C)."""
    def call(x, t, **kwargs):
        eps = kwargs.get("label_smoothing", 0.0)
        axis = 0 if x.ndim == 1 else 1
        c = x.shape[axis]
        if t.is_floating_point() or eps == 0 or c < 2:
            return base(x, t, **kwargs)
        oh = torch.movedim(torch.nn.functional.one_hot(t, c).to(x.dtype), -1, axis)
        q = (1 - eps) * oh + eps / (c - 1) * (1 - oh)
        return base(x, q, **{**kwargs, "label_smoothing": 0.0})
    return call


def _bce_clamps_input(base):
    """Clamps probabilities to [2^-20, 1 − 2^-20] before the log (a Keras-style epsilon)."""
    def call(p, t, **kwargs):
        return base(p.clamp(2.0**-20, 1 - 2.0**-20), t, **kwargs)
    return call


def _inverted_targets(base):
    """Uses 1 − t for t (inverted labels)."""
    def call(x, t, **kwargs):
        return base(x, 1 - t, **kwargs)
    return call


def _focal_alpha_not_disabled(base):
    """Applies α_t = α t + (1 − α)(1 − t) even for α < 0 (torchvision disables it)."""
    def call(x, t, alpha=0.25, gamma=2.0, reduction="none"):
        terms = base(x, t, alpha=-1.0, gamma=gamma, reduction="none") * (alpha * t + (1 - alpha) * (1 - t))
        return _reduce(terms, reduction)
    return call


def _focal_gamma_off_by_one(base):
    """Modulating factor (1 + (1 − p_t))^γ instead of (1 − p_t)^γ: grows with γ."""
    def call(x, t, alpha=0.25, gamma=2.0, reduction="none"):
        q = t * torch.sigmoid(-x) + (1 - t) * torch.sigmoid(x)
        terms = base(x, t, alpha=alpha, gamma=0.0, reduction="none") * (1 + q) ** gamma
        return _reduce(terms, reduction)
    return call


def _kl_without_entropy(base):
    """KL computed as −Σ t x (the cross-entropy part only, the t log t term dropped)."""
    def call(x, t, reduction="mean", log_target=False):
        if log_target:
            return base(x, t, reduction=reduction, log_target=log_target)
        terms = base(x, t, reduction="none") - torch.xlogy(t, t)
        if reduction == "batchmean":
            return terms.sum() / (x.shape[0] if x.ndim else 1)
        return _reduce(terms, reduction)
    return call


def _negated_margin(base):
    """The margin enters with the wrong sign."""
    def call(*args, margin=1.0, **kwargs):
        return base(*args, margin=-margin, **kwargs)
    return call


def _hinge_reversed_margin(base):
    """The y = -1 branch written max(0, x - margin) instead of max(0, margin - x): decreasing in
    the margin wherever x > margin (most drawn distances; the old 'margin negated' mutant only
    differed for x < -margin, which a search over distances can miss)."""
    def call(input, target, margin=1.0, **kwargs):
        return base(-input, target, margin=-margin, **kwargs)
    return call


def _mse_rmse(base):
    """Returns the root of the mean/sum of squares (RMSE; |r| per term): homogeneous of degree 1."""
    return _output(torch.sqrt)(base)


def _huber_is_smooth_l1(base):
    """Huber(δ) computed as SmoothL1(β = δ) (they differ by the factor δ)."""
    sl1 = reference_subject(SPECS["smooth_l1"]).fn

    def call(x, y, reduction="mean", delta=1.0, weight=None):
        if weight is not None:
            return _reduce(sl1(x, y, reduction="none", beta=delta) * weight, reduction)
        return sl1(x, y, reduction=reduction, beta=delta)
    return call


def _smooth_l1_is_huber(base):
    """SmoothL1(β) computed as Huber(δ = β)."""
    hub = reference_subject(SPECS["huber"]).fn

    def call(x, y, reduction="mean", beta=1.0):
        return hub(x, y, reduction=reduction, delta=beta) if beta > 0 else base(x, y, reduction=reduction, beta=beta)
    return call


def _dice_squares_target_only(base):
    """squared_pred applied to the target but not the prediction: Σ p + Σ g² (asymmetric)."""
    def call(p, g, **kwargs):
        return base(p, g * g, **kwargs)
    return call


def _inverted_labels(base):
    """Treats y = 1 as dissimilar (label convention swapped)."""
    def call(a, b, y, **kwargs):
        return base(a, b, -y, **kwargs)
    return call


def _contrastive_reversed_margin(base):
    """Dissimilar pairs penalised by max(0, d − m)² instead of max(0, m − d)²."""
    def call(a, b, y, margin=1.0, reduction="mean"):
        d = torch.linalg.vector_norm(a - b, dim=-1)
        terms = 0.5 * torch.where(y == 1, d * d, torch.clamp(d - margin, min=0) ** 2)
        return _reduce(terms, reduction)
    return call


def _triplet_terms(a, p, n, margin, pn, eps, swap, swap_max=False):
    dist = lambda u, v: torch.linalg.vector_norm(u - v + eps, ord=pn, dim=-1)
    d_pos, d_neg = dist(a, p), dist(a, n)
    if swap:
        other = dist(p, n)
        d_neg = torch.maximum(d_neg, other) if swap_max else torch.minimum(d_neg, other)
    return torch.clamp(margin + d_pos - d_neg, min=0)


def _triplet_margin_reciprocal(base):
    """The margin taken as 1/margin (a 'scale' parameter confused with the margin): decreasing in margin."""
    def call(a, pos, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        return base(a, pos, n, margin=1.0 / margin, p=p, eps=eps, swap=swap, reduction=reduction)
    return call


def _triplet_swap_max(base):
    """swap=True takes max(d(a,n), d(p,n)) instead of min."""
    def call(a, pos, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
        return _reduce(_triplet_terms(a, pos, n, margin, p, eps, swap, swap_max=True), reduction)
    return call


def _triplet_anchor_scaled(base):
    """A stray normalisation factor 17/16 on the anchor only: not translation invariant."""
    def call(a, p, n, **kwargs):
        return base(a * 1.0625, p, n, **kwargs)
    return call


def _cosine_half_normalised(base):
    """cos = <a,b> / (|b|² + EPS): normalised by input2 only (|b|² for |a||b|), so it scales with |a|."""
    def call(a, b, y, margin=0.0, reduction="mean"):
        cos = (a * b).sum(-1) / ((b * b).sum(-1) + 1e-12)
        terms = torch.where(y == 1, 1 - cos, torch.clamp(cos - margin, min=0))
        return _reduce(terms, reduction)
    return call


MUTANTS = {
    "sign_flipped": _sign_flipped,
    "shifted": OUTPUT_MUTANTS["shifted"],
    "mean_is_sum": _mean_is_sum,
    "sum_is_mean": _sum_is_mean,
    "broadcasts_first_target": _broadcasts_first_target,
    "perturbs_second": _perturbs_second,
    "normalised_weight": _normalised("weight"),
    "normalised_pos_weight": _normalised("pos_weight"),
    "ce_drops_max": _ce_drops_max,
    "ce_prob_mean_over_classes": _ce_prob_mean_over_classes,
    "ce_smoothing_off_target": _ce_smoothing_off_target,
    "bce_clamps_input": _bce_clamps_input,
    "inverted_targets": _inverted_targets,
    "focal_alpha_not_disabled": _focal_alpha_not_disabled,
    "focal_gamma_off_by_one": _focal_gamma_off_by_one,
    "kl_without_entropy": _kl_without_entropy,
    "negated_margin": _negated_margin,
    "hinge_reversed_margin": _hinge_reversed_margin,
    "rmse": _mse_rmse,
    "huber_is_smooth_l1": _huber_is_smooth_l1,
    "smooth_l1_is_huber": _smooth_l1_is_huber,
    "dice_squares_target_only": _dice_squares_target_only,
    "inverted_labels": _inverted_labels,
    "contrastive_reversed_margin": _contrastive_reversed_margin,
    "triplet_margin_reciprocal": _triplet_margin_reciprocal,
    "triplet_swap_max": _triplet_swap_max,
    "triplet_anchor_scaled": _triplet_anchor_scaled,
    "cosine_half_normalised": _cosine_half_normalised,
}

#: The wrong implementation each invariant is shown to catch: by invariant name, then (loss, name) overrides.
BY_NAME = {
    "nonnegative": "sign_flipped", "range": "sign_flipped", "zero_at_optimum": "shifted",
    "value_at_optimum": "shifted", "symmetric": "perturbs_second", "reductions": "mean_is_sum",
    "batch_permutation": "broadcasts_first_target", "batch_split": "sum_is_mean",
    "weight_of_ones": "normalised_weight", "pos_weight_of_ones": "normalised_pos_weight",
}
BY_INVARIANT = {
    ("mse", "homogeneous_deg2"): "rmse",
    ("huber", "delta_scaling"): "huber_is_smooth_l1",
    ("huber", "quadratic_regime"): "huber_is_smooth_l1",
    ("smooth_l1", "scaled_huber"): "smooth_l1_is_huber",
    ("cross_entropy", "shift_invariance"): "ce_drops_max",
    ("cross_entropy", "entropy_at_optimum"): "ce_drops_max",
    ("cross_entropy", "one_hot_equals_index"): "ce_prob_mean_over_classes",
    ("cross_entropy", "label_smoothing_mixture"): "ce_smoothing_off_target",
    ("bce", "zero_at_optimum"): "bce_clamps_input",
    ("bce_with_logits", "equals_bce_of_sigmoid"): "inverted_targets",
    ("focal", "gamma0_equals_bce_with_logits"): "focal_alpha_not_disabled",
    ("focal", "at_most_bce_with_logits"): "focal_alpha_not_disabled",
    ("focal", "nonincreasing_in_gamma"): "focal_gamma_off_by_one",
    ("kl_div", "zero_at_optimum"): "kl_without_entropy",
    ("kl_div", "ce_minus_entropy"): "kl_without_entropy",
    ("hinge_embedding", "nondecreasing_in_margin"): "hinge_reversed_margin",
    ("triplet_margin", "nondecreasing_in_margin"): "triplet_margin_reciprocal",
    ("triplet_margin", "translation_invariance"): "triplet_anchor_scaled",
    ("triplet_margin", "swap_at_least_no_swap"): "triplet_swap_max",
    ("cosine_embedding", "nonincreasing_in_margin"): "negated_margin",
    ("cosine_embedding", "scale_invariance"): "cosine_half_normalised",
    ("contrastive", "zero_at_optimum"): "inverted_labels",
    ("contrastive", "nondecreasing_in_margin"): "contrastive_reversed_margin",
    ("dice", "symmetric"): "dice_squares_target_only",
}


def mutant_for(inv) -> str:
    return BY_INVARIANT.get((inv.loss, inv.name), BY_NAME.get(inv.name))


def mutant(spec, name: str) -> Subject:
    base = reference_subject(spec)
    fn = MUTANTS[name](base.fn)
    fn.__signature__ = base.fn.__signature__
    return Subject(spec.name, f"mutant-{name}", f"mutant.{name}", fn)
