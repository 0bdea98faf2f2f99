"""Declared conventions and API limits of a plug-in.

Real libraries make documented choices the contract does not (Keras clips BCE's probabilities,
computes in float32, averages an empty batch to 0), and real APIs are partial (index targets
only, no unbatched input).  A plug-in may *declare* such choices from the fixed vocabulary below;
the checks then compare it with the reference *under* what it declared, and anything it does
not declare stays a finding.  A declaration never licenses a wrong value: a **convention**
changes what the right value is (and the reference computes that value), an **API limit**
removes inputs from what is checked -- and ``tests/gate/test_declared_limits.py`` checks that every
input outside a declared limit is refused with an error, not answered.

Vocabulary (``NAME[=VALUE]``; a usage error for anything else):

Conventions (they change the expected values):

``empty_mean=zero``
    A mean over no terms -- an empty batch, or every target ignored (``ignore_index``) -- is 0,
    not the contract's 0/0 = NaN (Keras's ``divide_no_nan``).  Any mean-like reduction ('mean',
    'batchmean').  A mean whose weights sum to 0 over terms that exist stays 0/0.
``clip=EPS``
    BCE only: the probabilities are clipped to [EPS, 1 - EPS] before the logs (Keras: EPS =
    1e-7; ``refimpl.bce(clip=...)`` and its gradient ``refimpl.grad.bce``).  The bounds are held
    as the dtype the implementation computes in holds them (float32: 1 - 1e-7 is 1 - 2^-23),
    because that is what ``x.clamp(EPS, 1 - EPS)`` / ``np.clip`` clip to (a declared
    ``compute_dtype``'s, else the input's).  The clip replaces torch's clamp of each log at -100:
    where a dtype rounds 1 - EPS to 1 (float16, bfloat16), BCE(1, 0) is inf, as in Keras.
``compute_dtype=DTYPE``
    Computed in DTYPE (float32) whatever the input dtype, returned in the input's dtype.  For an
    input dtype more precise than DTYPE (float64) the checks compare as if the input were DTYPE:
    cases drawn for DTYPE's range and rounded to it (a fixed edge-case input DTYPE cannot hold
    exactly is not applicable), the reference on those inputs, the tolerance bound from DTYPE's
    format (``LossSpec.fmt``); the output dtype must still be the input's.  gradcheck (float64
    finite differences) is not applicable.
``targets=01``
    Losses with +-1 labels (``LossSpec.label_args``: the hinge, cosine and contrastive embedding
    losses) take 0/1 labels: every call maps -1 -> 0 (and an invalid 0 -> -1, so an invalid
    label stays invalid: the bad-input checks still apply).  The reproductions show the mapping.
``fixed:PARAM=VALUE``
    The plug-in has no PARAM and behaves as if PARAM=VALUE always (Dice without numerator
    smoothing: ``fixed:smooth_nr=0``; a triplet distance without eps: ``fixed:eps=0``): VALUE
    replaces the contract's default of PARAM for this plug-in; a drawn case with another value of
    PARAM is refitted to VALUE (``properties.fit``).

API limits (they restrict the inputs; outside one, the plug-in must raise):

``targets=index`` / ``targets=probability``
    cross_entropy takes class-index targets only / class-probability targets only.
``batch=required``
    No input without its batch dimension: (C,) logits, (D,) embeddings (losses whose first
    argument has a sample dimension, ``LossSpec.event_dims`` >= 1).
``label_smoothing<1``
    cross_entropy refuses label_smoothing = 1 (the contract's domain is [0, 1]).
``shapes=equal``
    No broadcasting: the tensor arguments of one call have one shape (losses whose contract
    broadcasts, ``LossSpec.broadcast``: the elementwise regression losses, KL and hinge).
``tied:A=B``
    One constant for two parameters (Dice ``tied:smooth_dr=smooth_nr``): cases are drawn with
    A equal to B, the plug-in is called without A; a case with A != B is outside the limit.

How the checks apply them (``properties.fit.fitted`` builds the spec a plug-in is checked on):

- agreement, gradients, bounds: the reference (``FittedSpec.reference``/``reference_kwargs``, per
  dtype ``FittedSpec.in_dtype``) and the tolerance format (``FittedSpec.fmt``) under the declaration;
- edge cases: where the declared conventions give a row's case another reference value than the
  contract does (an empty mean, a clipped probability, a fixed parameter), the row checks
  agreement with the reference under them instead of its fixed expectation (the contract's);
  the fixed gradient rows (finite gradients at extremes, subgradients) are not applicable there;
- invariants: a violation that the reference under the conventions shows too on the same example
  (clipped BCE is not 0 at the optimum) rejects the example, any other stays a finding;
- limits: a case outside one is rejected per example (``properties.tally``); a test whose first
  40 examples all fall outside one limit is not applicable (a whole variant outside it).

Declaring (all three are merged; the same name with two values is a usage error):

(a) an attribute of the function or ``nn.Module`` class::

        def my_bce(input, target, weight=None, reduction="mean"): ...
        my_bce.lossproof_conventions = ["clip=1e-7", "compute_dtype=float32"]

(b) the command line, repeatable: ``--convention LOSS=NAME[=VALUE]`` (every plug-in of LOSS), e.g.
    ``lossproof gate --impl bce=mylosses:my_bce --convention bce=clip=1e-7``;

(c) ``pyproject.toml`` of the current directory, keyed by the ``--impl`` value (one plug-in) or
    by the loss (every plug-in of it)::

        [tool.lossproof]
        conventions = { "bce=mylosses:my_bce" = ["clip=1e-7"], "dice" = ["fixed:smooth_nr=0"] }

Every declaration shows in the gate's coverage summary ("conventions declared: ...") and in the
audit report.  Built-ins and adapters declare nothing (an adapter translates its library's
conventions itself).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import os
from typing import Any, Callable

import numpy as np

from .cases import Case
from .formats import FORMATS, FloatFormat

#: the attribute of a plug-in function or class that declares its conventions
ATTRIBUTE = "lossproof_conventions"
#: the table of pyproject.toml that declares them
PYPROJECT_TABLE = ("tool", "lossproof", "conventions")


class ConventionError(ValueError):
    """A declaration that is not in the vocabulary, or does not apply to the plug-in's loss."""


