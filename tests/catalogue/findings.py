"""Buggy plug-ins for the tests of how the gate *reports* (``tests/test_gate_findings.py``), kept
out of ``CATALOGUE`` (whose meta-test is about catching): each has one cause, chosen for what the
report must show -- the worst example of an error that grows with the input, one short report
for a loss computed in float32 inside."""

from __future__ import annotations

import torch.nn.functional as F


def mse_error_grows_with_x(input, target, reduction="mean", weight=None):
    """BUG (planted): every term is off by a relative 1e-15 min(|x|, 1e3) -- within float64's bound
    (~20 ulp) for |x| below ~5, ~250 times the bound from |x| = 1e3 on; the shrunk minimal example
    sits just beyond the bound, the worst one far beyond it."""
    terms = F.mse_loss(input, target, reduction="none") * (1 + 1e-15 * input.detach().abs().clamp(max=1e3))
    if weight is not None:
        terms = terms * weight
        if reduction == "mean":
            return terms.sum() / weight.sum()
    return terms.mean() if reduction == "mean" else terms.sum() if reduction == "sum" else terms


def cross_entropy_float32_inside(input, target, weight=None, ignore_index=-100, reduction="mean",
                                 label_smoothing=0.0):
    """BUG: computed in float32 whatever the input dtype, the result cast back (float64 callers get
    float32 accuracy: ~1e-8 relative instead of ~1e-16)."""
    t = target.float() if target.is_floating_point() else target
    w = None if weight is None else weight.float()
    out = F.cross_entropy(input.float(), t, weight=w, ignore_index=ignore_index, reduction=reduction,
                          label_smoothing=label_smoothing)
    return out.to(input.dtype)
