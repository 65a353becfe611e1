"""`python -m dataplane` is the `dataplane` command."""

import sys

from dataplane.cli import main

sys.exit(main())