# ---- the vocabulary -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Entry:
    """One name of the vocabulary; ``syntax`` as written, ``kind`` convention or limit.  Each hook
    has a neutral default; an entry overrides the ones its semantics need."""

    syntax: str
    kind: str  # "convention" | "limit"
    meaning: str

    def parse(self, value: str | None, spec, params) -> Any:
        """The declaration's value, checked against the loss (``ConventionError`` if it does not
        apply); ``params``: the plug-in's accepted parameters (None: any, a ``**kwargs`` signature)."""
        return None

    def canonical(self, value) -> str:
        return self.syntax

    # conventions
    def reference(self, spec, value, fn: Callable) -> Callable:
        """The reference as the plug-in computes (default: unchanged)."""
        return fn

    def reference_kwargs(self, spec, value, fmt: FloatFormat | None) -> dict:
        """Reference switches (``fmt``: the format the plug-in computes in, None: unknown)."""
        return {}

    def fixes(self, spec, value) -> dict:
        """Parameters whose default the declaration replaces: ``{name: value}``."""
        return {}

    def ties(self, spec, value) -> dict:
        """Parameters held at another's value: ``{held: source}``."""
        return {}

    def compute(self, value) -> str | None:
        """The dtype the plug-in computes in, when declared."""
        return None

    def map_args(self, spec, value, args: list) -> list:
        return args

    def source_lines(self, spec, value) -> list[str]:
        return []

    # limits
    def excludes(self, spec, value, case: Case) -> str | None:
        """Why ``case`` (a contract case) lies outside the limit, or None."""
        return None

    def outside(self, spec, value, case: Case) -> Case | None:
        """A contract case just outside the limit made from ``case`` (a drawn contract case of one of
        ``outside_variants``), or None where this one cannot be made so."""
        return None

    def outside_variants(self, spec, value) -> tuple[str, ...]:
        return spec.variants


def _contract_params(spec) -> dict:
    """The contract's keyword parameters and their defaults (the reference's signature, without
    the keyword-only reference switches)."""
    return {p.name: p.default for p in inspect.signature(spec.reference).parameters.values()
            if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.KEYWORD_ONLY}


def _mean_like(spec, kwargs) -> bool:
    reduction = kwargs.get("reduction", _contract_params(spec).get("reduction", "mean"))
    return reduction not in ("none", "sum")


