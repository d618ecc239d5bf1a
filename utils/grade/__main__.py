"""``python -m utils.grade``: see :mod:`utils.grade.cli`."""

import sys

from .cli import main

sys.exit(main())
