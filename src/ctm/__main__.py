"""`python -m ctm` is the `ctm` command."""

import sys

from .cli import main

sys.exit(main())