def _no_terms(spec, case: Case, terms: np.ndarray) -> bool:
    """A mean over nothing: no terms at all, or integer targets all equal to ``ignore_index``."""
    if np.size(terms) == 0:
        return True
    t = case.args.get("target")
    if "ignore_index" not in _contract_params(spec) or t is None or t.dtype.kind not in "iu":
        return False
    return not np.any(t != case.kwargs.get("ignore_index", _contract_params(spec)["ignore_index"]))


class EmptyMeanZero(Entry):
    def reference(self, spec, value, fn):
        """``fn`` with a mean over no terms (:func:`_no_terms`) equal to 0 instead of NaN."""

        @functools.wraps(fn)
        def reference(*args, **kwargs):
            out = fn(*args, **kwargs)
            if not _mean_like(spec, kwargs):
                return out
            terms = fn(*args, **{**kwargs, "reduction": "none"})
            case = Case(dict(zip(spec.arg_names, map(np.asarray, args))), kwargs)
            return np.zeros_like(out) if _no_terms(spec, case, terms) else out

        return reference


class Clip(Entry):
    def parse(self, value, spec, params):
        if spec.name != "bce":
            raise ConventionError(f"clip=EPS applies to bce (probabilities), not {spec.name}")
        eps = _number(value, "clip=EPS")
        if not 0.0 < eps < 0.5:
            raise ConventionError(f"clip=EPS needs 0 < EPS < 0.5, got {value!r}")
        return eps

    def canonical(self, value):
        return f"clip={value!r}"

    def reference_kwargs(self, spec, value, fmt):
        """The clip replaces torch's clamp of the logs at -100 (``clamp_log``): the logs of clipped
        probabilities are finite unless the dtype rounds 1 - EPS to 1 (float16, bfloat16: then
        BCE(1, 0) = -log(0) = inf, as in Keras)."""
        if fmt is None:
            return {"clip": value, "clamp_log": False}
        return {"clip": (_round(value, fmt.name), _round(1.0 - value, fmt.name)), "clamp_log": False}


class ComputeDtype(Entry):
    def parse(self, value, spec, params):
        if value not in FORMATS:
            raise ConventionError(f"compute_dtype=DTYPE: DTYPE is one of {', '.join(FORMATS)}, got {value!r}")
        return value

    def canonical(self, value):
        return f"compute_dtype={value}"

    def compute(self, value):
        return value


class Targets01(Entry):
    def parse(self, value, spec, params):
        if not spec.label_args:
            from .specs import SPECS

            raise ConventionError(f"targets=01 applies to the losses with +-1 labels "
                                  f"({', '.join(n for n, s in SPECS.items() if s.label_args)}), not {spec.name}")
        return tuple((spec.arg_names.index(n), n) for n in spec.label_args)

    def map_args(self, spec, value, args):
        import torch

        args = list(args)
        for i, _ in value:
            t = args[i]
            if isinstance(t, torch.Tensor):
                args[i] = torch.where(t == -1, torch.zeros_like(t), torch.where(t == 0, -torch.ones_like(t), t))
        return args

    def source_lines(self, spec, value):
        return [f"{n} = torch.where({n} == -1, torch.zeros_like({n}), torch.where({n} == 0, -torch.ones_like({n}), {n}))"
                f"  # declared targets=01: labels -1/1 as 0/1" for _, n in value]


class Fixed(Entry):
    def parse(self, value, spec, params):
        name, eq, text = (value or "").partition("=")
        contract = _contract_params(spec)
        if not eq or name not in contract or name == "reduction":
            raise ConventionError(f"fixed:PARAM=VALUE: PARAM is a keyword parameter of {spec.name} "
                                  f"({', '.join(k for k in contract if k != 'reduction')}), got {value!r}")
        if params is not None and name in params:
            raise ConventionError(f"fixed:{name}=...: the plug-in accepts {name}; fixed: is for a parameter it lacks")
        try:
            v = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise ConventionError(f"fixed:{name}=VALUE: VALUE must be a Python literal, got {text!r}") from None
        default = contract[name]
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if default is not None and type(v) is not type(default):
            raise ConventionError(f"fixed:{name}=VALUE: VALUE must be a {type(default).__name__} like the "
                                  f"contract's default {default!r}, got {v!r}")
        try:
            spec.reference(*_probe_args(spec), **{name: v})
        except ValueError as exc:
            raise ConventionError(f"fixed:{name}={v!r} is outside the contract: {exc}") from None
        except Exception:  # the probe's shapes do not suit this loss: the value is checked by the cases
            pass
        return name, v

    def canonical(self, value):
        return f"fixed:{value[0]}={value[1]!r}"

    def fixes(self, spec, value):
        return {value[0]: value[1]}


