"""Bad-input tables: for every loss, invalid calls that an implementation must refuse.

Each row changes one thing in a small valid call of the loss (``VALID``): a wrong
reduction string, mismatched shapes, a class index out of range, a parameter
outside its domain ...  The test (``tests/test_bad_inputs.py``) checks, for every
implementation under test, that the valid call succeeds and the changed one
raises -- for torch, the exception type torch raises (``torch_raises``); for the
reference, a ``ValueError`` whose message contains ``message``.  Where torch
accepts an invalid call silently, ``torch_raises`` is None and the row names the
recorded known deviation (a ``KnownFailure``); the test asserts torch still accepts it.  Where a
row gives ``torch_message``, torch's own functions must raise with that text (the broadcasting
refusals of ``properties.broadcast.CONTRACT``, word for word).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .agreement import ContractBreach
from .cases import Case
from .diagnosis import headline, run_subject, is_raise, returned_value, script, shown_output
from .edge_cases.row import KnownFailure, find_known_failure
from .subjects import Subject

A = np.array
TORCH_F = "torch.nn.functional."

X = A([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
P = A([[0.5, 0.25, 0.75], [0.125, 1.0, 0.0]])
T01 = A([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])
PM = A([1.0, -1.0])

#: One small valid call per loss; every row changes one thing in it.
VALID: dict[str, Case] = {
    "mse": Case({"input": X, "target": X[::-1]}),
    "huber": Case({"input": X, "target": X[::-1]}, {"delta": 1.0}),
    "smooth_l1": Case({"input": X, "target": X[::-1]}, {"beta": 1.0}),
    "cross_entropy": Case({"input": X, "target": A([2, 0])}),
    "bce": Case({"input": P, "target": T01}),
    "bce_with_logits": Case({"input": X, "target": T01}),
    "focal": Case({"inputs": X, "targets": T01}, {"alpha": 0.25, "gamma": 2.0}),
    "kl_div": Case({"input": np.log(P[:, :2] + 0.125), "target": P[:, :2]}),
    "hinge_embedding": Case({"input": P, "target": A([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])}, {"margin": 1.0}),
    "triplet_margin": Case({"anchor": X, "positive": X * 0.5, "negative": -X}, {"margin": 1.0}),
    "cosine_embedding": Case({"input1": X, "input2": X[::-1], "target": PM}, {"margin": 0.0}),
    "contrastive": Case({"input1": X, "input2": X[::-1], "target": PM}, {"margin": 1.0}),
    "dice": Case({"input": P.reshape(1, 2, 3), "target": T01.reshape(1, 2, 3).round()}),
}


@dataclass(frozen=True)
class BadInput:
    loss: str
    name: str
    change: Callable[[Case], Case]
    torch_raises: type | tuple | None  # None: torch accepts it (see known_failures)
    message: str  # part of the reference's ValueError message
    known_failures: tuple[KnownFailure, ...] = ()
    #: part of torch's own message, checked on torch's functions ('' for none): where torch's refusal
    #: is part of the contract in words (BCE's of a broadcastable target, mse's of a weight of another shape)
    torch_message: str = ""

    @property
    def id(self) -> str:
        return f"{self.loss}/{self.name}"

    def case(self) -> Case:
        return self.change(VALID[self.loss])

    def known_failure(self, qualname: str) -> KnownFailure | None:
        return find_known_failure(self.known_failures, qualname)


def kw(**kwargs) -> Callable[[Case], Case]:
    return lambda case: case.with_kwargs(**kwargs)


def arg(name: str, fn) -> Callable[[Case], Case]:
    return lambda case: Case({**case.args, name: fn(case.args[name])}, case.kwargs)


#: fvcore's functions (properties/adapters/fvcore.py), by loss: they accept any reduction string
FVCORE = {"smooth_l1": ("fvcore.nn.smooth_l1_loss",), "focal": ("fvcore.nn.sigmoid_focal_loss",)}


def _accepts(deviation: str, function: str) -> dict:
    return {"torch_raises": None, "known_failures": (KnownFailure(deviation, TORCH_F + function),)}


def _broadcast_refusal(loss: str, target_shape, input_shape) -> str:
    """torch's message refusing a target of ``target_shape`` against an input of ``input_shape``."""
    from .broadcast import CONTRACT

    size = lambda shape: f"torch.Size({list(shape)})"
    return CONTRACT[loss][1].format(t=size(target_shape), x=size(input_shape))


