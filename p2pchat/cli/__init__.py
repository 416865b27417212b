"""The `p2pchat` command line: argparse entry point and subcommands."""
