"""What the per-loss edge-case rows share, and the known failures of the rows every loss gets.

Each loss's own rows are ``EDGE_ROWS`` in its unit (``properties/specs/<loss>.py``); the rows every
loss gets are in ``generic`` and ``crossed``.  Each row: a name, fixed inputs (exactly representable in every dtype unless the
expectation reads the rounded values from ``ctx.case``), the expected behaviour
and where it comes from.  Closed forms use SciPy (``logsumexp``, ``log_expit``),
not the reference's code path.  A ``KnownFailure`` names the recorded known
deviation (``properties/known_deviations.toml``) of a subject that fails the row.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_expit


from ..cases import Case
from ..known import KnownDeviation, KnownFailure
from .row import EdgeCase

A = np.array
INF = np.inf
TORCH_F = "torch.nn.functional."
#: the Keras adapters (properties/adapters/keras.py) named by known failures
KERAS_CE = "keras.losses.(Sparse)CategoricalCrossentropy"
KERAS_ELEMENTWISE = {"mse": "keras.losses.MeanSquaredError", "huber": "keras.losses.Huber",
                     "bce_with_logits": "keras.losses.BinaryCrossentropy",
                     "focal": "keras.losses.BinaryFocalCrossentropy", "cross_entropy": KERAS_CE}


def rows(loss: str, *specs) -> list[EdgeCase]:
    return [EdgeCase(loss, *s[:4], **(s[4] if len(s) > 4 else {})) for s in specs]


def arg(ctx, name):
    return ctx.case.args[name]


# ---- shared by the rows of two losses: bce_with_logits and focal --------------------------------------------------------

LOGITS = A([1e4, 1e4, -1e4, -1e4])
T01 = A([0.0, 1.0, 0.0, 1.0])


def bcel(x, t, pw=1.0):
    """pw t softplus(-x) + (1 - t) softplus(x), softplus(x) = -log_expit(-x)."""
    return pw * t * -log_expit(x) + (1 - t) * -log_expit(-x)


# ---- regression -------------------------------------------------------------------------

R = A([1.0, -2.0, 0.0, 3e-31, -0.5])


def rcase(loss_kw, x=R):
    return Case({"input": A(x), "target": np.zeros_like(A(x))}, {"reduction": "none", **loss_kw})


# ---- hinge, triplet, cosine, contrastive ------------------------------------------------


def pair_case(a, b, y, **kw):
    return Case({"input1": A(a, dtype=float), "input2": A(b, dtype=float), "target": A(y, dtype=float)},
                {"reduction": "none", **kw})


Z3, W3 = A([[0.0, 0.0, 0.0]]), A([[1.0, 2.0, -2.0]])


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


def condition_known_failures(specs) -> dict[tuple[str, str, str], tuple[KnownDeviation, ...]]:
    """The known failures of the crossed rows of ``specs`` (name -> LossSpec)."""
    return {
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
           for loss, qualname in KERAS_ELEMENTWISE.items() for variant in specs[loss].variants[1:]},
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