class Tied(Entry):
    def parse(self, value, spec, params):
        held, eq, source = (value or "").partition("=")
        contract = _contract_params(spec)
        if not eq or held not in contract or source not in contract or held == source:
            raise ConventionError(f"tied:A=B: A and B are two keyword parameters of {spec.name}, got {value!r}")
        if params is not None and (held in params or source not in params):
            raise ConventionError(f"tied:{held}={source}: the plug-in must accept {source} and not {held}")
        return held, source

    def canonical(self, value):
        return f"tied:{value[0]}={value[1]}"

    def ties(self, spec, value):
        return {value[0]: value[1]}

    def excludes(self, spec, value, case):
        held, source = value
        contract = _contract_params(spec)
        a, b = case.kwargs.get(held, contract[held]), case.kwargs.get(source, contract[source])
        return None if _same(a, b) else f"{held}={a!r} differs from {source}={b!r}"

    def outside(self, spec, value, case):
        held, source = value
        b = case.kwargs.get(source, _contract_params(spec)[source])
        return case.with_kwargs(**{source: b, held: 2.0 * b + 1e-3})


class TargetKind(Entry):
    """targets=index / targets=probability: ``integer`` is the kind it takes."""

    def __init__(self, syntax, meaning, integer: bool):
        super().__init__(syntax, "limit", meaning)
        object.__setattr__(self, "integer", integer)

    def parse(self, value, spec, params):
        if spec.name != "cross_entropy":
            raise ConventionError(f"{self.syntax} applies to cross_entropy, not {spec.name}")
        return None

    def excludes(self, spec, value, case):
        t = case.args.get("target")
        if t is not None and (t.dtype.kind in "iu") != self.integer:
            return "class-probability targets" if self.integer else "class-index targets"
        return None

    def outside_variants(self, spec, value):
        return ("prob",) if self.integer else ("index",)

    def outside(self, spec, value, case):
        return case if self.excludes(spec, value, case) else None


class BatchRequired(Entry):
    def parse(self, value, spec, params):
        if spec.event_dims < 1:
            from .specs import SPECS

            raise ConventionError(f"batch=required applies to losses whose input has a sample dimension "
                                  f"({', '.join(n for n, s in SPECS.items() if s.event_dims)}), not {spec.name}")
        return None

    def excludes(self, spec, value, case):
        first = next(iter(case.args.values()))
        return f"input of shape {first.shape} without a batch dimension" if first.ndim <= spec.event_dims else None

    def outside(self, spec, value, case):
        """The first sample of ``case`` without its batch dimension (a (C,)/(D,) input; the
        per-sample parameters of it, cross-entropy's class weight aside, are left as they are)."""
        if self.excludes(spec, value, case):
            return case
        if any(v.ndim == 0 or v.shape[0] == 0 for v in case.args.values()):
            return None
        return Case({k: v[0] for k, v in case.args.items()}, case.kwargs)


class EqualShapes(Entry):
    """shapes=equal: no broadcasting (the contract broadcasts the arguments of the losses whose
    ``LossSpec.broadcast`` says so, as torch does; Keras and many hand-written losses refuse other shapes)."""

    def parse(self, value, spec, params):
        from .broadcast import BROADCASTS

        if spec.name not in BROADCASTS:
            raise ConventionError(f"shapes=equal applies to losses whose contract broadcasts "
                                  f"({', '.join(BROADCASTS)}), not {spec.name}")
        return None

    def excludes(self, spec, value, case):
        shapes = [tuple(np.shape(v)) for v in case.args.values()]
        return f"arguments of shapes {', '.join(map(str, shapes))}: broadcast" if len(set(shapes)) > 1 else None

    def outside(self, spec, value, case):
        """The case with its second argument reduced to its first row (shape (d1, ...), broadcasting
        against the first argument's (N, d1, ...))."""
        if self.excludes(spec, value, case):
            return case
        second = list(case.args)[1]
        y = case.args[second]
        if np.ndim(y) == 0 or np.shape(y)[0] == 0:
            return None
        return Case({**case.args, second: np.array(y[0], copy=True)}, case.kwargs)


