"""``python -m properties.audit``: the same as ``lossproof audit``."""

import sys

from .command import main

sys.exit(main())
