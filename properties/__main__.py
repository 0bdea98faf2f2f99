"""``python -m properties`` = the ``lossproof`` command (``properties.cli``)."""

import sys

from .cli import main

sys.exit(main())
