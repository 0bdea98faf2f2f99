"""The references refuse invalid parameters with a ValueError that names the problem,
and never modify the arrays they are given."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from properties.formats import FLOAT64
from properties.specs import SPECS

# (loss, what to change, text the message must contain); a change is kwargs to override,
# or ("arg", name, function of the array) to replace a positional array.
INVALID = [
    *[(name, {"reduction": "avg"}, "reduction") for name in SPECS],
    ("huber", {"delta": 0.0}, "delta"), ("huber", {"delta": -1.0}, "delta"),
    ("smooth_l1", {"beta": -0.5}, "beta"),
    ("triplet_margin", {"margin": 0.0}, "margin"), ("triplet_margin", {"p": 0.0}, "p"),
    ("triplet_margin", ("arg", "anchor", lambda a: a.reshape(1, 1, -1)), "dimensions"),
    ("cosine_embedding", {"margin": 1.5}, "margin"),
    ("cosine_embedding", ("arg", "target", lambda t: np.zeros_like(t)), "1 or -1"),
    ("contrastive", ("arg", "target", lambda t: np.zeros_like(t)), "1 or -1"),
    ("hinge_embedding", ("arg", "target", lambda t: np.zeros_like(t)), "1 or -1"),
    ("cross_entropy", {"label_smoothing": 1.5}, "label_smoothing"),
    ("cross_entropy", {"weight": np.ones(99)}, "weight"),
    ("bce", ("arg", "input", lambda x: x + 2.0), "[0, 1]"),
    ("bce", ("arg", "target", lambda t: t[..., :0]), "shape"),
    ("bce_with_logits", ("arg", "target", lambda t: np.stack([t, t])), "shape"),
    ("kl_div", ("arg", "target", lambda t: np.stack([t, t])), "shape"),
    ("mse", ("arg", "input", lambda x: np.ones(x.shape + (2, 3))), "broadcast"),
    ("focal", {"gamma": -1.0}, "gamma"),
    ("dice", {"smooth_nr": -1.0}, "smooth_nr"),
    ("dice", ("arg", "input", lambda x: x.reshape(-1)), "shape"),
]


@pytest.mark.parametrize("loss, change, text", INVALID, ids=[f"{l}-{t}" for l, _, t in INVALID])
@given(data=st.data())
def test_reference_rejects_invalid_call(loss, change, text, data):
    spec = SPECS[loss]
    case = data.draw(spec.cases(spec.variants[0], FLOAT64))
    args, kwargs = dict(case.args), dict(case.kwargs)
    if isinstance(change, tuple):
        _, name, fn = change
        args[name] = fn(args[name])
        if loss == "mse":  # any shape broadcasts against a 0-d array: make the other one (2,)
            args["target"] = np.ones(args["target"].shape + (2,))
    else:
        kwargs.update(change)
    with pytest.raises(ValueError, match=None) as info:
        spec.reference(*args.values(), **kwargs)
    assert text in str(info.value), f"message {str(info.value)!r} should mention {text!r}"


@pytest.mark.parametrize("loss", list(SPECS))
@given(data=st.data())
def test_reference_does_not_mutate_inputs(loss, data):
    spec = SPECS[loss]
    case = data.draw(spec.cases(data.draw(st.sampled_from(spec.variants)), FLOAT64))
    before = [(k, v.copy()) for k, v in case.arrays()]
    for reduction in spec.reductions:
        spec.call_reference(case, reduction=reduction)
    for (k, old), (_, new) in zip(before, case.arrays()):
        assert np.array_equal(old, new, equal_nan=True), f"refimpl.{loss} modified {k}"


def test_cross_entropy_reference_refuses_ignore_index_with_probability_targets():
    """torch: 'ignore_index is not supported for floating point target'."""
    import refimpl

    x, q = np.zeros((2, 3)), np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="ignore_index"):
        refimpl.cross_entropy(x, q, ignore_index=0)
    assert np.isfinite(refimpl.cross_entropy(x, q))  # the default ignore_index is fine
