"""Declared conventions and API limits (``properties.conventions``).

- the reference switches and what the checks compare against under a declaration, against hand
  computations (mpmath, closed forms);
- declaring: the attribute, ``--convention``, pyproject.toml; a name outside the vocabulary (or
  one that does not apply) is a usage error;
- the gate, end to end, on the plug-ins of ``tests/catalogue/conventions.py`` (three gate runs,
  each checking every plug-in of its kind at once): for every vocabulary entry a plug-in that
  follows it fails undeclared and passes declared (examples checked, the declaration shown in
  the coverage summary); declared with a real bug beside it, it still fails; a declared limit
  answered with a value instead of an error is a finding.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

# pytest-xdist (-n): the module-scoped fixture's runs happen once, on one worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group(__name__.rpartition(".")[2])
import torch
from hypothesis import given, settings, strategies as st

if __package__ != "tests":  # the gate runs below import tests.catalogue from a checkout
    pytest.skip("the conventions meta-test runs in a checkout of lossproof", allow_module_level=True)

import refimpl  # noqa: E402
import refimpl.grad  # noqa: E402
from properties import conventions as C  # noqa: E402
from properties.cases import Case  # noqa: E402
from properties.fit import FittedSpec, fitted  # noqa: E402
from properties.formats import FORMATS  # noqa: E402
from properties.plugins import load, load_all  # noqa: E402
from properties.specs import SPECS  # noqa: E402
from tests.catalogue import conventions as P  # noqa: E402
from tests.catalogue.runner import failures_of, run_many  # noqa: E402

MODULE = P.__name__


def plugin(loss: str, attr: str, **kw):
    return load(loss, f"{MODULE}:{attr}", **kw)


# ---- reference switches: hand computations ------------------------------------------------

mpmath = pytest.importorskip("mpmath")


def _bce_exact(x: float, t: float, lo: float, hi: float):
    """-(t log c + (1 - t) log(1 - c)), c = clip(x, lo, hi), and its derivative in x, in mpmath."""
    with mpmath.workdps(60):
        c = min(max(mpmath.mpf(x), mpmath.mpf(lo)), mpmath.mpf(hi))
        t = mpmath.mpf(t)
        value = -(t * mpmath.log(c) + (1 - t) * mpmath.log(1 - c))
        slope = (c - t) / (c * (1 - c)) if lo <= x <= hi else mpmath.mpf(0)
        return float(value), float(slope)


POINTS = [(0.0, 1.0), (1e-9, 0.0), (1e-9, 1.0), (0.3, 0.25), (1 - 1e-9, 0.0), (1.0, 0.0), (1.0, 1.0), (1e-7, 1.0)]


@pytest.mark.parametrize("x, t", POINTS)
@pytest.mark.parametrize("clip", [1e-7, (float(np.float32(1e-7)), float(np.float32(1 - 1e-7)))], ids=["eps", "float32"])
def test_bce_clip_switch_against_mpmath(x, t, clip):
    lo, hi = (clip, 1 - clip) if isinstance(clip, float) else clip
    value, slope = _bce_exact(x, t, lo, hi)
    got = refimpl.bce(np.array([x]), np.array([t]), reduction="none", clip=clip)
    assert got[0] == pytest.approx(value, rel=4e-16, abs=0.0)
    grad = refimpl.grad.bce(np.array([x]), np.array([t]), reduction="none", clip=clip, grad_output=np.ones(1))
    assert grad["input"][0] == pytest.approx(slope, rel=1e-14, abs=0.0)


def test_bce_clip_bounds_follow_the_computing_dtype():
    """float32 holds 1 - 1e-7 as 1 - 2^-23 (spacing 2^-24 below 1: 1e-7 = 1.68 spacings rounds to 2),
    so a float32 Keras BCE(1, 0) is -log(2^-23) = 23 log 2, not -log(1e-7)."""
    subject = plugin("bce", "bce_keras_clip_declared")
    fspec = fitted(SPECS["bce"], subject)
    lo, hi = fspec.in_dtype("float32").reference_kwargs["clip"]
    assert (lo, hi) == (float(np.float32(1e-7)), 1.0 - 2.0 ** -23)
    case = Case({"input": np.array([1.0]), "target": np.array([0.0])}, {"reduction": "none"})
    assert fspec.in_dtype("float32").call_reference(case)[0] == pytest.approx(23 * math.log(2), rel=1e-15)
    assert fspec.in_dtype("float64").call_reference(case)[0] == pytest.approx(-math.log(1e-7), rel=1e-9)
    assert SPECS["bce"].call_reference(case)[0] == 100.0  # the contract: torch's log clamp


def test_empty_mean_zero_reference():
    """A mean over no terms is 0 under empty_mean=zero (the contract: NaN); other means unchanged."""
    mse = fitted(SPECS["mse"], plugin("mse", "mse_empty_mean_zero_declared"))
    empty = Case({"input": np.zeros((0, 3)), "target": np.zeros((0, 3))}, {"reduction": "mean"})
    assert np.isnan(SPECS["mse"].call_reference(empty)) and mse.call_reference(empty) == 0.0
    some = Case({"input": np.array([1.0, 2.0]), "target": np.array([0.0, 0.0])}, {"reduction": "mean"})
    assert mse.call_reference(some) == (1.0 + 4.0) / 2
    ce_spec = SPECS["cross_entropy"]
    ce = fitted(ce_spec, dataclasses.replace(plugin("cross_entropy", "ce_index_targets"),
                                             declared=(C.parse_one("empty_mean=zero", ce_spec),), _state={}))
    ignored = Case({"input": np.zeros((2, 3)), "target": np.array([-100, -100])}, {"reduction": "mean"})
    assert np.isnan(ce_spec.call_reference(ignored)) and ce.call_reference(ignored) == 0.0
    one = Case({"input": np.zeros((2, 3)), "target": np.array([1, -100])}, {"reduction": "mean"})
    assert ce.call_reference(one) == pytest.approx(math.log(3), rel=1e-15)  # -log softmax of 3 equal logits


def test_targets01_maps_labels_one_to_one():
    """-1 -> 0, 1 -> 1, and an invalid 0 -> -1 (stays invalid); other values unchanged."""
    subject = plugin("hinge_embedding", "hinge_embedding_01_declared")
    d = next(d for d in subject.declared if d.text == "targets=01")
    x, t = torch.zeros(5), torch.tensor([-1.0, 1.0, 0.0, 2.0, float("nan")])
    _, mapped = d.map_args([x, t])
    assert mapped[:4].tolist() == [0.0, 1.0, -1.0, 2.0] and math.isnan(mapped[4])


@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_compute_dtype_float32_cases_and_bound(data):
    """A float64 check of a compute_dtype=float32 plug-in: float32-exact cases in float32's range,
    float32's format for the bound; other dtypes as they are."""
    fspec = fitted(SPECS["mse"], plugin("mse", "mse_float32_declared"))
    case = data.draw(fspec.cases("weight", FORMATS["float64"]))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(case.arrays(), case.rounded("float32").arrays()))
    assert fspec.fmt("float64") is FORMATS["float32"] and fspec.fmt("float16") is FORMATS["float16"]


