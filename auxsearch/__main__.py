"""`python -m auxsearch`: the command line."""

import sys

from auxsearch.cli import main

sys.exit(main())
