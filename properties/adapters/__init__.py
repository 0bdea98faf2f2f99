"""Third-party implementations as subjects (MONAI, kornia, torchvision, pytorch-metric-learning).

Not written yet (issue 5, second part): each adapter will translate one library's conventions
to the loss's contract and state the input domain where the comparison holds.  Until then the
default registry holds the torch built-ins only.
"""

from __future__ import annotations


def thirdparty_subjects(spec) -> list:
    """The adapters of ``spec``'s loss whose library imports (none yet)."""
    return []
