"""``python -m foleyzoo``: the same command line as the ``foleyzoo`` console script."""

import sys

from foleyzoo.cli.main import main

sys.exit(main())
