"""The generated documentation (``docs/generated/``) is what the code gives now, and the README
stays a ten-minute read that points at it."""

from pathlib import Path

from properties import docgen

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_current():
    stale = docgen.stale()
    assert not stale, (f"docs/generated/ is stale: {', '.join(stale)} -- run `python3 -m properties.docgen` "
                       "and commit the result")


def test_stale_detects_a_change(tmp_path):
    """The staleness check can fail: one edited line makes its file stale, a missing file too."""
    for name, make in docgen.GENERATED.items():
        (tmp_path / name).write_text(make(), encoding="utf-8")
    assert docgen.stale(tmp_path) == []
    edited = next(iter(docgen.GENERATED))
    (tmp_path / edited).write_text(docgen.GENERATED[edited]().replace("|", "/", 1), encoding="utf-8")
    missing = list(docgen.GENERATED)[-1]
    (tmp_path / missing).unlink()
    assert docgen.stale(tmp_path) == [edited, missing]


def test_readme_is_short_and_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    import re

    for target in re.findall(r"\]\(((?:docs/)[^)#]+)", readme):
        assert (ROOT / target).exists(), f"README links to a missing {target}"


def test_every_public_reference_and_gradient_has_a_docstring():
    """``help(refimpl.huber)`` shows the formula, parameters and source (not only the module's)."""
    import inspect

    import refimpl
    import refimpl.grad

    bare = [f"{m.__name__}.{n}" for m in (refimpl, refimpl.grad) for n in m.__all__
            if inspect.isfunction(getattr(m, n)) and len(inspect.getdoc(getattr(m, n)) or "") < 200]
    assert not bare, f"public functions without a docstring of their own: {bare}"
