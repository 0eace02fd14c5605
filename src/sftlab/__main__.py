"""``python -m sftlab``: the command line, as the ``sftlab`` command."""

import sys

from sftlab.cli import main

sys.exit(main())
