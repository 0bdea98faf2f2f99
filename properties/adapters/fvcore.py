"""fvcore adapters: ``fvcore.nn.sigmoid_focal_loss`` and ``fvcore.nn.smooth_l1_loss``.

sigmoid_focal_loss(inputs, targets, alpha=-1, gamma=2, reduction='none') as the focal contract
(torchvision.ops.sigmoid_focal_loss semantics; fvcore's function is the original of torchvision's,
whose source says "Original implementation from .../fvcore/nn/focal_loss.py" -- the same formula,
plus fvcore's float32 cast):

- alpha: fvcore's default is -1 (no weighting), the contract's 0.25: the adapter always passes
  alpha (alpha < 0 disables the weighting in both).  gamma and reduction are passed through.
- dtype: the function starts with ``inputs.float()`` and ``targets.float()``: it computes in
  float32 and returns float32 whatever the input dtype.  The adapter casts the result back to the
  input's dtype (float16, bfloat16: computed in more precision than the dtype, then rounded).
  float64 is not checked: its value carries float32's error (known deviation
  ``fvcore_focal_computes_in_float32``).
- soft targets: p_t = p t + (1 - p)(1 - t) and alpha_t = alpha t + (1 - alpha)(1 - t), exactly
  torchvision's, so soft targets are compared too.
- saturated logits: 1 - p_t is formed by subtraction in float32, so for a hard target with a
  saturated logit (t = 1, x > 16.6; t = 0, x < -17.3) it is exactly 0 and (1 - p_t)^gamma = 0 for
  every gamma > 0: the loss is 0 where the exact one is alpha_t ce (1 - p_t)^gamma > 0 (x = 20,
  t = 1, gamma = 0.05: 0 for 1.9e-10).  That is the formula's own arithmetic (torchvision's too),
  and the focal budget counts it (``properties.specs.focal.scale_focal``: the worst change of the factor when
  1 - p_t is off by a few u), so these cases are compared like any other.
- gradients: there, with 0 < gamma < 1, (1 - p_t)^gamma's derivative is inf, multiplied by
  d(1 - p_t)/dx = 0: NaN, where the contract's derivative is ~0 (known deviation
  ``fvcore_focal_nan_gradient_fractional_gamma``, declared as a gradient region below).

smooth_l1_loss(input, target, beta, reduction='none') as the smooth_l1 contract
(torch.nn.functional.smooth_l1_loss semantics: 0.5 r^2 / beta for |r| < beta, |r| - beta / 2
otherwise, beta = 0 is L1):

- argument order and defaults: fvcore's beta is positional and required and its default
  reduction is 'none'; the contract's defaults are beta = 1 and 'mean'.  The adapter passes both
  by keyword.
- admits: fvcore documents "for beta values < 1e-5, L1 loss is computed" (to avoid NaN gradients
  of 0.5 r^2 / 0 at beta = 0): the contract's smooth L1 with 0 < beta < 1e-5 is not compared
  (beta = 0, L1, is).  Every dtype: fvcore computes in the input's.
- gradients: the quadratic branch is 0.5 |r|^2 / beta, built on |r|: at r = 0 (input = target)
  the first derivative r / beta = 0 is right, but the second is sign(0)^2 / beta = 0 where the
  contract's is 1 / beta (known deviation ``fvcore_smooth_l1_zero_second_derivative_at_zero``,
  declared as a gradcheck region below).

Both functions accept any reduction string (anything but 'mean' and 'sum' is 'none'), and
smooth_l1_loss a negative beta (as L1), focal a negative gamma: known deviations
``fvcore_invalid_reduction_accepted``, ``fvcore_negative_parameters_accepted``.  An empty
'mean' of smooth_l1_loss is ``0.0 * loss.sum()`` = 0, not NaN (``fvcore_smooth_l1_empty_mean_is_zero``).
"""

from __future__ import annotations

import numpy as np

from ..known import CaseDeviation
from ..subjects import Subject, timeout_seconds

LIBRARY = "fvcore.nn"

FOCAL_QUALNAME = "fvcore.nn.sigmoid_focal_loss"
SMOOTH_L1_QUALNAME = "fvcore.nn.smooth_l1_loss"

FOCAL_DTYPES = ("float32", "float16", "bfloat16")

#: fvcore.nn.smooth_l1_loss computes L1 for beta below this (its docstring)
L1_BELOW_BETA = 1e-5