def test_fixed_value_replaces_the_contract_default():
    subject = plugin("triplet_margin", "triplet_without_eps", cli={"triplet_margin": ["fixed:eps=0"]})
    fspec = fitted(SPECS["triplet_margin"], subject)
    assert isinstance(fspec, FittedSpec) and fspec.defaults["eps"] == 0.0 and fspec.contract["eps"] == 1e-6
    a = np.array([[0.0, 0.0]])
    case = Case({"anchor": a, "positive": a + [[3.0, 4.0]], "negative": a}, {"eps": 1e-6, "margin": 1.0})
    fitted_case = fspec.fit(case)
    assert fitted_case.kwargs["eps"] == 0.0 and fspec.fit(case, strict=True) is None
    assert subject.call_kwargs(fitted_case.kwargs) == {"margin": 1.0}  # eps=0 is the plug-in's own default
    assert fspec.call_reference(fitted_case) == 1.0 + 5.0 - 0.0  # margin + ||(3, 4)|| - 0


@pytest.mark.parametrize("attr", ["dice_without_numerator_smoothing", "dice_without_numerator_smoothing_declared"])
def test_fixed_value_replaces_a_fixed_expectation(attr):
    """Dice's edge case "empty target, empty prediction" expects 0 = 1 - smooth_nr / smooth_dr with the
    contract's smoothing; a Dice declaring fixed:smooth_nr=0 is held to the reference under it,
    1 - 0 / smooth_dr = 1 -- which its plug-in returns; undeclared, the row's 0 stands."""
    from properties.edge_cases import EDGE_CASES, EdgeCaseFailure, run_edge_case
    from properties.fit import admitted

    subject, spec = plugin("dice", attr), SPECS["dice"]
    row = next(r for r in EDGE_CASES["dice"] if r.name == "empty_target_empty_prediction")
    case = admitted(fitted(spec, subject), subject, row.inputs, dtype="float64", strict=True)
    if subject.declared:
        assert case.kwargs["smooth_nr"] == 0.0
        run_edge_case(row, spec, subject, "float64", "cpu", case)
    else:
        with pytest.raises(EdgeCaseFailure, match="expected 0.0"):
            run_edge_case(row, spec, subject, "float64", "cpu", case)


