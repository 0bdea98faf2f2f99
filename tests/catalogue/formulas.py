"""The formulas that define three of the gate's contracts, written out as plug-ins, as their
sources write them (``tests/test_defining_formulas.py`` runs the gate on them).

The tolerance model must admit the arithmetic that *defines* a contract: an implementation
that is the defining formula, op for op, in the caller's dtype, may be reported for what the
formula does wrong (a NaN gradient, a recorded deviation), never for the rounding error of
its own arithmetic.  Each function below transcribes its source's arithmetic line for line
(torch ops only, in the input's dtype -- no float32 "op math" for half types, no stabilised
rewrite); the only additions are the contract's argument checks at the top (reduction,
shapes, parameter domains, the +-1 labels), which the sources partly leave out and which are
not what is under test here (the bad-input rows need them; they touch no value).

- :func:`torchvision_sigmoid_focal_loss` -- ``torchvision.ops.sigmoid_focal_loss``
  (``torchvision/ops/focal_loss.py``, read from pytorch/vision): ``p = sigmoid(x)``,
  ``ce = binary_cross_entropy_with_logits(x, t, reduction="none")``,
  ``p_t = p t + (1 - p)(1 - t)``, ``loss = ce (1 - p_t) ** gamma``, ``alpha_t`` where alpha >= 0.
- :func:`monai_dice` -- MONAI ``DiceLoss.forward`` on probabilities (``sigmoid=False``,
  ``softmax=False``, ``to_onehot_y=False``), in the form MONAI used up to 1.3
  (``monai/losses/dice.py``, read from Project-MONAI/MONAI): ``intersection = sum(g p)``,
  ``ground_o = sum(g)`` / ``sum(g ** 2)``, ``pred_o = sum(p)`` / ``sum(p ** 2)``,
  ``f = 1 - (2 intersection + smooth_nr) / (ground_o + pred_o + smooth_dr)``.  (MONAI 1.6.1,
  the installed one, computes the same Dice through ``compute_tp_fp_fn``; the suite's MONAI
  adapter checks that one.)
- :func:`hadsell_contrastive` -- Hadsell, Chopra and LeCun (2006), eq. 4, written naively:
  ``d = sqrt(sum((a - b) ** 2))``, ``0.5 (y == 1) d ** 2 + 0.5 (y == -1) max(margin - d, 0) ** 2``.
  Its gradient at a == b is NaN (sqrt'(0) = inf times 0); its values are exact to rounding.

The torch built-ins, the fourth kind of defining formula, are the default subjects of every
check of the suite (no ``--impl``): they need no transcription here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._support import check_param, check_reduction, rows_check, same_shape
from .divergence_segmentation import check_dice_arguments

# ============================================================================ focal


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """``torchvision.ops.sigmoid_focal_loss``, op for op (the contract's checks first)."""
    check_reduction(reduction)
    check_param("alpha", alpha)
    check_param("gamma", gamma, lo=0.0)
    same_shape("sigmoid_focal_loss", inputs, targets, "inputs", "targets")
    # --- torchvision/ops/focal_loss.py
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)

    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss

    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()

    return loss


# ============================================================================ dice


def monai_dice(input, target, smooth_nr=1e-5, smooth_dr=1e-5, squared_pred=False, include_background=True,
               batch=False, reduction="mean"):
    """MONAI ``DiceLoss`` on probabilities, MONAI's arithmetic (up to 1.3), op for op."""
    smooth_nr, smooth_dr = check_dice_arguments(input, target, smooth_nr, smooth_dr, reduction)
    # --- monai/losses/dice.py, DiceLoss.forward
    n_pred_ch = input.shape[1]
    if not include_background:
        if n_pred_ch == 1:
            import warnings

            warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=2)
        else:
            # if skipping background, removing first channel
            target = target[:, 1:]
            input = input[:, 1:]

    # reducing only spatial dimensions (not batch nor channels)
    reduce_axis = torch.arange(2, len(input.shape)).tolist()
    if batch:
        # reducing spatial dimensions and batch
        reduce_axis = [0] + reduce_axis

    intersection = torch.sum(target * input, dim=reduce_axis)

    if squared_pred:
        ground_o = torch.sum(target**2, dim=reduce_axis)
        pred_o = torch.sum(input**2, dim=reduce_axis)
    else:
        ground_o = torch.sum(target, dim=reduce_axis)
        pred_o = torch.sum(input, dim=reduce_axis)

    denominator = ground_o + pred_o

    f = 1.0 - (2.0 * intersection + smooth_nr) / (denominator + smooth_dr)

    if reduction == "mean":
        f = torch.mean(f)  # the batch and channel average
    elif reduction == "sum":
        f = torch.sum(f)  # sum over the batch and channel dims
    return f


# ============================================================================ contrastive


def hadsell_contrastive(input1, input2, target, margin=1.0, reduction="mean"):
    """Hadsell et al. (2006) contrastive loss, written naively (target 1 = similar)."""
    check_reduction(reduction)
    margin = check_param("margin", margin)
    rows_check("contrastive", input1, input2, target)
    d = torch.sqrt(((input1 - input2) ** 2).sum(-1))
    similar = (target == 1).to(d.dtype)
    dissimilar = (target == -1).to(d.dtype)
    loss = 0.5 * similar * d**2 + 0.5 * dissimilar * torch.clamp(margin - d, min=0) ** 2
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
