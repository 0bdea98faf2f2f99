"""kornia adapters: ``kornia.losses.binary_focal_loss_with_logits``; no subject for ``kornia.losses.dice_loss``.

binary_focal_loss_with_logits(pred, target, alpha, gamma, reduction, pos_weight=None, weight=None,
ignore_index=None) as the focal contract (torchvision.ops.sigmoid_focal_loss semantics):

- alpha: kornia's ``alpha=None`` is the contract's ``alpha < 0`` (no alpha weighting); an alpha in
  [0, 1] weights the positive term by alpha and the negative by 1 - alpha, as torchvision does.
- pos_weight=None, weight=None (the contract has neither).  ignore_index=None: kornia's default
  -100 zeroes a target entry equal to -100; the contract has no ignore index (its targets lie in
  [0, 1]), so the adapter switches it off rather than rely on -100 never being drawn.
- eps: none in this version (0.9.0 uses logsigmoid; the old ``eps`` clamp is gone).
- shape: kornia requires (B, C, *) with at least two dimensions; a 0-d or 1-d input is given
  leading unit dimensions (a view), the 'none' result viewed back.  No per-channel argument is
  used, so the channel dimension has no meaning here and (B, C, *) inputs are passed as they are
  (layouts included).  kornia's 'mean' and 'sum' are the plain mean and sum.
- admits: kornia's soft-target convention is t alpha (1 - p)^gamma (-log p) + (1 - t)(1 - alpha)
  p^gamma (-log(1 - p)) (its docstring), torchvision's (alpha t + (1 - alpha)(1 - t))
  (t (1 - p) + (1 - t) p)^gamma ce(x, t): equal for hard targets t in {0, 1}, and for soft targets
  when gamma = 0 and the alpha weight is constant (alpha < 0, or alpha = 1/2); otherwise the two
  conventions differ by design and are not compared.  Every dtype: kornia computes in the input's.

kornia.losses.dice_loss -- no subject: no faithful translation of the dice contract exists.
The contract takes per-channel probabilities p in [0, 1] (no activation: MONAI's DiceLoss with
sigmoid=softmax=False), soft or hard targets g of p's shape, smooth_nr, smooth_dr, squared_pred,
include_background, batch and a reduction with a per-(sample, channel) 'none'.  dice_loss takes
logits (B, C, H, W) and applies a softmax across C, int64 class labels (B, H, W), eps in the
denominator only, and returns one 0-d batch mean ('micro' pools the classes, 'macro' averages
the classes present in the target).  Where the two meet -- hard targets, smooth_nr = 0,
smooth_dr = eps, squared_pred=False -- the contract's Dice of channel c is reachable only by a
construction that is not kornia's convention: logits [log(1 - p), log p] over two classes, labels
g, weight [0, 1] with 'micro', one call per (sample, channel) for 'none'.  That construction
charges the adapter's own rounding to kornia (softmax(log p) is not p: float32 p = 0.001 comes
back 2.9 ulp low, float16 p = 0.001 one ulp high), and its gradient is NaN at p = 0 and p = 1
(d log p / dp = inf times softmax's 0; measured in float64: d/dp = [nan, 1, nan] at
p = [0, 0.5, 1]) -- points the dice strategies draw and where the contract's gradient is finite.
Soft targets (integer labels) and squared_pred have no counterpart at all.  Comparing there
would test the construction, not kornia; kornia's dice_loss is therefore not a subject.
"""

from __future__ import annotations

from ..subjects import Subject, timeout_seconds

LIBRARY = "kornia"

FOCAL_QUALNAME = "kornia.losses.binary_focal_loss_with_logits"


def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"):
    """The focal contract through ``kornia.losses.binary_focal_loss_with_logits``."""
    from kornia.losses import binary_focal_loss_with_logits

    lead = (None,) * max(0, 2 - inputs.ndim)  # (B, C, *) needs two dimensions
    out = binary_focal_loss_with_logits(inputs[lead], targets[(None,) * max(0, 2 - targets.ndim)],
                                        alpha=None if alpha < 0 else alpha, gamma=gamma, reduction=reduction,
                                        pos_weight=None, weight=None, ignore_index=None)
    if reduction == "none" and lead:
        out = out.reshape(inputs.shape)
    return out


def _focal_admits(case) -> bool:
    import numpy as np

    t = case.args["targets"]
    alpha, gamma = case.kwargs.get("alpha", 0.25), case.kwargs.get("gamma", 2.0)
    if gamma == 0 and (alpha < 0 or alpha == 0.5):
        return True
    return bool(np.all((t == 0) | (t == 1) | np.isnan(t)))


def subjects(version: str) -> dict[str, list[Subject]]:
    return {"focal": [Subject(
        "focal", "kornia", FOCAL_QUALNAME, focal, origin="thirdparty", source=f"{__name__}.focal", admits=_focal_admits,
        timeout=timeout_seconds(),
        conventions=f"kornia {version}: alpha < 0 -> alpha=None; pos_weight=weight=None; ignore_index=None; "
                    "0-d / 1-d inputs viewed as (1, ...) and the 'none' result viewed back",
        limits="kornia's soft-target formula t alpha (1-p)^gamma (-log p) + (1-t)(1-alpha) p^gamma (-log(1-p)) "
               "equals torchvision's only for targets in {0, 1}, or gamma = 0 with alpha < 0 or alpha = 1/2",
    )]}