#: |x| beyond which float32's sigmoid(x) is 1 or 1 - sigmoid(x) rounds to 1 (16.6 and 17.3), with margin
SATURATED_LOGIT = 15.0


def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"):
    """The focal contract through ``fvcore.nn.sigmoid_focal_loss`` (result cast back to the input dtype)."""
    from fvcore.nn import sigmoid_focal_loss

    out = sigmoid_focal_loss(inputs, targets, alpha=alpha, gamma=gamma, reduction=reduction)
    return out.to(inputs.dtype)


def smooth_l1(input, target, reduction: str = "mean", beta: float = 1.0):
    """The smooth_l1 contract through ``fvcore.nn.smooth_l1_loss`` (beta and reduction by keyword)."""
    from fvcore.nn import smooth_l1_loss

    return smooth_l1_loss(input, target, beta=beta, reduction=reduction)


def _saturated_hard_target(case) -> bool:
    """A target 1 with x > SATURATED_LOGIT or 0 with x < -SATURATED_LOGIT: float32's 1 - p_t rounds to 0."""
    x, t = case.args["inputs"], case.args["targets"]
    return bool(np.any(((t == 1) & (x > SATURATED_LOGIT)) | ((t == 0) & (x < -SATURATED_LOGIT))))


def _smooth_l1_admits(case) -> bool:
    """Not 0 < beta < 1e-5, where fvcore computes L1 by design (a negative beta, which it also takes
    as L1, is a bad input the bad-input table checks)."""
    return not 0 < case.kwargs.get("beta", 1.0) < L1_BELOW_BETA


def _fractional_gamma_saturated(case, dtype) -> bool:
    """0 < gamma < 1 and a hard target with a saturated logit: 1 - p_t rounds to 0 in float32 and
    (1 - p_t)^gamma's derivative there is inf (times d(1 - p_t)/dx = 0: NaN)."""
    return 0 < case.kwargs.get("gamma", 2.0) < 1 and _saturated_hard_target(case)


def _zero_residual(case, dtype) -> bool:
    """beta > 0 and some input equal to its target: fvcore's 0.5 |r|^2 / beta has a zero second
    derivative there (double backward of |r| at 0)."""
    x, y = case.args["input"], case.args["target"]
    equal = np.broadcast_to(x == y, np.broadcast(x, y).shape)
    return case.kwargs.get("beta", 1.0) >= L1_BELOW_BETA and bool(np.any(equal))


FOCAL_CASE_DEVIATIONS = (
    CaseDeviation("fvcore_focal_nan_gradient_fractional_gamma", "gradient", _fractional_gamma_saturated,
                  "0 < gamma < 1, a hard target with |x| > 15: (1 - p_t)^gamma's derivative is inf where 1 - p_t "
                  "rounds to 0, times 0: NaN"),
)
SMOOTH_L1_CASE_DEVIATIONS = (
    CaseDeviation("fvcore_smooth_l1_zero_second_derivative_at_zero", "gradcheck", _zero_residual,
                  "an input equal to its target: d^2/dr^2 of 0.5 |r|^2 / beta through |r| is 0, not 1 / beta"),
)


def subjects(version: str) -> dict[str, list[Subject]]:
    focal_subject = Subject(
        "focal", "fvcore", FOCAL_QUALNAME, focal, origin="thirdparty", source=f"{__name__}.focal",
        dtypes=FOCAL_DTYPES, case_deviations=FOCAL_CASE_DEVIATIONS, timeout=timeout_seconds(),
        conventions=f"fvcore {version}: alpha always passed (fvcore's default is -1); float32 result cast back "
                    "to the input dtype",
        limits="float64 not checked: sigmoid_focal_loss computes in float32 (inputs.float(); known deviation "
               "fvcore_focal_computes_in_float32)",
    )
    smooth_l1_subject = Subject(
        "smooth_l1", "fvcore", SMOOTH_L1_QUALNAME, smooth_l1, origin="thirdparty", source=f"{__name__}.smooth_l1",
        admits=_smooth_l1_admits, case_deviations=SMOOTH_L1_CASE_DEVIATIONS, timeout=timeout_seconds(),
        conventions=f"fvcore {version}: beta and reduction by keyword (fvcore: beta required, reduction 'none' "
                    "by default)",
        limits="0 < beta < 1e-5 not compared: fvcore computes L1 there (documented, to avoid 0.5 r^2 / 0)",
    )
    return {"focal": [focal_subject], "smooth_l1": [smooth_l1_subject]}