def test_tied_parameter_follows_its_source():
    subject = plugin("dice", "dice_one_smooth_declared")
    fspec = fitted(SPECS["dice"], subject)
    p = np.full((1, 1, 2), 0.5)
    case = Case({"input": p, "target": p}, {"smooth_nr": 0.25, "smooth_dr": 1e-5})
    assert fspec.fit(case).kwargs["smooth_dr"] == 0.25 and fspec.fit(case, strict=True) is None
    assert "smooth_dr" not in subject.call_kwargs(fspec.fit(case).kwargs)
    assert fspec.refuses(case) and not fspec.refuses(fspec.fit(case))


# ---- declaring --------------------------------------------------------------------------


def test_three_ways_to_declare(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lossproof]\nconventions = { "bce=%s:bce_keras_clip" = ["compute_dtype=float32"], '
        '"cross_entropy" = ["label_smoothing<1"] }\n' % MODULE)
    loaded = load_all({"bce": [f"{MODULE}:bce_keras_clip_declared"], "cross_entropy": [f"{MODULE}:ce_index_targets"]},
                      ["cross_entropy=batch=required"], directory=tmp_path)
    assert [d.text for d in loaded["bce"][0].declared] == ["clip=1e-07"]  # the key names another plug-in
    assert {(d.text, d.source) for d in loaded["cross_entropy"][0].declared} == {
        ("batch=required", "--convention"), ("label_smoothing<1", "pyproject.toml")}
    again = load_all({"bce": [f"{MODULE}:bce_keras_clip"]}, directory=tmp_path)["bce"][0]
    assert [(d.text, d.source) for d in again.declared] == [("compute_dtype=float32", "pyproject.toml")]


@pytest.mark.parametrize("loss, text, problem", [
    ("bce", "clipp=1e-7", "unknown convention"),
    ("mse", "clip=1e-7", "applies to bce"),
    ("mse", "targets=01", "+-1 labels"),
    ("mse", "batch=required", "sample dimension"),
    ("mse", "compute_dtype=float8", "DTYPE is one of"),
    ("triplet_margin", "fixed:margin=2.0", "accepts margin"),
    ("triplet_margin", "fixed:eps=abc", "Python literal"),
    ("dice", "tied:smooth_nr=smooth_dr", "must accept smooth_dr"),
])
def test_a_bad_declaration_is_a_usage_error(loss, text, problem):
    attr = {"bce": "bce_keras_clip", "mse": "mse_float32", "triplet_margin": "triplet_without_eps",
            "dice": "dice_one_smooth"}[loss]
    with pytest.raises(C.ConventionError, match=re.escape(problem)):
        plugin(loss, attr, cli={loss: [text]})


def test_conflicting_declarations_are_a_usage_error():
    with pytest.raises(C.ConventionError, match="different values"):
        plugin("bce", "bce_keras_clip_declared", cli={"bce": ["clip=1e-6"]})
    with pytest.raises(C.ConventionError, match="exclude each other"):
        plugin("cross_entropy", "ce_index_targets_declared", cli={"cross_entropy": ["targets=probability"]})


def test_gate_usage_error_names_the_vocabulary(gate):
    result = gate["usage"]
    assert result.returncode == 4, result.tail()
    assert "unknown convention 'clipped=1e-7'" in result.output and "empty_mean=zero" in result.output


# ---- the gate, end to end ----------------------------------------------------------------

