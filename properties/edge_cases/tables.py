"""The per-loss edge-case tables (the rows every loss gets are in ``generic``).

Each row: a name, fixed inputs (exactly representable in every dtype unless the
expectation reads the rounded values from ``ctx.case``), the expected behaviour
and where it comes from.  Closed forms use SciPy (``logsumexp``, ``log_expit``),
not the reference's code path.  A ``KnownFailure`` names the recorded known
deviation (``properties/known_deviations.toml``) of a subject that fails the row.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit, logsumexp

from refimpl.cosine_embedding import EPSILON as COSINE_EPS  # float32(1e-12), torch's

from ..agreement import bound_for
from ..cases import Case
from ..specs import SPECS
from .expect import Raises, exactly, nan, value
from .row import EdgeCase, KnownFailure

A = np.array
INF = np.inf
TORCH_F = "torch.nn.functional."
#: the Keras adapters (properties/adapters/keras.py) named by known failures
KERAS_CE = "keras.losses.(Sparse)CategoricalCrossentropy"
KERAS_ELEMENTWISE = {"mse": "keras.losses.MeanSquaredError", "huber": "keras.losses.Huber",
                     "bce_with_logits": "keras.losses.BinaryCrossentropy",
                     "focal": "keras.losses.BinaryFocalCrossentropy", "cross_entropy": KERAS_CE}


def _rows(loss: str, *specs) -> list[EdgeCase]:
    return [EdgeCase(loss, *s[:4], **(s[4] if len(s) > 4 else {})) for s in specs]


def _arg(ctx, name):
    return ctx.case.args[name]


# ---- cross-entropy ------------------------------------------------------------------

X3 = A([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _ce_index(x, t):
    """-log softmax(x)[t] = logsumexp(x) - x_t, row by row (class dim 1)."""
    return logsumexp(x, axis=1) - np.take_along_axis(x, t[:, None], 1)[:, 0]


def _ce_case(x, t, **kw):
    return Case({"input": A(x, dtype=float), "target": A(t)}, {"reduction": "none", **kw})


def _ce_finite_classes_tol(ctx, want):
    """The model's bound for the same rows with the -inf logit's class removed (an infinite
    input makes the budget infinite; a masked class contributes nothing to the value)."""
    x = _arg(ctx, "input")
    keep = ~np.any(np.isneginf(x), axis=0)
    t = _arg(ctx, "target")
    case = Case({"input": x[:, keep], "target": (t[:, keep] if t.dtype.kind == "f" else t - np.cumsum(~keep)[t])},
                ctx.case.kwargs)
    return bound_for(ctx.spec, ctx.fmt, case, ctx.reduction, want)


CROSS_ENTROPY = _rows(
    "cross_entropy",
    ("all_ignored-none", _ce_case(X3, [-100, -100]), exactly([0.0, 0.0], "zeros"),
     "an ignored target contributes 0"),
    ("all_ignored-mean", _ce_case(X3, [-100, -100], reduction="mean"), nan(),
     "weighted mean over no non-ignored target is 0/0 (pytorch#116349: expected behaviour)"),
    ("all_ignored-sum", _ce_case(X3, [-100, -100], reduction="sum"), exactly(0.0, "0"), "an empty sum is 0"),
    ("all_ignored-label_smoothing-mean", _ce_case(X3, [-100, -100], reduction="mean", label_smoothing=0.25), nan(),
     "ignored targets are excluded from the smoothing term too (pytorch#73205); 0/0"),
    ("ignore_index_in_range", _ce_case(X3, [1, 2], ignore_index=2),
     value(lambda ctx: [_ce_index(_arg(ctx, "input"), A([1, 2]))[0], 0.0], "[-log p_1, 0]"),
     "a target equal to ignore_index (a valid class here) is ignored"),
    ("ignore_index_out_of_range", _ce_case(X3, [7, 0], ignore_index=7),
     value(lambda ctx: [0.0, _ce_index(_arg(ctx, "input"), A([0, 0]))[1]], "[0, -log p_0]"),
     "ignore_index need not be a class; matching targets are ignored"),
    ("one_class", _ce_case([[0.5], [-1.5]], [0, 0]), exactly([0.0, 0.0], "zeros"),
     "with C = 1, softmax is 1 and -log 1 = 0"),
    ("one_class-label_smoothing_1", _ce_case([[0.5], [-1.5]], [0, 0], label_smoothing=1.0),
     exactly([0.0, 0.0], "zeros"), "the uniform distribution over one class is that class"),
    ("label_smoothing_0", _ce_case(X3, [2, 0], label_smoothing=0.0),
     value(lambda ctx: _ce_index(_arg(ctx, "input"), A([2, 0])), "logsumexp(x) - x_t"),
     "no smoothing: plain cross-entropy"),
    ("label_smoothing_1", _ce_case(X3, [2, 0], label_smoothing=1.0),
     value(lambda ctx: logsumexp(_arg(ctx, "input"), axis=1) - _arg(ctx, "input").mean(axis=1),
           "logsumexp(x) - mean(x)"),
     "full smoothing: cross-entropy against the uniform distribution, whatever the target"),
    ("one_hot_probability_targets", _ce_case(X3, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
     value(lambda ctx: _ce_index(_arg(ctx, "input"), A([2, 0])), "the index-target loss"),
     "a one-hot distribution is its class index (no weight: see pytorch#107680 for weighted means)"),
    ("saturated_logits-right", _ce_case([[1e4, 0.0, 0.0], [0.0, -1e4, 0.0]], [0, 0]),
     value(lambda ctx: _ce_index(_arg(ctx, "input"), A([0, 0])), "[~0, log 2]"),
     "exp(-1e4) underflows; the loss of a confident right prediction is ~0, stably"),
    ("saturated_logits-wrong", _ce_case([[0.0, 1e4, 0.0], [-1e4, 0.0, 0.0]], [0, 0]),
     value(lambda ctx: _ce_index(_arg(ctx, "input"), A([0, 0])), "[1e4, 1e4 + log 2]"),
     "no overflow: logsumexp is shifted by the maximum"),
    ("inf_logit-target_class", _ce_case([[INF, 0.0, 0.0]], [0]), value(0.0 * np.ones(1), "0 (or NaN)", nan_ok=True),
     "the limit is 0; inf - inf has no value in finite arithmetic, so NaN is also accepted"),
    ("inf_logit-other_class", _ce_case([[0.0, INF, 0.0]], [0]), value(A([INF]), "inf (or NaN)", nan_ok=True),
     "the limit is +inf (probability 0 for the target); NaN is also accepted"),
    ("neg_inf_logit-target_class", _ce_case([[-INF, 0.0, 0.0]], [0]), exactly([INF], "inf"),
     "a masked target class has probability 0: -log 0 = inf"),
    ("neg_inf_logit-other_class", _ce_case([[0.5, -INF, 2.0]], [0]),
     value(lambda ctx: _ce_index(_arg(ctx, "input")[:, [0, 2]], A([0])), "logsumexp over the finite classes - x_t",
           tol=_ce_finite_classes_tol),
     "a masked class (logit -inf) has probability 0 and drops out of the softmax"),
    ("neg_inf_logit-probability_target_zero", _ce_case([[0.5, -INF, 2.0]], [[0.25, 0.0, 0.75]]),
     value(lambda ctx: (lambda x: (0.25 * _ce_index(x, A([0])) + 0.75 * _ce_index(x, A([1]))))(
         _arg(ctx, "input")[:, [0, 2]]), "the loss over the finite classes", tol=_ce_finite_classes_tol),
     "q = 0 on a masked class: 0 * log 0 = 0 (the xlogy convention)",
     {"known_failures": (KnownFailure("cross_entropy_masked_logit_probability_target", TORCH_F + "cross_entropy"),
                         KnownFailure("keras_cross_entropy_masked_logit_probability_target", KERAS_CE))}),
    ("k_dimensional", Case({"input": np.arange(24, dtype=float).reshape(2, 3, 2, 2) / 8 - 1.5,
                            "target": A([[[0, 1], [2, 0]], [[1, 1], [2, 2]]])}, {"reduction": "none"}),
     value(lambda ctx: _ce_index(np.moveaxis(_arg(ctx, "input"), 1, -1).reshape(-1, 3),
                                 _arg(ctx, "target").reshape(-1)).reshape(2, 2, 2), "per-position -log p_t"),
     "(N, C, d1, d2): the class dim is 1, the loss is per position"),
    ("no_batch_dim", Case({"input": A([0.5, -1.0, 2.0]), "target": A(2)}, {"reduction": "none"}),
     value(lambda ctx: _ce_index(_arg(ctx, "input")[None], A([2]))[0], "a 0-d loss"),
     "a (C,) input with a 0-d target is one sample"),
)

# ---- binary cross-entropy -------------------------------------------------------------

BCE = _rows(
    "bce",
    ("probabilities_0_and_1", Case({"input": A([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]), "target": A([0.0, 1.0, 0.5, 0.0, 1.0, 0.5])},
                                   {"reduction": "none"}),
     exactly([0.0, 100.0, 50.0, 100.0, 0.0, 50.0], "[0, 100, 50, 100, 0, 50]"),
     "nn.BCELoss documents each log clamped at >= -100 (known deviation bce_log_clamp: the mathematics is +inf)"),
    ("soft_targets_at_0_and_1", Case({"input": A([0.0, 1.0]), "target": A([0.25, 0.75])}, {"reduction": "none"}),
     value(lambda ctx: 100.0 * A([_arg(ctx, "target")[0], 1 - _arg(ctx, "target")[1]]), "[25, 25]"),
     "only the clamped log contributes: 100 t (or 100 (1 - t))"),
    ("input_outside_0_1", Case({"input": A([0.5, 1.5]), "target": A([1.0, 0.0])}, {"reduction": "none"}), Raises(),
     "torch requires input in [0, 1] ('all elements of input should be between 0 and 1')"),
    ("zero_dim", Case({"input": A(0.25), "target": A(1.0)}, {"reduction": "none"}),
     value(lambda ctx: -np.log(_arg(ctx, "input")), "-log 0.25"), "a 0-d input is one term"),
)

# ---- BCE with logits and focal --------------------------------------------------------

LOGITS = A([1e4, 1e4, -1e4, -1e4])
T01 = A([0.0, 1.0, 0.0, 1.0])


def _bcel(x, t, pw=1.0):
    """pw t softplus(-x) + (1 - t) softplus(x), softplus(x) = -log_expit(-x)."""
    return pw * t * -log_expit(x) + (1 - t) * -log_expit(-x)


BCE_WITH_LOGITS = _rows(
    "bce_with_logits",
    ("saturated_logits", Case({"input": LOGITS, "target": T01}, {"reduction": "none"}),
     value(lambda ctx: _bcel(_arg(ctx, "input"), T01), "[1e4, 0, 0, 1e4]"),
     "softplus(+-1e4) without overflow (the log-sum-exp form)"),
    ("infinite_logits", Case({"input": A([INF, INF, -INF, -INF]), "target": T01}, {"reduction": "none"}),
     value(A([INF, 0.0, 0.0, INF]), "[inf, 0, 0, inf] (or NaN)", nan_ok=True),
     "the limits of softplus; inf - inf has no finite-arithmetic value, NaN is also accepted"),
    ("pos_weight_0", Case({"input": A([2.0, -3.0, 0.5]), "target": A([1.0, 0.0, 0.5])},
                          {"reduction": "none", "pos_weight": A([0.0])}),
     value(lambda ctx: _bcel(_arg(ctx, "input"), _arg(ctx, "target"), 0.0), "[0, softplus(-3), 0.5 softplus(0.5)]"),
     "pos_weight 0 removes the positive term"),
    ("zero_dim", Case({"input": A(-2.0), "target": A(1.0)}, {"reduction": "none"}),
     value(lambda ctx: _bcel(_arg(ctx, "input"), 1.0), "softplus(2)"), "a 0-d input is one term"),
)


def _focal(x, t, alpha, gamma):
    p = 1 / (1 + np.exp(-x))
    one_minus_pt = t * (1 - p) + (1 - t) * p
    w = 1.0 if alpha < 0 else alpha * t + (1 - alpha) * (1 - t)
    return w * _bcel(x, t) * one_minus_pt ** gamma


def _focal_case(x, t, alpha, gamma):
    return Case({"inputs": A(x, dtype=float), "targets": A(t, dtype=float)},
                {"alpha": alpha, "gamma": gamma, "reduction": "none"})


FOCAL = _rows(
    "focal",
    ("saturated_logits-fractional_gamma", _focal_case(LOGITS, T01, 0.25, 0.5),
     value(lambda ctx: A([0.75e4, 0.0, 0.0, 0.25e4]), "[7500, 0, 0, 2500]"),
     "(1 - p_t)^gamma is 1 for a wrong and 0 for a right saturated prediction; finite for 0 < gamma < 1"),
    ("infinite_logits", _focal_case([INF, INF, -INF, -INF], T01, 0.25, 2.0),
     value(A([INF, 0.0, 0.0, INF]), "[inf, 0, 0, inf] (or NaN)", nan_ok=True), "the limits; NaN also accepted"),
    ("alpha_0", _focal_case([2.0, -1.0], [1.0, 1.0], 0.0, 2.0), exactly([0.0, 0.0], "zeros"),
     "alpha = 0 gives positives weight alpha = 0"),
    ("alpha_1", _focal_case([2.0, -1.0], [0.0, 0.0], 1.0, 2.0), exactly([0.0, 0.0], "zeros"),
     "alpha = 1 gives negatives weight 1 - alpha = 0"),
    ("gamma_0", _focal_case([2.0, -1.0, 0.5], [1.0, 0.0, 0.5], -1.0, 0.0),
     value(lambda ctx: _bcel(_arg(ctx, "inputs"), _arg(ctx, "targets")), "BCE with logits"),
     "gamma = 0 and alpha < 0: the focal factor is 1, the loss is BCE with logits (0^0 = 1)"),
    ("gamma_fractional", _focal_case([2.0, -1.0, 0.5], [1.0, 0.0, 1.0], 0.25, 0.5),
     value(lambda ctx: _focal(_arg(ctx, "inputs"), _arg(ctx, "targets"), 0.25, 0.5), "closed form"),
     "(1 - p_t)^0.5 scaling of alpha-weighted BCE (Lin et al. 2017, eq. 5)"),
)

# ---- KL divergence --------------------------------------------------------------------

KL_DIV = _rows(
    "kl_div",
    ("zero_targets", Case({"input": A([-1.0, -2.5, 0.0]), "target": A([0.0, 0.0, 0.0])}, {"reduction": "none"}),
     exactly([0.0, 0.0, 0.0], "zeros"), "0 log(0 / q) = 0: a zero target contributes nothing"),
    ("zero_target-neg_inf_input", Case({"input": A([-INF, -1.0]), "target": A([0.0, 1.0])}, {"reduction": "none"}),
     exactly([0.0, 1.0], "[0, 1]"), "0 log(0 / 0) = 0 by the KL convention (q = 0 where p = 0 is allowed)",
     {"known_failures": (KnownFailure("kl_div_zero_target_neg_inf_input", TORCH_F + "kl_div"),)}),
    ("log_target-neg_inf_target", Case({"input": A([-1.0, -INF]), "target": A([-INF, -INF])},
                                       {"reduction": "none", "log_target": True}),
     exactly([0.0, 0.0], "zeros"), "exp(-inf) = 0 is a zero target probability: contributes 0",
     {"known_failures": (KnownFailure("kl_div_zero_target_neg_inf_input", TORCH_F + "kl_div"),)}),
    ("neg_inf_input-positive_target", Case({"input": A([-INF]), "target": A([0.5])}, {"reduction": "none"}),
     exactly([INF], "inf"), "q = 0 where p > 0: the divergence is infinite"),
    ("zero_dim-batchmean", Case({"input": A(-1.0), "target": A(0.5)}, {"reduction": "batchmean"}),
     value(lambda ctx: 0.5 * (np.log(0.5) + 1.0), "0.5 (log 0.5 + 1)"), "a 0-d input has batch size 1"),
)

# ---- regression -------------------------------------------------------------------------

R = A([1.0, -2.0, 0.0, 3e-31, -0.5])


def _rcase(loss_kw, x=R):
    return Case({"input": A(x), "target": np.zeros_like(A(x))}, {"reduction": "none", **loss_kw})


MSE = _rows(
    "mse",
    ("zero_dim", Case({"input": A(3.0), "target": A(1.0)}, {"reduction": "none"}), exactly(4.0, "4"),
     "(3 - 1)^2 on 0-d inputs"),
    ("equal_inputs", Case({"input": A([1.5, -2.0, 0.0]), "target": A([1.5, -2.0, 0.0])}, {"reduction": "none"}),
     exactly([0.0, 0.0, 0.0], "zeros"), "x - x = 0 exactly"),
)

SMOOTH_L1 = _rows(
    "smooth_l1",
    ("beta_0_is_l1", _rcase({"beta": 0.0}), value(lambda ctx: np.abs(_arg(ctx, "input")), "|r|"),
     "beta = 0 is L1 (documented; pytorch#68558, PR #97022)"),
    ("tiny_beta", _rcase({"beta": 1e-30}),
     value(lambda ctx: np.where(np.abs(_arg(ctx, "input")) < 1e-30, 0.5 * _arg(ctx, "input") ** 2 / 1e-30,
                                np.abs(_arg(ctx, "input")) - 0.5e-30), "|r| - beta/2 (0.5 r^2/beta below beta)"),
     "no overflow of r^2 / beta for beta = 1e-30"),
    ("at_transition", _rcase({"beta": 1.5}, A([1.5, -1.5])), exactly([0.75, 0.75], "beta / 2"),
     "at |r| = beta both branches give beta / 2 (continuity)"),
)

HUBER = _rows(
    "huber",
    ("tiny_delta", _rcase({"delta": 1e-30}),
     value(lambda ctx: np.where(np.abs(_arg(ctx, "input")) < 1e-30, 0.5 * _arg(ctx, "input") ** 2,
                                1e-30 * (np.abs(_arg(ctx, "input")) - 0.5e-30)), "delta (|r| - delta/2)"),
     "the linear branch for |r| >= delta = 1e-30 (underflow in low precision is the model's floor)"),
    ("at_transition", _rcase({"delta": 1.5}, A([1.5, -1.5])), exactly([1.125, 1.125], "delta^2 / 2"),
     "at |r| = delta both branches give delta^2 / 2"),
    ("zero_dim", Case({"input": A(3.0), "target": A(1.0)}, {"reduction": "none", "delta": 1.0}), exactly(1.5, "1.5"),
     "1 (2 - 0.5) on 0-d inputs"),
)

# ---- hinge, triplet, cosine, contrastive ------------------------------------------------

HINGE_EMBEDDING = _rows(
    "hinge_embedding",
    ("negative_input-positive_target", Case({"input": A([-2.0, 0.5]), "target": A([1.0, -1.0])},
                                           {"reduction": "none", "margin": 1.0}),
     exactly([-2.0, 0.5], "[-2, 0.5]"),
     "the documented formula: x for y = 1 (negative for x < 0; pytorch#22965), max(0, margin - x) for y = -1"),
    ("at_margin", Case({"input": A([1.0, 1.0]), "target": A([-1.0, 1.0])}, {"reduction": "none", "margin": 1.0}),
     exactly([0.0, 1.0], "[0, 1]"), "max(0, margin - margin) = 0"),
    ("negative_margin", Case({"input": A([0.5, 0.0]), "target": A([-1.0, -1.0])}, {"reduction": "none", "margin": -1.0}),
     exactly([0.0, 0.0], "zeros"), "max(0, -1 - x) = 0 for x >= 0"),
    ("zero_dim", Case({"input": A(0.25), "target": A(-1.0)}, {"reduction": "none"}), exactly(0.75, "0.75"),
     "max(0, 1 - 0.25) on 0-d inputs"),
)

V = A([[1.0, 2.0, -2.0], [0.5, -0.5, 0.25]])


def _tcase(anchor, positive, negative, **kw):
    return Case({"anchor": A(anchor), "positive": A(positive), "negative": A(negative)}, {"reduction": "none", **kw})


TRIPLET_MARGIN = _rows(
    "triplet_margin",
    ("all_equal", _tcase(V, V, V, margin=0.5), value(A([0.5, 0.5]), "margin"),
     "d(a, p) = d(a, n): the loss is the margin"),
    ("anchor_is_positive", _tcase(V, V, V + 0.5, margin=1.0, eps=0.0),
     value(lambda ctx: np.maximum(1.0 - np.linalg.norm(_arg(ctx, "anchor") - _arg(ctx, "negative"), axis=1), 0.0),
           "max(0, margin - d(a, n))"), "d(a, a) = 0 with eps = 0"),
    ("anchor_is_negative", _tcase(V, V + 0.5, V, margin=1.0, eps=0.0),
     value(lambda ctx: 1.0 + np.linalg.norm(_arg(ctx, "anchor") - _arg(ctx, "positive"), axis=1),
           "d(a, p) + margin"), "d(a, n) = 0 with eps = 0"),
    *[(f"p_{p}", _tcase(V, V + 0.25, V - 0.5, margin=1.0, p=p, eps=0.0),
       value(lambda ctx, p=p: np.maximum(
           np.sum(np.abs(_arg(ctx, "anchor") - _arg(ctx, "positive")) ** p, 1) ** (1 / p)
           - np.sum(np.abs(_arg(ctx, "anchor") - _arg(ctx, "negative")) ** p, 1) ** (1 / p) + 1.0, 0.0),
           f"max(0, ||a-p||_{p} - ||a-n||_{p} + margin)"), f"the p = {p} (quasi-)norm of the differences")
      for p in (1.0, 2.0, 3.0, 0.5)],
    ("swap", _tcase(V, V + 0.25, V - 0.5, margin=1.0, eps=0.0, swap=True),
     value(lambda ctx: np.maximum(
         np.linalg.norm(_arg(ctx, "anchor") - _arg(ctx, "positive"), axis=1)
         - np.minimum(np.linalg.norm(_arg(ctx, "anchor") - _arg(ctx, "negative"), axis=1),
                      np.linalg.norm(_arg(ctx, "positive") - _arg(ctx, "negative"), axis=1)) + 1.0, 0.0),
         "with d(a, n) -> min(d(a, n), d(p, n))"), "swap uses the harder of the two negatives distances"),
    ("no_batch_dim", _tcase(V[0], V[0], V[0], margin=0.5), value(0.5, "margin"), "(D,) inputs are one triplet"),
)


def _pair(a, b, y, **kw):
    return Case({"input1": A(a, dtype=float), "input2": A(b, dtype=float), "target": A(y, dtype=float)},
                {"reduction": "none", **kw})


Z3, W3 = A([[0.0, 0.0, 0.0]]), A([[1.0, 2.0, -2.0]])


def _cosine(ctx, y_sign: float, margin: float = 0.0):
    """1 - cos (y = 1) or max(0, cos - margin) (y = -1), with torch's EPS in the squared norms:
    cos = a.b / sqrt((|a|^2 + EPS)(|b|^2 + EPS))."""
    a, b = _arg(ctx, "input1"), _arg(ctx, "input2")
    cos = np.sum(a * b, -1) / np.sqrt((np.sum(a * a, -1) + COSINE_EPS) * (np.sum(b * b, -1) + COSINE_EPS))
    return 1 - cos if y_sign > 0 else np.maximum(cos - margin, 0.0)

COSINE_EMBEDDING = _rows(
    "cosine_embedding",
    ("zero_vector", _pair(Z3, W3, [1.0]), value(A([1.0]), "1"),
     "cos = 0 for a zero vector (torch's EPS = 1e-12 in the norms): 1 - 0",
     {"known_failures": (KnownFailure("cosine_embedding_zero_vector_low_precision",
                                      TORCH_F + "cosine_embedding_loss", ("float16",)),)}),
    ("both_zero-dissimilar", _pair(Z3, Z3, [-1.0], margin=0.0), exactly([0.0], "0"), "max(0, 0 - 0) = 0",
     {"known_failures": (KnownFailure("cosine_embedding_zero_vector_low_precision",
                                      TORCH_F + "cosine_embedding_loss", ("float16",)),)}),
    ("parallel", _pair(W3, 2 * W3, [1.0]), value(lambda ctx: _cosine(ctx, 1), "~0"),
     "cos = 1 (less EPS 1e-12 relative): 1 - cos ~ 0"),
    ("anti_parallel", _pair(W3, -2 * W3, [1.0]), value(lambda ctx: _cosine(ctx, 1), "~2"), "cos = -1: 1 - (-1) = 2"),
    ("parallel-dissimilar", _pair(W3, W3, [-1.0], margin=0.5), value(lambda ctx: _cosine(ctx, -1, 0.5), "~0.5"),
     "max(0, cos - margin) with cos = 1"),
    ("margin_1", _pair(W3, W3 * A([1.0, -1.0, 1.0]), [-1.0], margin=1.0), exactly([0.0], "0"),
     "max(0, cos - 1) = 0: margin 1 never penalises"),
    ("margin_-1", _pair(W3, -W3, [-1.0], margin=-1.0), value(lambda ctx: _cosine(ctx, -1, -1.0), "~0"),
     "max(0, cos + 1) ~ 0 at cos = -1"),
    ("no_batch_dim", Case({"input1": W3[0], "input2": 2 * W3[0], "target": A(1.0)}, {"reduction": "none"}),
     value(lambda ctx: _cosine(ctx, 1), "~0"), "(D,) inputs with a 0-d target are one pair"),
)

CONTRASTIVE = _rows(
    "contrastive",
    ("identical_similar", _pair(W3, W3, [1.0]), exactly([0.0], "0"), "d = 0: 0.5 d^2 = 0"),
    ("identical_dissimilar", _pair(W3, W3, [-1.0], margin=2.0), exactly([2.0], "0.5 margin^2"),
     "d = 0 < margin: 0.5 (margin - 0)^2"),
    ("zero_vectors", _pair(Z3, Z3, [-1.0], margin=1.0), exactly([0.5], "0.5"), "d(0, 0) = 0"),
    ("beyond_margin", _pair(Z3, W3, [-1.0], margin=3.0), exactly([0.0], "0"), "d = 3 = margin: max(0, 0)^2 = 0"),
    ("no_batch_dim", Case({"input1": Z3[0], "input2": W3[0], "target": A(1.0)}, {"reduction": "none"}),
     exactly(4.5, "0.5 * 9"), "(D,) inputs with a 0-d target are one pair"),
)

# ---- Dice ------------------------------------------------------------------------------------


def _dcase(p, g, **kw):
    return Case({"input": A(p, dtype=float), "target": A(g, dtype=float)}, {"reduction": "none", **kw})


EMPTY = np.zeros((1, 1, 2, 2))
PRED = A([[[[0.5, 0.25], [0.0, 1.0]]]])

DICE = _rows(
    "dice",
    ("empty_target_empty_prediction", _dcase(EMPTY, EMPTY), exactly([[0.0]], "0"),
     "1 - smooth_nr / smooth_dr = 0 with the default smooth terms (MONAI: a correctly empty prediction)"),
    ("empty_target_nonempty_prediction", _dcase(PRED, EMPTY),
     value(lambda ctx: A([[1.0 - 1e-5 / (1.75 + 1e-5)]]), "1 - s / (sum p + s)"),
     "no overlap possible: the loss is ~1"),
    ("smooth_0-empty", _dcase(EMPTY, EMPTY, smooth_nr=0.0, smooth_dr=0.0), nan(shape=(1, 1)),
     "0 / 0 without smoothing terms"),
    ("smooth_0-perfect", _dcase(A([[[[1.0, 0.0]]]]), A([[[[1.0, 0.0]]]]), smooth_nr=0.0, smooth_dr=0.0),
     exactly([[0.0]], "0"), "2 I / (P + G) = 1"),
    ("single_pixel", _dcase(A([[[[0.75]]]]), A([[[[1.0]]]])), value(lambda ctx: A([[1 - (1.5 + 1e-5) / (1.75 + 1e-5)]]),
                                                                  "1 - (2 p + s) / (p + 1 + s)"), "one pixel"),
    ("include_background_false-one_channel", _dcase(PRED, EMPTY, include_background=False),
     value(lambda ctx: A([[1.0 - 1e-5 / (1.75 + 1e-5)]]), "the single channel kept"),
     "MONAI ignores include_background=False with one channel (warns) and keeps channel 0"),
    ("include_background_false", _dcase(np.concatenate([PRED, 1 - PRED], 1), np.concatenate([EMPTY, 1 - EMPTY], 1),
                                        include_background=False),
     value(lambda ctx: A([[1 - (2 * 2.25 + 1e-5) / (2.25 + 4 + 1e-5)]]), "channel 1 only"),
     "channel 0 (background) is dropped"),
)

#: Known failures of rows every loss gets (``generic``), by (loss, row name).
GENERIC_KNOWN_FAILURES = {
    # subnormal vectors: |a|^2 underflows to 0 and EPS = 1e-12 rounds to 0 in float16: 0/0
    ("cosine_embedding", "subnormal_inputs"): (
        KnownFailure("cosine_embedding_zero_vector_low_precision", TORCH_F + "cosine_embedding_loss", ("float16",)),),
    # Keras returns a (0,) per-sample loss unreduced by 'sum' and 'sum_over_batch_size'
    **{(loss, f"empty_batch-{reduction}"): (KnownFailure("keras_empty_batch_reductions", qualname),)
       for loss, qualname in KERAS_ELEMENTWISE.items() for reduction in ("mean", "sum")},
    # a NaN logit reaches torch's probability BCE through Keras's sigmoid, which raises on it (CPU)
    ("focal", "nan_propagates"): (KnownFailure("keras_focal_nan_logit_raises", "keras.losses.BinaryFocalCrossentropy"),),
    # fvcore's empty 'mean' is 0.0 * loss.sum() = 0
    ("smooth_l1", "empty_batch-mean"): (KnownFailure("fvcore_smooth_l1_empty_mean_is_zero", "fvcore.nn.smooth_l1_loss"),),
}

#: Known failures of the crossed rows (``crossed``: ``<condition>+<variant>``), by (loss, condition, variant);
#: ``when`` names the drawn cases the deviation shows on.
def _reduced_by(*reductions):
    return lambda case: case.kwargs.get("reduction", "mean") in reductions


def _masked_class_zero_probability(case) -> bool:
    """A -inf logit (a masked class) where the probability target, label smoothing applied, is 0."""
    x, q = case.args["input"], case.args["target"]
    if q.dtype.kind != "f":
        return False
    eps = case.kwargs.get("label_smoothing", 0.0)
    n_classes = x.shape[0 if x.ndim == 1 else 1]
    smoothed = q * (1 - eps) + eps / n_classes  # eps / C may underflow to 0 (eps = 5e-324)
    return bool(np.any(np.isneginf(x) & (smoothed == 0)))


CONDITION_KNOWN_FAILURES: dict[tuple[str, str, str], tuple[KnownFailure, ...]] = {
    # 0 * log 0 at a masked class: torch and Keras return NaN (the hand-written row
    # neg_inf_logit-probability_target_zero), on the drawn cases where a -inf meets q = 0
    **{("cross_entropy", "neg_inf", variant): (
        KnownFailure("cross_entropy_masked_logit_probability_target", TORCH_F + "cross_entropy",
                     when=_masked_class_zero_probability),
        KnownFailure("keras_cross_entropy_masked_logit_probability_target", KERAS_CE,
                     when=_masked_class_zero_probability))
       for variant in ("prob", "prob-weight", "prob-label_smoothing", "prob-weight-label_smoothing")},
    # the generic rows' deviations (GENERIC_KNOWN_FAILURES) on the other variants, on the drawn cases they show on
    **{(loss, "empty_batch", variant): (KnownFailure("keras_empty_batch_reductions", qualname,
                                                     when=_reduced_by("mean", "sum")),)
       for loss, qualname in KERAS_ELEMENTWISE.items() for variant in SPECS[loss].variants[1:]},
    ("smooth_l1", "empty_batch", "l1"): (
        KnownFailure("fvcore_smooth_l1_empty_mean_is_zero", "fvcore.nn.smooth_l1_loss", when=_reduced_by("mean")),),
    ("focal", "nan", "hard_targets"): (
        KnownFailure("keras_focal_nan_logit_raises", "keras.losses.BinaryFocalCrossentropy",
                     # a NaN target meets the same torch range check (target in [0, 1]) behind Keras
                     when=lambda case: any(bool(np.isnan(v).any()) for v in case.args.values())),),
    # a zero vector in float16: |a|^2 + EPS rounds to 0, 0/0 (the hand-written row zero_vector)
    ("cosine_embedding", "zero_prediction", "pairs"): (
        KnownFailure("cosine_embedding_zero_vector_low_precision", TORCH_F + "cosine_embedding_loss", ("float16",)),),
}

TABLES = {
    "cross_entropy": CROSS_ENTROPY, "bce": BCE, "bce_with_logits": BCE_WITH_LOGITS, "focal": FOCAL, "kl_div": KL_DIV,
    "mse": MSE, "smooth_l1": SMOOTH_L1, "huber": HUBER, "hinge_embedding": HINGE_EMBEDDING,
    "triplet_margin": TRIPLET_MARGIN, "cosine_embedding": COSINE_EMBEDDING, "contrastive": CONTRASTIVE, "dice": DICE,
}