class LabelSmoothingBelow1(Entry):
    def parse(self, value, spec, params):
        if "label_smoothing" not in _contract_params(spec):
            raise ConventionError(f"label_smoothing<1 applies to cross_entropy, not {spec.name}")
        return None

    def excludes(self, spec, value, case):
        try:
            ls = float(case.kwargs.get("label_smoothing", 0.0))
        except (TypeError, ValueError):
            return None
        return "label_smoothing = 1" if ls == 1.0 else None

    def outside(self, spec, value, case):
        return case.with_kwargs(label_smoothing=1.0)


#: NAME -> entry; ``fixed:`` and ``tied:`` take ``PARAM=VALUE`` / ``A=B``, ``clip`` and
#: ``compute_dtype`` a value, the others are written out whole.
VOCABULARY: dict[str, Entry] = {
    "empty_mean=zero": EmptyMeanZero("empty_mean=zero", "convention",
                                     "a mean over no terms (empty batch, every target ignored) is 0, not NaN"),
    "clip": Clip("clip=EPS", "convention", "BCE probabilities clipped to [EPS, 1 - EPS] before the logs"),
    "compute_dtype": ComputeDtype("compute_dtype=DTYPE", "convention",
                                  "computed in DTYPE whatever the input dtype, returned in the input's dtype"),
    "targets=01": Targets01("targets=01", "convention", "0/1 labels instead of -1/+1"),
    "fixed": Fixed("fixed:PARAM=VALUE", "convention", "no PARAM; behaves as if PARAM=VALUE always"),
    "targets=index": TargetKind("targets=index", "class-index targets only", integer=True),
    "targets=probability": TargetKind("targets=probability", "class-probability targets only", integer=False),
    "batch=required": BatchRequired("batch=required", "limit", "no (C,)/(D,) input without a batch dimension"),
    "shapes=equal": EqualShapes("shapes=equal", "limit", "no broadcasting: the tensors of one call have one shape"),
    "label_smoothing<1": LabelSmoothingBelow1("label_smoothing<1", "limit", "refuses label_smoothing = 1"),
    "tied": Tied("tied:A=B", "limit", "one constant for A and B: called without A, checked where A = B"),
}


def vocabulary_text() -> str:
    return "; ".join(f"{e.syntax} ({e.kind}: {e.meaning})" for e in VOCABULARY.values())


# ---- one declaration ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Declared:
    """One declaration of one plug-in: the vocabulary ``entry``, its parsed ``value``, its
    canonical ``text`` and where it was declared (``source``)."""

    entry: Entry
    value: Any
    text: str
    spec: Any = dataclasses.field(compare=False, repr=False)
    source: str = dataclasses.field(default="", compare=False)

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def fixes(self) -> dict:
        return self.entry.fixes(self.spec, self.value)

    @property
    def hidden(self) -> tuple[str, ...]:
        return tuple(self.entry.ties(self.spec, self.value))

    def map_args(self, args: list) -> list:
        return self.entry.map_args(self.spec, self.value, args)

    def source_lines(self) -> list[str]:
        return self.entry.source_lines(self.spec, self.value)

    def excludes(self, case: Case) -> str | None:
        return self.entry.excludes(self.spec, self.value, case)

    def outside(self, case: Case) -> Case | None:
        return self.entry.outside(self.spec, self.value, case)

    def __str__(self) -> str:
        return self.text


def _number(value, what) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConventionError(f"{what}: a number, got {value!r}") from None


def _round(x: float, dtype: str) -> float:
    import torch

    return float(torch.tensor(x, dtype=torch.float64).to(getattr(torch, dtype)).to(torch.float64))


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _probe_args(spec):
    from .bad_inputs import VALID

    return list(VALID[spec.name].args.values()) if spec.name in VALID else []


