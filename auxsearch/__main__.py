"""`python -m auxsearch`: the command line."""

import sys

from auxsearch.cli.main import main

sys.exit(main())
