"""``python -m nasrepro.bench.cli``: the same as the ``nasrepro`` command."""

import sys

from nasrepro.bench.cli import main

sys.exit(main())
