"""A catalogue of loss implementations for the ``--impl`` gate: correct alternatives that must pass
every check, and deliberately buggy ones (realistic mistakes) that some check must catch.

``CATALOGUE`` is data: one :class:`Entry` per implementation, ``attr`` = ``"submodule:name"``
relative to this package; :func:`target` turns an entry into the gate's ``MODULE:ATTR``::

    python -m pytest --impl mse=tests.catalogue.regression:mse_loss          # must pass
    python -m pytest -x --impl mse=tests.catalogue.regression:mse_mean_over_batch   # must fail

``attr`` names a function following the loss's contract or an ``nn.Module`` subclass (constructed
with the loss's keyword parameters, called with the tensors).  ``caught_by`` is the kind of check
expected to catch a buggy entry: agreement, gradient, edge case, bad input, mutation, invariant
(several joined by " / " where more than one kind catches it; the first is the primary one).
Implementations use torch ops only; none calls the torch function of its own loss (the one
wrapper mistake, ``focal_as_bce_pos_weight``, calls bce_with_logits for focal on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    loss: str
    attr: str  # "submodule:name", relative to this package
    correct: bool
    bug: str  # what is wrong -- or, for a correct entry, how it differs from torch's implementation
    caught_by: str  # the kind of check expected to catch a buggy entry ("" for a correct one)
    #: the region of the input space the bug lives in (one of ``REGIONS``) and the gate test that must
    #: catch it in every run of the default profile (tests/test_region_bugs.py: 5 seeds); "" for none
    region: str = ""
    caught_in: str = ""
    source: str = ""  # the real bug report the entry is modelled on (an issue or PR address)

    @property
    def submodule(self) -> str:
        return self.attr.partition(":")[0]

    @property
    def name(self) -> str:
        return self.attr.partition(":")[2]


def target(entry: Entry, package: str = __name__) -> str:
    """The gate's ``MODULE:ATTR`` for ``entry`` (e.g. ``tests.catalogue.regression:mse_loss``)."""
    return f"{package}.{entry.attr}"


def impl_option(entry: Entry, package: str = __name__) -> str:
    """The gate's ``LOSS=MODULE:ATTR`` argument of ``--impl`` for ``entry``."""
    return f"{entry.loss}={target(entry, package)}"


def resolve(entry: Entry, package: str = __name__):
    """The implementation object itself (function or nn.Module subclass)."""
    import importlib

    return getattr(importlib.import_module(f"{package}.{entry.submodule}"), entry.name)


def _ok(loss, attr, differs):
    return Entry(loss, attr, True, differs, "")


def _bug(loss, attr, bug, caught_by, **region):
    return Entry(loss, attr, False, bug, caught_by, **region)


#: the regions of the input space where real bugs live (issue 19), each with catalogue entries modelled
#: on real bug reports that the default profile must catch in every run
REGIONS = ("layout", "edge x variant", "long reduction", "cotangent", "differentiated argument", "near-coincident",
           "broadcast", "device")


AGREEMENT, GRADIENT, EDGE, BAD, MUTATION, INVARIANT, PLACEMENT = (
    "agreement", "gradient", "edge case", "bad input", "mutation", "invariant", "placement")

