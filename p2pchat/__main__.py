"""`python -m p2pchat` runs the command line."""

import sys

from p2pchat.core.timeline import mark

mark("process-started")  # before the command line's imports: they are part of the race

from p2pchat.cli.main import main  # noqa: E402

sys.exit(main())
