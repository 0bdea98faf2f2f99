"""Broadcasting exactly as each loss's contract says (``properties.broadcast``): torch 2.13 warns,
stays silent or refuses as ``CONTRACT`` records; the strategies of every loss whose contract
broadcasts draw broadcast pairs in at least ``BROADCAST_SHARE`` of the default profile's cases of
every variant, each kind of pair among them; the measure can fail (a strategy without broadcast pairs
is below it); the references' mean divides by the broadcast count; a refusal row with another message
than torch's fails.  A self-test of the suite (deselected in a gate run: it checks no plug-in)."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import refimpl
import refimpl.grad
from properties import broadcast as B
from properties.bad_inputs import ROWS, BadInputFailure, check_bad_input
from properties.coverage import draw_cases
from properties.formats import DTYPE_NAMES
from properties.specs import SPECS
from properties.subjects import subjects_for

from .test_coverage import DEFAULT_EXAMPLES

FUNCTIONS = {"mse": F.mse_loss, "huber": F.huber_loss, "smooth_l1": F.smooth_l1_loss, "kl_div": F.kl_div,
             "hinge_embedding": F.hinge_embedding_loss, "bce": F.binary_cross_entropy,
             "bce_with_logits": F.binary_cross_entropy_with_logits}

#: (input shape, target shape) pairs that broadcast, each kind of ``KINDS`` and 0-d
PAIRS = [((3, 4), (3, 1)), ((3, 4), (4,)), ((3, 4), ()), ((3, 1), (1, 4)), ((4,), (3, 4)), ((), (3, 4)),
         ((3, 1), (3,)), ((3, 4), (1, 3, 4))]


def _values(loss, shape):
    u = torch.linspace(0.1, 0.9, max(1, int(np.prod(shape))), dtype=torch.float64).reshape(shape)
    return u.log() if loss == "kl_div" else u


@pytest.mark.parametrize("loss", sorted(B.CONTRACT))
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
def test_torch_broadcasts_as_the_contract_says(loss, shapes):
    xs, ts = shapes
    x, t = _values(loss, xs), _values("target", ts)
    if loss == "hinge_embedding":
        t = torch.where(t > 0.5, 1.0, -1.0).to(torch.float64)
    what = B.CONTRACT[loss]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if what[0] == "refuses":
            size = lambda s: f"torch.Size({list(s)})"
            with pytest.raises(ValueError) as exc:
                FUNCTIONS[loss](x, t)
            assert what[1].format(t=size(ts), x=size(xs)) in str(exc.value)
            return
        out = FUNCTIONS[loss](x, t, reduction="none")
    assert tuple(out.shape) == np.broadcast_shapes(xs, ts)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if what == "warns":
        assert messages == [B.WARNING.format(t=t.size(), x=x.size())]
    else:
        assert messages == []


@pytest.mark.parametrize("loss", B.BROADCASTS)
def test_strategy_draws_broadcast_pairs(loss):
    """In the cases of one reduction's tests of the default profile (every dtype), per variant over the
    dtypes: at least ``BROADCAST_SHARE`` with shapes that differ; over the variants every kind of pair (a
    reduced target, a reduced input, a crossed pair -- among them one of equal element counts, (N, 1)
    against (N,)).  Pooled over the dtypes, not per dtype: a derandomized sample depends on the modules
    the process has loaded (Hypothesis draws constants from every local module in ``sys.modules``), and
    one dtype's 100 cases of smooth_l1 held 16 % in a pytest-xdist worker, 38-52 % alone."""
    spec = SPECS[loss]
    seen, crossed = set(), 0
    for variant in spec.variants:
        cases = [c for dtype in DTYPE_NAMES for c in draw_cases(spec, variant, dtype, DEFAULT_EXAMPLES)]
        kinds = Counter(B.shape_kind(c) for c in cases)
        share = 1 - kinds["same"] / len(cases)
        assert share >= B.BROADCAST_SHARE, f"{loss}/{variant}: {share:.0%} broadcast pairs ({dict(kinds)})"
        seen |= set(kinds)
        crossed += sum(B.shape_kind(c) == "both" and c.args["input"].size == c.args["target"].size for c in cases)
    # every kind over the loss's variants (a crossed pair is rarer: it needs a last dim > 1, 64 terms at most)
    assert set(B.KINDS) <= seen, f"{loss}: kinds never drawn: {set(B.KINDS) - seen}"
    assert crossed, f"{loss}: no pair of equal element counts and different shapes"


def test_broadcast_share_can_fail():
    """The same measure on a strategy that draws no broadcast pair (BCE's: its contract refuses them) is 0."""
    cases = draw_cases(SPECS["bce"], "plain", "float64", 50)
    assert all(B.shape_kind(c) == "same" for c in cases)


@pytest.mark.parametrize("loss", B.BROADCASTS)
def test_reference_means_over_the_broadcast_count(loss):
    """(3, 1) against (1, 4): the mean is the sum of the 12 broadcast terms over 12 (not over 3 or 4),
    the terms of shape (3, 4), and torch agrees."""
    x = np.log(np.array([[0.2], [0.5], [0.7]])) if loss == "kl_div" else np.array([[0.25], [-1.5], [2.0]])
    t = np.array([[1.0, -1.0, 1.0, -1.0]]) if loss == "hinge_embedding" else np.array([[0.125, 0.5, 0.75, 0.25]])
    terms = SPECS[loss].reference(x, t, reduction="none")
    assert terms.shape == (3, 4)
    assert SPECS[loss].reference(x, t, reduction="mean") == pytest.approx(np.sum(terms) / 12, rel=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        got = FUNCTIONS[loss](torch.from_numpy(x), torch.from_numpy(t), reduction="mean")
    assert float(got) == pytest.approx(float(np.sum(terms) / 12), rel=1e-14)


@pytest.mark.parametrize("row", [r for r in ROWS if r.torch_message], ids=lambda r: r.id)
def test_refusal_with_another_message_fails(row):
    """The torch_message check of a refusal row can fail: the row with another expected text fails on torch."""
    torch_subject = next(s for s in subjects_for(SPECS[row.loss]) if s.qualname.startswith("torch."))
    check_bad_input(row, torch_subject, "float64", "cpu")  # holds as recorded
    with pytest.raises(BadInputFailure, match="another message than torch's contract"):
        check_bad_input(replace(row, torch_message="not torch's words"), torch_subject, "float64", "cpu")


def test_broadcast_gradient_sums_back_to_each_shape():
    """refimpl.grad of a broadcast pair: each argument's gradient has its own shape and equals autograd's."""
    x = torch.tensor([[0.25], [-1.5], [2.0]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.125, 0.5, 0.75, 0.25], dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        F.mse_loss(x, t).backward()
    g = refimpl.grad.mse(x.detach().numpy(), t.detach().numpy())
    assert g["input"].shape == (3, 1) and g["target"].shape == (4,)
    np.testing.assert_allclose(g["input"], x.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(g["target"], t.grad.numpy(), rtol=1e-14)
