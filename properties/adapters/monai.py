"""MONAI adapters: ``monai.losses.FocalLoss`` (sigmoid path) and ``monai.losses.DiceLoss``.

FocalLoss(use_softmax=False, to_onehot_y=False, include_background=True, weight=None,
ignore_index=None) as the focal contract (torchvision.ops.sigmoid_focal_loss semantics):

- alpha: the contract's ``alpha < 0`` (no alpha weighting) is MONAI's ``alpha=None``; an alpha in
  [0, 1] is passed as is (alpha_t = alpha t + (1 - alpha)(1 - t), the same formula).
- shape: MONAI expects (B, C, *spatial), and its ``reduction='sum'`` is not the plain sum: it
  averages over the spatial dims first (``loss.mean(dim=[2, ...])``), and with no spatial dim
  (a (B, C) input) ``mean(dim=[])`` averages everything, so 'sum' returns the mean (known
  deviation ``monai_focal_sum_averages_spatial_dims``).  The adapter presents every input as
  ``x.reshape(1, numel, 1)`` (one sample, one channel per element, one spatial element): then
  MONAI's 'sum' is the plain sum, 'mean' the plain mean, and 'none' is reshaped back to the
  input's shape.  A reshape copies a non-contiguous input, so the layout edge cases exercise
  MONAI on a contiguous copy.  Inputs whose shapes differ are passed as ``x[None, None]``
  unflattened, so MONAI's own shape check refuses them (flattening could make (2, 3) and
  (3, 2) look alike).
- dtype: FocalLoss computes in float32 (``input.float()``, ``target.float()``) and returns
  float32 whatever the input dtype: the adapter casts the result back to the input's dtype
  (float16, bfloat16: computed in more precision than the dtype, then rounded).  float64 is not
  checked: its value carries float32's error (known deviation ``monai_focal_computes_in_float32``).
- gradients: FocalLoss's ce is ``x - x t - logsigmoid(x)``; for t = 0 and x << 0 it cancels (the
  exact value softplus(x) ~ e^x), and so does its gradient 1 - sigmoid(-x): d/dx = 0 at x = -20
  where the exact value is 2.06e-9 (gamma = 0) -- known deviation
  ``monai_focal_easy_negative_cancellation``; the value stays within the model (its budget has
  torch's own |(1 - t) x| u term), the gradient does not.
- admits: MONAI's (1 - p_t)^gamma is ``exp(gamma * logsigmoid(-x (2t - 1)))``, torchvision's
  ``t sigmoid(-x) + (1 - t) sigmoid(x)``: equal for hard targets t in {0, 1}, for t = 1/2 (both
  1/2) and whenever gamma = 0 (the factor is 1); other soft targets with gamma > 0 follow
  MONAI's own soft-target convention (its docstring defines p_t for labels 0 and 1 only) and
  are not compared; nor are derivatives w.r.t. the targets (``Subject.labels``): at t = 1/2 the
  values coincide but MONAI's extension has its own slope (d/dt -0.18 where torchvision's is -0.11,
  float16, x = 4.09, gamma = 2).

DiceLoss(sigmoid=False, softmax=False, other_act=None, to_onehot_y=False, jaccard=False,
weight=None, soft_label=False, ignore_index=None) as the dice contract (which mirrors it):
smooth_nr, smooth_dr, squared_pred, include_background, batch and reduction are passed
through.  soft_label=False is MONAI's default and the contract's: I = sum p g (soft_label=True
uses (|p|_1 + |g|_1 - |p - g|_1) / 2, different for soft targets).  reduction='none' returns
f viewed as (B, C, 1, ..., 1) -- (C, 1, ..., 1) with batch=True (MONAI issue #3185,
PR #3025) --: the adapter reshapes it to the contract's (B, C) / (C,).  Every dtype (DiceLoss
keeps the input's dtype), soft and hard targets.

Gradients: two recorded known deviations fail tests/gate/test_gradients.py's random comparison
(which has no per-case known-failure hook; the subjects are not narrowed to hide them):
``monai_dice_squared_pred_gradient_cancellation`` (squared_pred=True: the intersection
(|p|^2 + |g|^2 - |p - g|^2) / 2 of PR #8138 has an accurate value but a gradient that cancels
terms of size 2p / den: d/dp = 0 in bfloat16 where the exact value is 0.005) and
``monai_focal_easy_negative_cancellation`` (FocalLoss's ce = x - x t - logsigmoid(x) and its
gradient 1 - sigmoid(-x) cancel for t = 0, x << 0).
"""

from __future__ import annotations

import numpy as np

from ..known import CaseDeviation
from ..subjects import Subject, timeout_seconds

LIBRARY = "monai"

FOCAL_QUALNAME = "monai.losses.FocalLoss"
DICE_QUALNAME = "monai.losses.DiceLoss"

FOCAL_DTYPES = ("float32", "float16", "bfloat16")


def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"):
    """The focal contract through ``monai.losses.FocalLoss`` (sigmoid path)."""
    from monai.losses import FocalLoss

    loss = FocalLoss(gamma=gamma, alpha=None if alpha < 0 else alpha, reduction=reduction, use_softmax=False,
                     to_onehot_y=False, include_background=True)
    if inputs.shape != targets.shape:  # MONAI's own check refuses it
        return loss(inputs[None, None], targets[None, None])
    out = loss(inputs.reshape(1, -1, 1), targets.reshape(1, -1, 1))
    if reduction == "none":
        out = out.reshape(inputs.shape)
    return out.to(inputs.dtype)