def parse_one(text: str, spec, params=None, source: str = "") -> Declared:
    """``text`` (``NAME[=VALUE]``) as a :class:`Declared` of ``spec``'s loss; ``ConventionError``
    naming the problem and the vocabulary when it is unknown or does not apply."""
    raw = str(text).strip()
    if raw.startswith(("fixed:", "tied:")):
        key, _, value = raw.partition(":")
    elif raw in VOCABULARY:
        key, value = raw, None
    else:
        key, _, value = raw.partition("=")
        if key not in ("clip", "compute_dtype") or not value:
            raise ConventionError(f"unknown convention {raw!r}{f' ({source})' if source else ''}; the vocabulary: "
                                  f"{vocabulary_text()}")
    entry = VOCABULARY[key]
    try:
        parsed = entry.parse(value, spec, params)
    except ConventionError as exc:
        raise ConventionError(f"{raw!r}{f' ({source})' if source else ''}: {exc}") from None
    return Declared(entry, parsed, entry.canonical(parsed), spec, source)


def merge(declared: list[Declared], who: str) -> tuple[Declared, ...]:
    """One declaration per name (the same declared twice is once; two values are a usage error)."""
    out: dict[str, Declared] = {}
    for d in declared:
        key = _slot(d)
        if key in out and out[key].text != d.text:
            raise ConventionError(f"{who}: {out[key].text!r} ({out[key].source}) and {d.text!r} ({d.source}) "
                                  "declare the same thing twice with different values")
        out.setdefault(key, d)
    limits = [d.text for d in out.values() if isinstance(d.entry, TargetKind)]
    if len(limits) > 1:
        raise ConventionError(f"{who}: {' and '.join(limits)} exclude each other (no target kind would be left)")
    return tuple(out.values())


def _slot(d: Declared) -> str:
    """What a declaration is about: the entry, or the parameter of a fixed:/tied: one."""
    if isinstance(d.entry, (Fixed, Tied)):
        return f"param:{d.value[0]}"
    return d.entry.syntax


# ---- where declarations come from --------------------------------------------------------


def parse_cli(values: list[str], losses) -> dict[str, list[str]]:
    """``--convention LOSS=NAME[=VALUE]`` values -> ``{loss: [NAME[=VALUE], ...]}``."""
    out: dict[str, list[str]] = {}
    for value in values:
        loss, eq, text = str(value).partition("=")
        loss, text = loss.strip(), text.strip()
        if not eq or not loss or not text:
            raise ConventionError(f"--convention {value!r}: expected LOSS=NAME[=VALUE], e.g. bce=clip=1e-7")
        if loss not in losses:
            raise ConventionError(f"--convention {value!r}: unknown loss {loss!r}; one of {', '.join(losses)}")
        out.setdefault(loss, []).append(text)
    return out


