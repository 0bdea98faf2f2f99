"""The suite's test modules, a package so that they import their helpers (``matrix``, ``mutants``,
``invariant_mutants``) relatively: ``tests.matrix`` in a checkout, ``lossproof_tests.matrix`` once
installed -- never a user's own ``matrix.py`` on ``sys.path`` (``lossproof gate`` puts the current
directory first)."""