ROWS = [
    *[BadInput(loss, "reduction_avg", kw(reduction="avg"), ValueError, "reduction",
               known_failures=tuple(KnownFailure("fvcore_invalid_reduction_accepted", q) for q in FVCORE.get(loss, ())))
      for loss in VALID],
    BadInput("mse", "shape_mismatch", arg("target", lambda t: t[:, :2]), RuntimeError, "broadcast"),
    BadInput("mse", "weight_shape", kw(weight=np.ones(4)), ValueError, "weight",
             torch_message="Weights and input must have the same size."),
    # the weight has exactly input's shape, not the broadcast shape of input and target
    BadInput("mse", "weight_of_broadcast_shape", lambda c: Case({"input": X[:1], "target": X}, {"weight": np.ones((2, 3))}),
             ValueError, "weight", torch_message="Weights and input must have the same size."),
    BadInput("huber", "weight_of_broadcast_shape",
             lambda c: Case({"input": X[:1], "target": X}, {**c.kwargs, "weight": np.ones((2, 3))}),
             ValueError, "weight", torch_message="Weights and input must have the same size."),
    BadInput("huber", "delta_0", kw(delta=0.0), RuntimeError, "delta",
             known_failures=(KnownFailure("keras_huber_delta_not_validated", "keras.losses.Huber"),)),
    BadInput("huber", "delta_negative", kw(delta=-1.0), RuntimeError, "delta",
             known_failures=(KnownFailure("keras_huber_delta_not_validated", "keras.losses.Huber"),)),
    BadInput("huber", "shape_mismatch", arg("target", lambda t: t[:, :2]), RuntimeError, "broadcast"),
    BadInput("smooth_l1", "beta_negative", kw(beta=-0.5), RuntimeError, "beta",
             known_failures=(KnownFailure("fvcore_negative_parameters_accepted", "fvcore.nn.smooth_l1_loss"),)),
    BadInput("cross_entropy", "target_class_out_of_range", arg("target", lambda t: A([3, 0])), IndexError,
             "out of bounds"),
    BadInput("cross_entropy", "target_class_negative", arg("target", lambda t: A([-1, 0])), IndexError,
             "out of bounds"),
    BadInput("cross_entropy", "target_batch_mismatch", arg("target", lambda t: t[:1]), ValueError, "shape"),
    BadInput("cross_entropy", "float_target_of_index_shape", arg("target", lambda t: t.astype(float)),
             RuntimeError, "shape"),
    BadInput("cross_entropy", "weight_wrong_size", kw(weight=np.ones(4)), RuntimeError, "weight"),
    BadInput("cross_entropy", "label_smoothing_above_1", kw(label_smoothing=1.5), RuntimeError, "label_smoothing"),
    BadInput("cross_entropy", "label_smoothing_negative", kw(label_smoothing=-0.25), message="label_smoothing",
             **_accepts("cross_entropy_negative_label_smoothing_accepted", "cross_entropy")),
    BadInput("cross_entropy", "ignore_index_with_probability_targets",
             lambda c: Case({"input": X, "target": P / P.sum(1, keepdims=True)}, {"ignore_index": 0}),
             RuntimeError, "ignore_index"),
    BadInput("bce", "input_above_1", arg("input", lambda x: x + 0.5), RuntimeError, "[0, 1]"),
    BadInput("bce", "input_nan", arg("input", lambda x: np.where(x == 0.5, np.nan, x)), RuntimeError, "[0, 1]"),
    BadInput("bce", "target_above_1", arg("target", lambda t: t * 2), RuntimeError, "[0, 1]"),
    BadInput("bce", "shape_mismatch", arg("target", lambda t: t[:, :2]), ValueError, "shape"),
    # broadcastable, and still refused (properties.broadcast.CONTRACT)
    BadInput("bce", "target_broadcastable", arg("target", lambda t: t[:, :1]), ValueError, "shape",
             torch_message=_broadcast_refusal("bce", (2, 1), (2, 3))),
    BadInput("bce", "target_0d", arg("target", lambda t: t[0, 0]), ValueError, "shape",
             torch_message=_broadcast_refusal("bce", (), (2, 3))),
    BadInput("bce", "weight_not_broadcastable", kw(weight=np.ones(4)), RuntimeError, "weight"),
    BadInput("bce_with_logits", "shape_mismatch", arg("target", lambda t: t[:, :2]), ValueError, "shape"),
    BadInput("bce_with_logits", "target_broadcastable", arg("target", lambda t: t[:1]), ValueError, "shape",
             torch_message=_broadcast_refusal("bce_with_logits", (1, 3), (2, 3))),
    BadInput("bce_with_logits", "input_broadcastable", arg("input", lambda x: x[:, :1]), ValueError, "shape",
             torch_message=_broadcast_refusal("bce_with_logits", (2, 3), (2, 1))),
    BadInput("bce_with_logits", "pos_weight_not_broadcastable", kw(pos_weight=np.ones(4)), RuntimeError, "broadcast"),
    BadInput("focal", "gamma_negative", kw(gamma=-1.0), Exception, "gamma",
             known_failures=(KnownFailure("thirdparty_focal_gamma_negative_accepted", "monai.losses.FocalLoss"),
                             KnownFailure("thirdparty_focal_gamma_negative_accepted",
                                          "kornia.losses.binary_focal_loss_with_logits"),
                             KnownFailure("fvcore_negative_parameters_accepted", "fvcore.nn.sigmoid_focal_loss"))),
    BadInput("focal", "shape_mismatch", arg("targets", lambda t: t[:, :2]), Exception, "shape"),
    BadInput("kl_div", "shape_mismatch", arg("target", lambda t: np.ones((2, 3)) / 3), RuntimeError, "shape"),
    BadInput("hinge_embedding", "shape_mismatch", arg("target", lambda t: t[:, :2]), RuntimeError, "shape"),
    BadInput("hinge_embedding", "target_not_pm1", arg("target", lambda t: np.zeros_like(t)), message="1 or -1",
             **_accepts("embedding_targets_not_validated", "hinge_embedding_loss")),
    BadInput("triplet_margin", "margin_0", kw(margin=0.0), ValueError, "margin"),
    BadInput("triplet_margin", "margin_negative", kw(margin=-1.0), ValueError, "margin"),
    BadInput("triplet_margin", "rank_mismatch", arg("anchor", lambda a: a[None]), RuntimeError, "dimensions"),
    BadInput("triplet_margin", "feature_dim_mismatch", arg("positive", lambda p: p[:, :2]), RuntimeError, "shape"),
    BadInput("triplet_margin", "p_0", kw(p=0.0), message="p", **_accepts("triplet_p_not_validated",
                                                                           "triplet_margin_loss")),
    BadInput("triplet_margin", "p_negative", kw(p=-1.0), message="p", **_accepts("triplet_p_not_validated",
                                                                                "triplet_margin_loss")),
    BadInput("cosine_embedding", "target_shape", arg("target", lambda t: np.ones(3)), RuntimeError, "target"),
    BadInput("cosine_embedding", "feature_dim_mismatch", arg("input2", lambda b: b[:, :2]), RuntimeError, "(N, D)"),
    BadInput("cosine_embedding", "rank_3", lambda c: Case({k: v[None] if k != "target" else v for k, v in c.args.items()},
                                                          c.kwargs), RuntimeError, "(N, D)"),
    BadInput("cosine_embedding", "target_not_pm1", arg("target", np.zeros_like), message="1 or -1",
             **_accepts("embedding_targets_not_validated", "cosine_embedding_loss")),
    BadInput("cosine_embedding", "margin_above_1", kw(margin=1.5), message="margin",
             **_accepts("cosine_margin_not_validated", "cosine_embedding_loss")),
    BadInput("contrastive", "target_not_pm1", arg("target", np.zeros_like), Exception, "1 or -1"),
    BadInput("contrastive", "feature_dim_mismatch", arg("input2", lambda b: b[:, :2]), Exception, "(N, D)"),
    BadInput("dice", "smooth_nr_negative", kw(smooth_nr=-1.0), Exception, "smooth_nr",
             known_failures=(KnownFailure("monai_dice_negative_smooth_accepted", "monai.losses.DiceLoss"),)),
    BadInput("dice", "no_channel_dim", arg("input", lambda x: x.reshape(-1)), Exception, "shape"),
    BadInput("dice", "shape_mismatch", arg("target", lambda t: t[..., :2]), Exception, "shape"),
]

