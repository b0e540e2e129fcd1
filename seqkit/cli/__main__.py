"""``python -m seqkit.cli``: the ``seqkit`` command."""

import sys

from ._main import main

if __name__ == "__main__":
    sys.exit(main())