#: (loss, plug-in following the convention or limit) -- ``NAME``, ``NAME_declared``, ``NAME_bug``
FOLLOWERS = [
    ("mse", "mse_empty_mean_zero"), ("mse", "mse_float32"), ("bce", "bce_keras_clip"),
    ("hinge_embedding", "hinge_embedding_01"), ("triplet_margin", "triplet_without_eps"),
    ("cross_entropy", "ce_index_targets"), ("cross_entropy", "ce_probability_targets"),
    ("cross_entropy", "ce_batched"), ("cross_entropy", "ce_smoothing_below_1"), ("dice", "dice_one_smooth"),
]
#: the same, declaring (triplet by --convention, :data:`CLI`; the others by attribute)
DECLARED = [(loss, attr if loss == "triplet_margin" else f"{attr}_declared") for loss, attr in FOLLOWERS]
#: the same, declaring, with a bug beside the declaration
BUGGY = [(loss, f"{attr}_bug") for loss, attr in FOLLOWERS]
#: limits answered with a value outside them
VIOLATORS = [("cross_entropy", "ce_index_targets_violates"), ("cross_entropy", "ce_probability_targets_violates"),
             ("cross_entropy", "ce_batched_violates"), ("cross_entropy", "ce_smoothing_below_1_violates"),
             ("dice", "dice_one_smooth_violates")]
#: triplet declares by --convention in the "declared" run (the others by attribute)
CLI = ("--convention", "triplet_margin=fixed:eps=0")

#: what each gate run checks: each plug-in's convention or limit in the dtype and tests that
#: show it, and the declared-limit checks
SELECTION = " or ".join([
    "float64 and mean and (test_mse[ or test_cross_entropy[ or test_triplet_margin[ or test_dice[ "
    "or test_hinge_embedding[)",
    "float32 and mean and test_bce[",
    "float64 and test_edge_mse and empty_batch",
    "float64 and test_edge_cross_entropy and label_smoothing_1",
    "test_bad_input_outside_declared_limit",
])
GATE_ARGS = ("--device", "cpu", *P.PROFILE_ARGS, "-k", SELECTION)


def option(loss: str, attr: str) -> str:
    return f"{loss}={MODULE}:{attr}"


RUNS = {
    "undeclared": dict(impl_options=[option(*e) for e in FOLLOWERS], extra_args=(*GATE_ARGS, "--first-finding")),
    "declared": dict(impl_options=[option(*e) for e in DECLARED], extra_args=(*GATE_ARGS, *CLI)),
    "buggy": dict(impl_options=[option(*e) for e in BUGGY + VIOLATORS], extra_args=(*GATE_ARGS, "--first-finding")),
    "usage": dict(impl_options=[option("bce", "bce_keras_clip")], extra_args=("--convention", "bce=clipped=1e-7")),
}
_EXAMPLES = re.compile(r"^(?:agreement|edge cases|bad inputs|gradients|invariants)\s+(\d+) examples")


@pytest.fixture(scope="module")
def gate():
    return run_many([(k, dict(timeout=240.0, **v)) for k, v in RUNS.items()], workers=2)


@pytest.mark.parametrize("loss, attr", FOLLOWERS, ids=[a for _, a in FOLLOWERS])
def test_undeclared_convention_is_a_finding(gate, loss, attr):
    result = gate["undeclared"]
    assert result.returncode == 1, result.tail()
    assert failures_of(result, option(loss, attr)), f"{attr} passed without its declaration\n{result.tail()}"


@pytest.mark.parametrize("loss, attr", DECLARED, ids=[a for _, a in DECLARED])
def test_declared_convention_passes(gate, loss, attr):
    result = gate["declared"]
    assert result.returncode == 0, f"{failures_of(result, option(loss, attr))}\n{result.tail(60)}"
    lines = result.coverage()[option(loss, attr).replace(":", ".")]
    shown = next(ln for ln in lines if ln.startswith("conventions declared:"))
    declared = load(loss, f"{MODULE}:{attr}", cli={"triplet_margin": [CLI[1].partition("=")[2]]}).declared
    assert declared and shown == f"conventions declared: {C.describe(declared)}"
    assert sum(int(m.group(1)) for ln in lines if (m := _EXAMPLES.match(ln))) > 0, lines


@pytest.mark.parametrize("loss, attr", BUGGY, ids=[a for _, a in BUGGY])
def test_declared_convention_does_not_hide_a_bug(gate, loss, attr):
    result = gate["buggy"]
    assert result.returncode == 1, result.tail()
    found = failures_of(result, option(loss, attr))
    assert found and not any("test_bad_input_outside_declared_limit" in nodeid for _, nodeid, _ in found), found


@pytest.mark.parametrize("loss, attr", VIOLATORS, ids=[a for _, a in VIOLATORS])
def test_value_outside_declared_limit_is_a_finding(gate, loss, attr):
    found = failures_of(gate["buggy"], option(loss, attr))
    assert found and all("test_bad_input_outside_declared_limit" in nodeid for _, nodeid, _ in found), found
    assert any("accepts input outside its declared limit" in message for _, _, message in found), found
