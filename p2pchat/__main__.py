"""`python -m p2pchat` runs the command line."""

import sys

from p2pchat.cli.main import main

sys.exit(main())
