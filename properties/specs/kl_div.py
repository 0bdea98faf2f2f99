"""KL divergence (``torch.nn.functional.kl_div``), reference ``refimpl.kl_div``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import broadcast as B
from .. import strategies as S
from ..cases import Case
from ..spec import LossSpec


@st.composite
def _kl_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    shape = draw(S.shapes(1, 3, 1, 4))
    rows, seed = draw(S.extension(n_long, int(np.prod(shape[1:], dtype=np.int64))))
    log_target = variant == "log_target"
    # log-probabilities down to -cap (exp(-cap) underflows in every dtype beyond ~-100); 'batchmean' is
    # torch's sum / N, formed in the dtype: sized as a sum
    count = S.summed_count(reduction, max(64, rows * int(np.prod(shape[1:], dtype=np.int64))), fmt=fmt)
    cap = min(1e3, fmt.headroom_cap(count=count) / 4)
    x = -draw(S.array(shape, S.reals(1e-6, cap, signed=False)))
    if log_target:
        t = -draw(S.array(shape, S.reals(1e-6, cap, signed=False)))
    else:
        t = draw(S.array(shape, st.one_of(st.just(0.0), S.log_uniform(1e-30, 1.0))))
    if draw(st.booleans()):  # inputs close to the target's log at some elements: t (log t - x) cancels
        with np.errstate(divide="ignore"):
            log_t = t if log_target else np.log(t)
        ok = np.isfinite(log_t)
        x = np.minimum(draw(S.near(np.where(ok, log_t, x), x, ok)), 0.0)
    return draw(B.broadcast_pair(S.lengthen_case(Case({"input": x, "target": t}, {"log_target": log_target}), rows, seed)))


def _kl_denominator(case, terms, reduction):
    x = case.args["input"]
    if reduction == "batchmean":  # the input's first dim, whatever the target broadcasts it to
        return float(x.shape[0]) if x.ndim else 1.0
    return float(terms.size)


def _without_log_target(case, default):
    """For an implementation without ``log_target``: a log-space target as the probability it stands for."""
    if not case.kwargs.get("log_target", default):
        return case
    return Case({**case.args, "target": np.exp(case.args["target"])}, case.kwargs)


def underflow_kl_div(case: Case, terms):
    """log_target: exp(t) is rounded to the dtype before the product (a composite op), so
    an exp(t) lost to underflow (< half a subnormal) costs |t - x| subnormals.
    (Measured: bfloat16 exp(-93) = 0, the term -3.8e-39 becomes -0.)"""
    if not case.kwargs.get("log_target", False):
        return 1.0
    return 1.0 + np.abs(case.args["target"] - case.args["input"])


def scale_kl_div(case: Case, terms):
    """xlogy(t, t) - t x: 3 roundings of |t log t| (log 2u), 2 of |t x|, 1 of |t|;
    log_target: exp(t) (t - x), no cancellation beyond the exact inputs': 4 |t|."""
    x, t = case.args["input"], case.args["target"]
    if case.kwargs.get("log_target", False):
        return 4 * np.abs(terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        tlogt = np.where(t == 0, 0.0, np.abs(t * np.log(t)))
        tx = np.where(t == 0, 0.0, np.abs(t * x))
    return 3 * tlogt + 2 * tx + np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    broadcast="silent", gap=lambda args, kw: (args[0], args[1] if kw.get("log_target") else args[1].log()),
    name="kl_div", reference=refimpl.kl_div, arg_names=("input", "target"),
    torch_function="torch.nn.functional.kl_div", cases=_kl_cases, variants=("prob_target", "log_target"),
    scale=scale_kl_div, underflow=underflow_kl_div, denominator=_kl_denominator, reductions=("none", "mean", "sum", "batchmean"),
    without={"log_target": _without_log_target},
    mirrors="log_target; reduction none/mean/sum/batchmean; target 0 -> 0 contribution; broadcasting (silent)",
)
