"""Plug-ins for the gate's "allowed known deviation" path (``tests/test_gate_summary.py``); not
catalogue entries (they call torch's own function on purpose).

A plug-in may show a recorded known deviation (``properties/known_deviations.toml``): failing a
row that records it is an xfail "allowed: recorded known deviation ...".  These plug-ins fail
such rows either *as torch does* (the deviation itself: allowed) or *in another way* (not the
recorded behaviour: must not be excused).

Rows used:

- ``edge:kl_div/zero_target-neg_inf_input`` (deviation ``kl_div_zero_target_neg_inf_input``):
  target 0 where the input log q is -inf; the mathematics says 0, torch gives NaN;
- ``grad:bce/probabilities_0_and_1`` in float16 (deviation ``bce_backward_float16_at_0_1``):
  torch's backward is +-1e12 at x in {0, 1}, which overflows float16 to +-inf.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kl_div_torch(input, target, reduction="mean", log_target=False):
    """torch's own kl_div: NaN for a zero target at input -inf (the recorded deviation)."""
    return F.kl_div(input, target, reduction=reduction, log_target=log_target)


def kl_div_inf_for_nan(input, target, reduction="mean", log_target=False):
    """Fails the same row differently: torch's kl_div with every NaN replaced by +inf (the row's
    result is [inf, 1], not torch's [NaN, 1] nor the mathematics' [0, 1])."""
    out = F.kl_div(input, target, reduction=reduction, log_target=log_target)
    return torch.where(torch.isnan(out), torch.full_like(out, float("inf")), out)


def kl_div_clamps_input_inplace(input, target, reduction="mean", log_target=False):
    """Fails the same row differently: clamps -inf log-probabilities *in place* (``input.clamp_``),
    writing into the caller's tensor (the value [0, 1] is then even right; the mutation is the bug)."""
    if not torch.isfinite(input).all():
        with torch.no_grad():
            input.clamp_(min=-1e4)
    return F.kl_div(input, target, reduction=reduction, log_target=log_target)


def binary_cross_entropy_torch(input, target, weight=None, reduction="mean"):
    """torch's own binary_cross_entropy: logs clamped at -100, backward +-1e12 at 0/1 (inf in float16)."""
    return F.binary_cross_entropy(input, target, weight=weight, reduction=reduction)