BAD_INPUTS: dict[str, list[BadInput]] = {loss: [r for r in ROWS if r.loss == loss] for loss in VALID}


class BadInputFailure(AssertionError):
    pass


def check_bad_input(row: BadInput, subject: Subject, dtype: str, device: str, *, reference: bool = False) -> None:
    """The valid call of ``row.loss`` keeps the contract and ``row``'s call raises (the type torch
    raises, for torch; a ValueError naming the problem, for the reference), mutating nothing."""
    from .specs import SPECS

    base, bad = VALID[row.loss], row.case()
    first = lambda diagnosis: headline(subject.qualname, diagnosis, row.loss, dtype, device, row.name)

    def failure(diagnosis: str, detail: str, case: Case, shows) -> BadInputFailure:
        return BadInputFailure(f"{first(diagnosis)}\nbad input {row.id}: {detail}\nReproduce:\n"
                               + script(subject, case, dtype, device, after=shows))

    with warnings.catch_warnings():  # torch warns before refusing some shapes
        warnings.simplefilter("ignore", UserWarning)
        args, kwargs = base.to_torch(dtype, device)
        shape = np.shape(SPECS[row.loss].call_reference(base))
        try:
            run_subject(subject, args, kwargs, dtype, device, shape)
        except ContractBreach as exc:
            raise failure(str(exc), f"on the valid call every row changes one thing in: {base!r}", base,
                          shown_output(dtype, device, repr(shape))) from exc.__cause__
        args, kwargs = bad.to_torch(dtype, device)
        try:
            out = run_subject(subject, args, kwargs)
        except ContractBreach as exc:
            if not is_raise(exc):  # a mutation or a hang is no refusal
                raise failure(str(exc), f"the invalid call {bad!r}", bad, []) from exc.__cause__
            raised = exc.__cause__
            expected = ValueError if reference else (row.torch_raises if subject.qualname.startswith("torch.")
                                                     else Exception)
            if expected is None or not isinstance(raised, expected):
                name = getattr(expected, "__name__", expected)
                raise failure(f"refuses invalid input {row.id} with the wrong exception: {type(raised).__name__}, "
                              f"expected {name}", f"the invalid call {bad!r} raised {type(raised).__name__}: {raised}",
                              bad, []) from raised
            if (not reference and row.torch_message and subject.qualname.startswith("torch.")
                    and row.torch_message not in str(raised)):
                raise failure(f"refuses invalid input {row.id} with another message than torch's contract: "
                              f"expected {row.torch_message!r}", f"the message is {str(raised)!r}", bad, []) from raised
            text = str(raised.__cause__ or raised) if reference else ""
            if reference and row.message not in text:
                raise failure(f"refuses invalid input {row.id} without naming the problem: the message should "
                              f"mention {row.message!r}", f"the message is {text!r}", bad, []) from raised
            return
    raise failure(f"accepts invalid input: {row.id} (returned without raising)",
                  f"accepted the invalid call {bad!r} (expected it to raise) and returned {returned_value(out)}", bad,
                  [*shown_output(dtype, device, None), 'print("expected:  an exception")'])
