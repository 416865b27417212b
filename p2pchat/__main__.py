"""`python -m p2pchat` runs the command line."""

import sys

from p2pchat.core.timeline import mark

mark("process-started")  # before the command line's imports: they are part of the race

from p2pchat.cli import quick_exit  # noqa: E402

# p2pchat is the process: no cyclic GC passes while the command line is imported and
# built (cli/quick_exit.py); main() turns the collector back on before the command runs.
quick_exit.enable()
quick_exit.pause_collector()

from p2pchat.cli.main import main  # noqa: E402

sys.exit(main())
