"""``python -m vqual``: the `vqual` command."""

import sys

from vqual.cli import main

sys.exit(main())
