"""``python -m seqkit``: the ``seqkit`` command (also what ``torchrun -m seqkit train ...`` runs)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