CATALOGUE: list[Entry] = [
    # ------------------------------------------------------------------ mse
    _ok("mse", "regression:mse_loss",
        "full contract incl. weight (weighted mean / sum(w)); residual squared on explicitly broadcast tensors, "
        "half types in float32"),
    _ok("mse", "regression:mse_unweighted",
        "only `reduction` (no weight: weighted cases are skipped); (x - y).pow(2) with torch.mean / torch.sum"),
    _bug("mse", "regression:mse_backward_ignores_grad_output",
         "hand-written backward that never multiplies by the incoming gradient (right only for ones)", GRADIENT),
    _bug("mse", "regression:mse_backward_averages_grad_output",
         "hand-written backward that scales every element by the mean incoming gradient ('none'; right for ones)",
         GRADIENT),
    _bug("mse", "regression:mse_mean_over_batch",
         "'mean' divides the sum of squared errors by input.shape[0] instead of numel", AGREEMENT),
    _bug("mse", "regression:mse_pairs_equal_numel",
         "input and target of the same number of elements are paired in memory order (reshape(-1) on both) "
         "instead of broadcast: (N, 1) against (N,) gives N terms, not the (N, N) broadcast", AGREEMENT,
         region="broadcast", caught_in="test_mse", source="https://github.com/pytorch/pytorch/issues/4938"),
    _bug("mse", "regression:mse_returns_python_float",
         "reduced results are returned as a Python float via .item() (no tensor, dtype, device or graph)", AGREEMENT),
    _bug("mse", "regression:MSEWeightedMeanOverNumel",
         "nn.Module: weighted 'mean' divides sum(w l) by numel instead of sum(w)", AGREEMENT),
    _bug("mse", "regression:mse_weight_no_gradient",
         "custom autograd.Function whose backward returns None for weight: value, d/dinput and d/dtarget right, "
         "no gradient for a learnt weighting", GRADIENT, region="differentiated argument",
         caught_in="test_gradient_mse", source="https://github.com/jeanfeydy/geomloss/issues/93"),
    _bug("mse", "regression:MSECustomBackward",
         "nn.Module with a custom autograd.Function whose backward forgets the 1/numel of 'mean' (value right)",
         GRADIENT),
    # ------------------------------------------------------------------ huber
    _ok("huber", "regression:HuberLoss",
        "nn.Module, full contract incl. weight (mean = mean(w l)); branches selected with torch.where on |x - y|, "
        "quadratic branch squared from r (second derivative 1 at r = 0)"),
    _bug("huber", "regression:huber_missing_delta_factor",
         "linear branch |r| - delta/2 instead of delta (|r| - delta/2): right only for delta = 1", AGREEMENT),
    _bug("huber", "regression:huber_detached_quadratic",
         "quadratic branch 0.5 * r * r.detach(): right value, half the gradient for |r| < delta", GRADIENT),
    _bug("huber", "regression:huber_unknown_reduction_sums",
         "an unknown reduction string (e.g. 'avg') silently returns the sum instead of raising", BAD),
    # ------------------------------------------------------------------ smooth_l1
    _ok("smooth_l1", "regression:smooth_l1_loss",
        "full contract; beta = 0 handled as L1 (no 1/beta in the graph), quadratic branch as (r/2)(r/beta)"),
    _bug("smooth_l1", "regression:smooth_l1_beta0_nan_grad",
         "no beta = 0 special case: the unused 0.5 z^2 / 0 branch makes the gradient NaN (value right)", GRADIENT),
    _bug("smooth_l1", "regression:smooth_l1_mean_sums_in_input_dtype",
         "'mean' as the terms' sum in the input dtype divided by numel: inf in float16 where the sum exceeds 65504 "
         "and the mean fits", AGREEMENT, region="long reduction", caught_in="test_smooth_l1",
         source="https://github.com/chainer/chainer/issues/6702"),
    _bug("smooth_l1", "regression:smooth_l1_flattens_with_view",
         "flattens with .view(-1), which raises on transposed / expanded / strided inputs", EDGE),
    _bug("smooth_l1", "regression:SmoothL1BetaMultiplied",
         "nn.Module: quadratic branch 0.5 z^2 * beta instead of / beta", AGREEMENT),
    # ------------------------------------------------------------------ cross_entropy
    _ok("cross_entropy", "classification:cross_entropy",
        "full contract; -log_softmax from exp/sum/log after subtracting a detached row max, gather for the target "
        "class, weighted mean divided explicitly by the non-ignored targets' weights"),
    _ok("cross_entropy", "classification:cross_entropy_plain",
        "only `reduction` (index and probability targets); -log_softmax as logsumexp(d) - d, d = x - max"),
    _bug("cross_entropy", "classification:ce_backward_first_upstream",
         "hand-written backward reads the incoming gradient at its first element for every sample "
         "(right for 'mean', 'sum' and ones)", GRADIENT, region="cotangent", caught_in="test_gradient_cross_entropy",
         source="https://github.com/paiml/aprender/pull/2182"),
    _bug("cross_entropy", "classification:ce_ignored_masked_by_multiplication",
         "ignored targets removed by multiplying their terms by a 0/1 mask after the log: a -inf logit at an ignored "
         "position gives inf * 0 = NaN (label smoothing: any class of the ignored row)", EDGE,
         region="edge x variant", caught_in="test_edge_cross_entropy",
         source="https://github.com/candle-org/MindAct/pull/1633"),
    _bug("cross_entropy", "classification:ce_weighted_mean_over_n",
         "weighted 'mean' of index targets divides by the number of non-ignored targets, not by sum w[t_i]",
         AGREEMENT),
    _bug("cross_entropy", "classification:ce_label_smoothing_c_minus_1",
         "label smoothing spreads eps over the C-1 wrong classes (eps/(C-1)) instead of eps/C over all C",
         AGREEMENT),
    _bug("cross_entropy", "classification:ce_no_max_subtraction",
         "softmax as exp(x)/sum exp(x) without subtracting the max: overflow to NaN/inf for large logits",
         AGREEMENT + " / " + EDGE),
    _bug("cross_entropy", "classification:CrossEntropyIgnoredCounted",
         "nn.Module: ignored targets are counted in the mean's denominator", AGREEMENT),
    _bug("cross_entropy", "classification:ce_out_of_range_silent",
         "one-hot selection without index validation: out-of-range / negative class indices give loss 0 "
         "instead of raising", BAD),
    _bug("cross_entropy", "classification:ce_target_read_as_contiguous",
         "class-index target read through its storage as if contiguous (element i at data_ptr + i): a "
         "non-contiguous or transposed target gives other elements' classes, a silently wrong loss",
         AGREEMENT + " / " + EDGE, region="layout", caught_in="test_cross_entropy",
         source="https://github.com/pytorch/pytorch/issues/67167"),
    # ------------------------------------------------------------------ bce
    _ok("bce", "classification:binary_cross_entropy",
        "full contract; explicit logs clamped at -100 (masked log(0)), log1p(-x), custom autograd.Function "
        "with the one-quotient backward (x - t)/(x(1 - x)); at x in {0, 1} the clamped forward's derivative "
        "(1 - t or -t, finite in float16) where torch's backward gives +-1e12"),
    _bug("bce", "classification:bce_unclamped_log",
         "no clamp of the logs at -100: inf at inputs 0/1, NaN (0 * -inf) where the prediction is exactly right",
         EDGE + " / " + AGREEMENT),
    _bug("bce", "classification:bce_eps_clamp",
         "clamps probabilities to [1e-7, 1-1e-7] before the logs: BCE(0, 1) = 16.1 instead of 100",
         AGREEMENT + " / " + EDGE),
    _bug("bce", "classification:BCENoRangeCheck",
         "nn.Module: never checks that input/target lie in [0, 1] (1.5 or NaN give a number instead of raising)",
         BAD + " / " + EDGE),
    _bug("bce", "classification:bce_swapped_args",
         "prediction and target swapped: -(x log t + (1-x) log(1-t))", AGREEMENT),
    # ------------------------------------------------------------------ bce_with_logits
    _ok("bce_with_logits", "classification:BCEWithLogitsLoss",
        "nn.Module, full contract; sum of two non-negative softplus terms (no cancellation for x << 0)"),
    _bug("bce_with_logits", "classification:bcel_log_sigmoid",
         "log(sigmoid(x)) and log(1 - sigmoid(x)): inf once sigmoid saturates (|x| > ~17 in float32)",
         AGREEMENT + " / " + EDGE),
    _bug("bce_with_logits", "classification:bcel_pos_weight_on_negatives",
         "pos_weight multiplies the negative-class term instead of the positive one", AGREEMENT),
    _bug("bce_with_logits", "classification:BCEWithLogitsCustomBackward",
         "nn.Module, custom autograd.Function: right forward, backward ignores pos_weight", GRADIENT),
    # ------------------------------------------------------------------ focal
    _ok("focal", "classification:sigmoid_focal_loss",
        "full contract (torchvision semantics); 1 - p_t as t sigmoid(-x) + (1-t) sigmoid(x), ce from a stable "
        "softplus, (1 - p_t)^gamma masked at 0 so the gradient is finite at saturated logits (torchvision: NaN)"),
    _bug("focal", "classification:focal_as_bce_pos_weight",
         "the article's mistake: BCEWithLogits with pos_weight = alpha/(1-alpha), no (1-p_t)^gamma factor",
         AGREEMENT),
    _bug("focal", "classification:focal_alpha_swapped",
         "alpha weights the negatives and 1 - alpha the positives", AGREEMENT),
    _bug("focal", "classification:focal_torchvision_formula",
         "torchvision's (1 - p_t) ** gamma verbatim: right value, NaN gradient at saturated logits for 0 < gamma < 1",
         GRADIENT),
    _bug("focal", "classification:focal_empty_mean_zero",
         "returns 0 for the 'mean' of an empty batch instead of NaN (0/0)", EDGE),
    _bug("focal", "classification:focal_empty_batch_on_cpu",
         "an empty batch returns constants built without device= (right values and dtype, on the CPU whatever "
         "the inputs' device): passes every cpu check, raises on cuda at the caller", PLACEMENT,
         region="device", caught_in="test_placement_focal",
         source="https://github.com/Deci-AI/super-gradients/pull/796"),
    # ------------------------------------------------------------------ kl_div
    _ok("kl_div", "divergence_segmentation:kl_div",
        "full contract; terms t (log t - x) with the 0 log(0/q) = 0 convention also at x = -inf (torch: NaN)"),
    _bug("kl_div", "divergence_segmentation:kl_batchmean_over_numel",
         "'batchmean' divides by numel (like 'mean') instead of the batch size", AGREEMENT),
    _bug("kl_div", "divergence_segmentation:kl_input_as_probabilities",
         "takes log of the input again (treats log-probabilities as probabilities): NaN", AGREEMENT),
    _bug("kl_div", "divergence_segmentation:KLDivNaiveZeroTarget",
         "nn.Module: t log t - t x without the zero-target convention: NaN for every zero target",
         AGREEMENT + " / " + EDGE),
    _bug("kl_div", "divergence_segmentation:kl_ignores_log_target",
         "accepts log_target but always reads the target as probabilities", AGREEMENT),
    _bug("kl_div", "divergence_segmentation:kl_clamps_target_inplace",
         "target.clamp_(min=tiny) writes into the caller's target tensor", MUTATION),
    # ------------------------------------------------------------------ hinge_embedding
    _ok("hinge_embedding", "embedding:hinge_embedding_loss",
        "full contract; one torch.where on the label; refuses targets other than +-1 (torch accepts them)"),
    _bug("hinge_embedding", "embedding:hinge_svm_style",
         "the SVM hinge max(0, margin - y x) instead of the hinge embedding loss", AGREEMENT),
    _bug("hinge_embedding", "embedding:hinge_margin_sign",
         "y = -1 branch max(0, x - margin) instead of max(0, margin - x)", AGREEMENT),
    _bug("hinge_embedding", "embedding:HingeEmbeddingAsStrided",
         "nn.Module: flattens with torch.as_strided(t, (numel,), (1,)), assuming contiguity: wrong on strided, "
         "transposed and expanded inputs", EDGE),
    # ------------------------------------------------------------------ triplet_margin
    _ok("triplet_margin", "embedding:triplet_margin_loss",
        "full contract; distances from explicit differences (+eps, as torch), masked root (gradient 0 at distance "
        "0); refuses p <= 0 (torch accepts it)"),
    _bug("triplet_margin", "embedding:triplet_no_eps",
         "textbook ||a - p||_p without torch's eps added to the difference", AGREEMENT),
    _bug("triplet_margin", "embedding:triplet_squared_distance",
         "squared distances (FaceNet form) instead of distances", AGREEMENT),
    _bug("triplet_margin", "embedding:triplet_detached_negative",
         "negative.detach(): right value, no gradient reaches the negative", GRADIENT),
    _bug("triplet_margin", "embedding:TripletSwapMax",
         "nn.Module: swap=True takes the max of d(a,n), d(p,n) instead of the min", AGREEMENT + " / " + EDGE),
    # ------------------------------------------------------------------ cosine_embedding
    _ok("cosine_embedding", "embedding:CosineEmbeddingLoss",
        "nn.Module, full contract; torch's EPS=float32(1e-12) in each squared norm, divided by the norms one at a "
        "time (no |a|^2|b|^2 overflow), half types in float32 (zero vector: cos 0, not NaN in float16); refuses "
        "targets other than +-1 and margins outside [-1, 1]"),
    _bug("cosine_embedding", "embedding:cosine_normalizes_inplace",
         "normalises input1 in place with div_", MUTATION),
    _bug("cosine_embedding", "embedding:cosine_margin_sign",
         "dissimilar branch max(0, cos + margin) instead of max(0, cos - margin)", AGREEMENT),
    _bug("cosine_embedding", "embedding:CosineEmbeddingNoEps",
         "nn.Module: cos = <a,b>/(|a||b|) without EPS: NaN for a zero vector", EDGE + " / " + AGREEMENT),
    _bug("cosine_embedding", "embedding:cosine_returns_float32",
         "computes in float32 and returns float32 for every input dtype", AGREEMENT),
    # ------------------------------------------------------------------ contrastive
    _ok("contrastive", "embedding:ContrastiveLoss",
        "nn.Module, full contract (Hadsell et al. eq. 4, +1 similar); similar branch as half the sum of squares, "
        "masked root"),
    _bug("contrastive", "embedding:contrastive_sqrt_distance",
         "the distance as sqrt(sum((a - b)^2)): right values, NaN gradient at a == b (coincident pairs)", GRADIENT),
    _bug("contrastive", "embedding:contrastive_expanded_distance",
         "squared distance as |a|^2 + |b|^2 - 2 a.b (torch.cdist's matrix-multiply mode): cancels for a ~ b", AGREEMENT,
         region="near-coincident", caught_in="test_contrastive", source="https://github.com/pytorch/pytorch/issues/42479"),
    _bug("contrastive", "embedding:contrastive_labels_inverted",
         "reads +1 as dissimilar and -1 as similar", AGREEMENT),
    _bug("contrastive", "embedding:contrastive_margin_on_squared",
         "dissimilar branch 0.5 max(0, margin^2 - d^2) instead of 0.5 max(0, margin - d)^2", AGREEMENT),
    _bug("contrastive", "embedding:contrastive_01_labels_unchecked",
         "labels never validated: 0 (or any value != 1) is silently 'dissimilar'", BAD),
    _bug("contrastive", "embedding:ContrastiveCosineDistance",
         "nn.Module: cosine distance 1 - cos instead of the Euclidean distance", AGREEMENT),
    # ------------------------------------------------------------------ dice
    _ok("dice", "divergence_segmentation:dice",
        "full contract (MONAI DiceLoss on probabilities): one explicit dim list per (n, c) or per c with batch"),
    _bug("dice", "divergence_segmentation:dice_plain",
         "only `reduction` (MONAI defaults otherwise): the value is the cancellation-free mismatch ratio, but "
         "autograd of mismatch / den is (1 - 2g)/den - mismatch/den^2, which cancels where the true gradient is "
         "small (p = 1, g = 0: smooth_nr / den^2 ~ 1e-5, 1e-3 relative off in float32); found once the gate "
         "checked its gradients at the default smoothing instead of skipping them", GRADIENT),
    _bug("dice", "divergence_segmentation:dice_smooth_swapped",
         "smooth_dr in the numerator and smooth_nr in the denominator", AGREEMENT),
    _bug("dice", "divergence_segmentation:dice_batch_ignored",
         "batch=True accepted but ignored (per-sample Dice, 'none' shape (N, C) instead of (C,))", AGREEMENT),
    _bug("dice", "divergence_segmentation:DiceSquaredPredTargetNotSquared",
         "nn.Module: squared_pred squares only the prediction (sum p^2 + sum g)", AGREEMENT),
    _bug("dice", "divergence_segmentation:dice_drops_single_channel",
         "include_background=False drops channel 0 even when C = 1 (MONAI keeps it): empty result",
         EDGE + " / " + AGREEMENT),
    _bug("dice", "divergence_segmentation:dice_squares_input_inplace",
         "squared_pred squares the caller's input in place (input.pow_(2))", MUTATION),
]

__all__ = ["CATALOGUE", "Entry", "impl_option", "resolve", "target"]
