"""``python -m wallboard.cli``: the same as the ``wallboard`` command."""

import sys

from wallboard.cli import main

sys.exit(main())