def _focal_admits(case) -> bool:
    import numpy as np

    t = case.args["targets"]
    exact = (t == 0) | (t == 1) | (t == 0.5) | np.isnan(t)
    if case.kwargs.get("gamma", 2.0) == 0:  # soft targets: where x - x t does not cancel (monai_focal_soft_target_cancellation)
        return bool(np.all(exact | ((t >= 0.25) & (t <= 0.75))))
    return bool(np.all(exact))


def dice(input, target, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, squared_pred: bool = False,
         include_background: bool = True, batch: bool = False, reduction: str = "mean"):
    """The dice contract through ``monai.losses.DiceLoss`` on probabilities (no activation)."""
    from monai.losses import DiceLoss

    loss = DiceLoss(include_background=include_background, to_onehot_y=False, sigmoid=False, softmax=False,
                    other_act=None, squared_pred=squared_pred, jaccard=False, reduction=reduction,
                    smooth_nr=smooth_nr, smooth_dr=smooth_dr, batch=batch, weight=None, soft_label=False)
    out = loss(input, target)
    if reduction == "none":  # (B, C, 1, ...) / (C, 1, ...) -> (B, C) / (C,)
        out = out.reshape(out.shape[:1] if batch else out.shape[:2])
    return out


#: Where MONAI's formulas cancel (recorded known deviations; each has a check function in
#: properties/deviations.py): a gradient comparison failing there is an xfail naming the record.
FOCAL_CASE_DEVIATIONS = (
    CaseDeviation("monai_focal_easy_negative_cancellation", "gradient",
                  lambda case, dtype: bool(np.any((case.args["targets"] == 0) & (case.args["inputs"] < -1.0))),
                  "a target 0 with logit x < -1: x - x t - logsigmoid(x) cancels (relative error ~u |x| e^-x)"),
)
def _zero_norm_group(case) -> bool:
    """squared_pred=True and a Dice group ((batch, channel), or channel with batch=True) where one
    of MONAI's norms |p|, |g|, |p - g| is 0 (an all-zero prediction or target, a perfect
    prediction): the norm's double backward is NaN there."""
    if not case.kwargs.get("squared_pred", False):
        return False
    p, g = case.args["input"], case.args["target"]
    if not case.kwargs.get("include_background", True) and p.shape[1] > 1:
        p, g = p[:, 1:], g[:, 1:]
    axes = tuple(range(2, p.ndim)) + ((0,) if case.kwargs.get("batch", False) else ())
    return bool(any(np.any(np.all(v == 0, axis=axes)) for v in (p, g, p - g)))


DICE_CASE_DEVIATIONS = (
    CaseDeviation("monai_dice_squared_pred_gradient_cancellation", "gradient",
                  lambda case, dtype: bool(case.kwargs.get("squared_pred", False)),
                  "squared_pred=True: the intersection (|p|^2 + |g|^2 - |p - g|^2) / 2 cancels in the backward"),
    CaseDeviation("monai_dice_squared_pred_forward_cancellation", "agreement",
                  lambda case, dtype: bool(case.kwargs.get("squared_pred", False)),
                  "squared_pred=True: the intersection (|p|^2 + |g|^2 - |p - g|^2) / 2 cancels, worse with more voxels"),
    CaseDeviation("monai_dice_squared_pred_nan_second_derivative_at_zero_prediction", "gradcheck",
                  lambda case, dtype: _zero_norm_group(case),
                  "squared_pred=True with |p|, |g| or |p - g| = 0 in a group: the norm's double backward is NaN"),
)


def subjects(version: str) -> dict[str, list[Subject]]:
    focal_subject = Subject(
        "focal", "monai", FOCAL_QUALNAME, focal, origin="thirdparty", source=f"{__name__}.focal",
        case_deviations=FOCAL_CASE_DEVIATIONS, dtypes=FOCAL_DTYPES,
        admits=_focal_admits, timeout=timeout_seconds(), labels=("targets",),
        conventions=f"MONAI {version}: alpha < 0 -> alpha=None; use_softmax=False; any shape -> (1, numel, 1) "
                    "(MONAI's 'sum' averages spatial dims first; 'none' reshaped back); float32 result cast back "
                    "to the input dtype",
        limits="MONAI's (1 - p_t)^gamma = exp(gamma logsigmoid(-x (2t - 1))) equals torchvision's only for targets "
               "in {0, 1/2, 1} or gamma = 0 (soft targets then within [1/4, 3/4]: its x - x t cancels near 0 and 1, "
               "known deviation monai_focal_soft_target_cancellation); no derivative w.r.t. targets (at t = 1/2 the values "
               "coincide, MONAI's derivative follows its own extension); float64 not checked: FocalLoss computes in "
               "float32 (known deviation monai_focal_computes_in_float32)",
    )
    dice_subject = Subject(
        "dice", "monai", DICE_QUALNAME, dice, origin="thirdparty", source=f"{__name__}.dice",
        case_deviations=DICE_CASE_DEVIATIONS, timeout=timeout_seconds(),
        conventions=f"MONAI {version}: sigmoid=softmax=False, to_onehot_y=False, soft_label=False; reduction "
                    "'none' (B, C, 1, ...) -> (B, C), (C, 1, ...) -> (C,) with batch=True",
        limits="none: the contract mirrors DiceLoss",
    )
    return {"focal": [focal_subject], "dice": [dice_subject]}
