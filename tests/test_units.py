"""The loss is the unit: every part the suite needs of a loss lives in its four files, and a unit that
lacks a part fails here by name (not silently as an empty table somewhere else).

A loss ``L`` is ``refimpl/L.py`` (the float64 reference ``L``), ``refimpl/grad/L.py`` (its analytic
gradient ``L`` and ``DIFFERENTIABLE``), ``refimpl/exact/L.py`` (the independent mpmath transcription
``L``) and ``properties/specs/L.py`` (``SPEC`` and its tables); all four are discovered, so a new loss
needs no registry line.  Outside them a loss is named only in its recorded deviations
(``properties/known_deviations.toml``) and the article's claims (``properties/audit/claims.py``).
"""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import pytest

import refimpl
import refimpl.grad
from properties.spec import LossSpec
from properties.specs import SPECS, UNITS

ROOT = Path(__file__).resolve().parents[1]

#: what a unit module must define (``properties/specs/<loss>.py``), and what each is
REQUIRED = {
    "SPEC": "the LossSpec: strategy, variants, error budget, parameters",
    "EDGE_ROWS": "its own edge-case rows (properties.edge_cases)",
    "INVARIANTS": "its invariants (properties.invariants)",
    "VALID_CALL": "one small valid call (properties.bad_inputs)",
    "BAD_INPUTS": "the invalid calls its contract refuses",
    "away_from_kinks": "the smooth point near a drawn case (properties.gradients)",
    "at_coincidence": "coincident inputs where it is differentiable, or None",
    "REFUSED": "arguments torch does not differentiate, each a recorded deviation ({} for none)",
    "GRADIENT_ROWS": "points where the gradient must be finite ([] for none)",
    "SUBGRADIENT_ROWS": "kinks whose picked gradient must lie in the subdifferential ([] for none)",
    "FINITE_DIFFERENCES": "what the finite-difference check of its gradient needs (properties.finite_differences)",
    "INVARIANT_MUTANTS": "the wrong implementation each of its own invariants catches ({}: generic ones only)",
}

#: files besides a loss's unit that may name it
ALLOWED = {"properties/known_deviations.toml", "properties/audit/claims.py"}


def unit_files(loss: str) -> set[str]:
    return {f"refimpl/{loss}.py", f"refimpl/grad/{loss}.py", f"refimpl/exact/{loss}.py", f"properties/specs/{loss}.py"}


def unit_problems(loss: str, unit) -> list[str]:
    """What the unit of ``loss`` lacks or holds wrongly, in words (empty: complete)."""
    missing = [f"{name} ({what})" for name, what in REQUIRED.items() if not hasattr(unit, name)]
    if missing:
        return [f"properties/specs/{loss}.py lacks: " + "; ".join(missing)]
    problems = []
    if not (isinstance(unit.SPEC, LossSpec) and unit.SPEC.name == loss):
        problems.append(f"SPEC is not the LossSpec of {loss!r}")
    if not (unit.INVARIANTS and unit.BAD_INPUTS):
        problems.append("a loss has invariants and inputs its contract refuses: INVARIANTS, BAD_INPUTS empty")
    if not (callable(unit.away_from_kinks) and (unit.at_coincidence is None or callable(unit.at_coincidence))):
        problems.append("away_from_kinks / at_coincidence are not functions")
    for table in ("EDGE_ROWS", "INVARIANTS", "BAD_INPUTS", "GRADIENT_ROWS", "SUBGRADIENT_ROWS"):
        strays = [getattr(r, "name", r) for r in getattr(unit, table) if getattr(r, "loss", None) != loss]
        if strays:
            problems.append(f"{table} holds rows of another loss: {strays}")
    unknown = set(unit.INVARIANT_MUTANTS) - {inv.name for inv in unit.INVARIANTS}
    if unknown:
        problems.append(f"INVARIANT_MUTANTS names no invariant of the loss: {sorted(unknown)}")
    if not set(unit.REFUSED) <= set(refimpl.grad.DIFFERENTIABLE.get(loss, ())):
        problems.append(f"REFUSED names arguments that are not differentiated: {sorted(unit.REFUSED)}")
    return problems


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_unit_has_every_part(loss):
    assert not unit_problems(loss, UNITS[loss])


def test_an_incomplete_unit_is_named():
    """A unit with only its SPEC, or with a row of another loss, fails the check with the part named."""
    import types

    bare = types.SimpleNamespace(SPEC=SPECS["mse"])
    assert any("lacks: EDGE_ROWS" in p for p in unit_problems("mse", bare))
    mixed = types.SimpleNamespace(**{name: getattr(UNITS["mse"], name) for name in REQUIRED})
    mixed.EDGE_ROWS = UNITS["mse"].EDGE_ROWS + UNITS["huber"].EDGE_ROWS[:1]
    assert any(p.startswith("EDGE_ROWS holds rows of another loss") for p in unit_problems("mse", mixed))


@pytest.mark.parametrize("loss", sorted(SPECS))
def test_references_of_the_unit(loss):
    """The reference, its gradient and its mpmath transcription exist under the loss's name, the gradient
    knows what it differentiates, and the spec calls the reference."""
    exact = pytest.importorskip("refimpl.exact")
    for module, what in ((refimpl, "reference"), (refimpl.grad, "analytic gradient"), (exact, "mpmath transcription")):
        fn = getattr(module, loss, None)
        assert callable(fn), f"no {what} {module.__name__}.{loss}"
        assert inspect.getmodule(fn).__name__ == f"{module.__name__}.{loss}", f"{what} not in its unit's module"
    assert SPECS[loss].reference is getattr(refimpl, loss)
    assert set(refimpl.grad.DIFFERENTIABLE[loss]) >= {SPECS[loss].arg_names[0]}


def _naming_files(loss: str) -> set[str]:
    out = subprocess.run(["git", "grep", "-lw", loss, "--", ".", ":!tests", ":!docs"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        pytest.skip(f"not a git checkout: {out.stderr.strip()}")
    return set(out.stdout.split())


def test_a_loss_is_named_only_in_its_unit():
    """Outside tests/ and docs/, hinge_embedding (a loss no other loss's prose refers to) is named in its
    unit's four files, its recorded deviations and the article's claims -- nowhere else: no per-name
    table to extend for a new loss.  (Other losses' names also appear in prose examples and in the
    adapters that map a library's losses to them.)"""
    loss = "hinge_embedding"
    named = _naming_files(loss)
    assert unit_files(loss) <= named, "the name check sees the unit's own files"
    assert not named - unit_files(loss) - ALLOWED, f"{loss} is named outside its unit: {sorted(named - unit_files(loss) - ALLOWED)}"
    assert len(named) <= 6