def read_pyproject(directory: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """``[tool.lossproof] conventions`` of ``directory``/pyproject.toml (default: the current
    directory): ``{"LOSS=MODULE:ATTR" or "LOSS": [NAME[=VALUE], ...]}`` ({} without one)."""
    import tomllib

    path = os.path.join(directory or os.getcwd(), "pyproject.toml")
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConventionError(f"{path}: cannot read it: {exc}") from None
    for key in PYPROJECT_TABLE:
        table = table.get(key, {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
        raise ConventionError(f"{path}: [tool.lossproof] conventions must map \"LOSS=MODULE:ATTR\" (or \"LOSS\") "
                              "to a list of conventions")
    return {str(k).replace(" ", ""): [str(x) for x in v] for k, v in table.items()}


def declarations(loss: str, target: str, obj, params, cli: dict, pyproject: dict) -> tuple[Declared, ...]:
    """Everything declared for the plug-in ``target`` (``MODULE:ATTR``) of ``loss``: the attribute
    of ``obj``, ``--convention`` values for the loss, pyproject.toml entries for the plug-in or
    the loss -- merged (:func:`merge`); ``ConventionError`` for anything not in the vocabulary."""
    from .specs import SPECS

    spec = SPECS[loss]
    attr = getattr(obj, ATTRIBUTE, None)
    if isinstance(attr, str):
        attr = [attr]
    if attr is not None and not isinstance(attr, (list, tuple)):
        raise ConventionError(f"{loss}={target}: {ATTRIBUTE} must be a list of strings, got {type(attr).__name__}")
    texts = [(t, f"attribute {ATTRIBUTE}") for t in attr or ()]
    texts += [(t, "--convention") for t in cli.get(loss, ())]
    texts += [(t, "pyproject.toml") for key in (f"{loss}={target}", loss) for t in pyproject.get(key, ())]
    declared = [parse_one(t, spec, params, source) for t, source in texts]
    return merge(declared, f"{loss}={target}")


# ---- what a declaration does to the checks (used by properties.fit) ----------------------


def compute_dtype(declared) -> str | None:
    return next((d.entry.compute(d.value) for d in declared if d.entry.compute(d.value)), None)


def arithmetic(declared, fmt: FloatFormat) -> FloatFormat:
    """The format a plug-in declaring ``declared`` computes in when given ``fmt``'s dtype: the
    declared compute dtype where it is less precise than ``fmt``, else ``fmt``.  A ``fmt`` that
    narrows a dtype's range (the gradient checks' magnitudes) keeps its narrowing."""
    name = compute_dtype(declared)
    if name is None or FORMATS[name].precision >= fmt.precision:
        return fmt
    c = FORMATS[name]
    if fmt is FORMATS.get(fmt.name):
        return c
    return FloatFormat(c.name, c.precision, min(fmt.max, c.max), max(fmt.tiny, c.tiny), max(fmt.subnormal, c.subnormal))


def computing(declared, dtype: str) -> FloatFormat:
    """The format a plug-in computes in on ``dtype`` inputs: its declared compute dtype, else
    ``dtype`` (what its constants -- BCE's clip bounds -- are rounded to)."""
    return FORMATS[compute_dtype(declared) or dtype]


def fixed_defaults(declared) -> dict:
    return {k: v for d in declared for k, v in d.fixes.items()}


def ties(declared) -> dict:
    return {k: v for d in declared for k, v in d.entry.ties(d.spec, d.value).items()}


def reference(spec, declared) -> Callable:
    fn = spec.reference
    for d in declared:
        fn = d.entry.reference(spec, d.value, fn)
    return fn


def reference_kwargs(spec, declared, fmt: FloatFormat | None = None) -> dict:
    out = dict(spec.reference_kwargs)
    for d in declared:
        out.update(d.entry.reference_kwargs(spec, d.value, fmt))
    return out


def refusal(declared, case: Case) -> str | None:
    """Why ``case`` is outside a declared limit (the first one), or None."""
    for d in declared:
        if d.kind == "limit" and (why := d.excludes(case)):
            return f"outside the declared limit {d.text}: {why}"
    return None


def limits(declared) -> tuple[Declared, ...]:
    return tuple(d for d in declared if d.kind == "limit")


def outside_subject(subject, limit: Declared):
    """``subject`` as called on a case outside ``limit`` (``tests/gate/test_declared_limits.py``): the
    parameter a ``tied:`` limit takes out of every call is passed, the other declarations stay."""
    if not limit.hidden:
        return subject
    return dataclasses.replace(subject, declared=tuple(d for d in subject.declared if d is not limit))


def in_arithmetic(declared, case: Case, fmt: FloatFormat, strict: bool) -> Case | str:
    """``case`` as a plug-in computing in ``arithmetic(declared, fmt)`` sees it: its floating arrays
    rounded to that dtype; with ``strict`` (the case's expectation may depend on its values) a
    reason instead where the rounding changes any value."""
    c = arithmetic(declared, fmt)
    if c is fmt or c.precision >= fmt.precision:
        return case
    rounded = case.rounded(c.name)
    changed = any(not np.array_equal(a, b, equal_nan=True) for (_, a), (_, b) in zip(case.arrays(), rounded.arrays()))
    if changed and strict:
        return (f"not applicable to this plug-in: it computes in {c.name} (declared compute_dtype={c.name}) "
                f"and this case is not exact in {c.name}")
    return rounded


def gradcheck_refusal(subject) -> str | None:
    """Why gradcheck (float64 finite differences) does not apply to ``subject``, or None."""
    name = compute_dtype(getattr(subject, "declared", ()))
    if name is not None and FORMATS[name].precision < FORMATS["float64"].precision:
        return (f"not applicable to this plug-in: gradcheck differentiates numerically in float64 and it computes "
                f"in {name} (declared compute_dtype={name})")
    return None


def row_under(spec, subject, row, case: Case, dtype: str):
    """``(spec, row)`` for checking ``subject`` on an edge-case ``row`` at ``case`` (prepared) in
    ``dtype``: the spec as fitted to the subject in that dtype, and the row -- or, where the
    subject's declared conventions change the reference's value of ``case`` (an empty mean that is
    0, a clipped probability), the row expecting agreement with the reference under them (the
    row's fixed expectation is the contract's, which the declaration replaces)."""
    from .edge_cases.expect import agrees
    from .fit import FittedSpec, fitted

    fspec = fitted(spec, subject)
    if not isinstance(fspec, FittedSpec) or not fspec.declared:
        return fspec, row
    fspec = fspec.in_dtype(dtype)
    if not changes_expectation(fspec, case):
        return fspec, row
    why = (f"{row.why}; under the declared {', '.join(map(str, fspec.declared))} the reference's value "
           f"replaces that expectation")
    return fspec, dataclasses.replace(row, expect=agrees(), why=why)


def convention_reference(spec, subject, dtype: str):
    """The reference under ``subject``'s declared conventions in ``dtype`` as a subject
    (``properties.subjects.reference_subject``), or None where they leave the reference as it is."""
    from .fit import FittedSpec, fitted
    from .subjects import reference_subject

    fspec = fitted(spec, subject)
    if not isinstance(fspec, FittedSpec) or not fspec.declared:
        return None
    fspec = fspec.in_dtype(dtype)
    if fspec.reference is spec.reference and fspec.reference_kwargs == spec.reference_kwargs:
        return None
    return reference_subject(fspec)


def under_conventions(spec, subject, dtype: str, draw, failure: type, run, what: str):
    """``run(subject, draw)`` (a check drawing extra values with ``draw``); where it fails with
    ``failure`` and ``subject``'s declared conventions change the reference, the same check of the
    reference under them (the draws replayed): if that fails too, the check is not one the
    convention keeps (an invariant of the contract that clipping breaks) and the example is
    rejected; else the failure stands."""
    from . import tally

    conv = convention_reference(spec, subject, dtype)
    if conv is None:
        return run(subject, draw)
    drawn: list = []

    def recording(*a, **k):
        drawn.append(draw(*a, **k))
        return drawn[-1]

    try:
        return run(subject, recording)
    except failure:
        replay = iter(list(drawn))

        def replaying(*a, **k):  # the subject's draws again, then fresh ones if the reference needs more
            value = next(replay, replay)
            return draw(*a, **k) if value is replay else value

        try:
            run(conv, replaying)
        except failure:
            tally.reject(f"not applicable to this plug-in: {what} does not hold for the reference under its declared "
                         f"{', '.join(map(str, fitted_declared(spec, subject)))} either")
        raise


def fitted_declared(spec, subject) -> tuple:
    from .fit import fitted

    return getattr(fitted(spec, subject), "declared", ())


def changes_expectation(fspec, case: Case) -> bool:
    """Whether ``fspec``'s declared conventions give ``case`` another reference value than the
    contract gives it (a fixed: parameter at the contract's default there): a fixed expectation
    written for the contract does not hold under them."""
    if not any(d.kind == "convention" for d in getattr(fspec, "declared", ())):
        return False  # limits remove inputs, they do not change values
    contract = case.with_kwargs(**{k: fspec.contract[k] for k in fixed_defaults(fspec.declared)})
    return _value_of(fspec.base, contract) != _value_of(fspec, case)


class _Value:
    """A reference value for comparison: equal when both raise ValueError or both are the same
    array (NaN equal to NaN)."""

    def __init__(self, value=None, refused: bool = False):
        self.value, self.refused = value, refused

    def __ne__(self, other):
        return not self == other

    def __eq__(self, other):
        if self.refused or other.refused:
            return self.refused and other.refused
        a, b = np.asarray(self.value), np.asarray(other.value)
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _value_of(spec, case: Case) -> _Value:
    import warnings

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return _Value(spec.call_reference(case))
    except ValueError:
        return _Value(refused=True)


def describe(declared) -> str:
    """The declarations for the coverage summary and the audit report."""
    return ", ".join(f"{d.text} ({d.kind}, {d.source})" if d.source else f"{d.text} ({d.kind})" for d in declared)
