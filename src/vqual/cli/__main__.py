"""``python -m vqual.cli``: the `vqual` command."""

import sys

from vqual.cli import main

sys.exit(main())
