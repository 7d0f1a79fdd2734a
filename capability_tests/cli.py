"""The `capability-tests` console command (subcommands are added by later features)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capability-tests", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the capability suite from any directory (pytest --pyargs capability_tests.suite)",
    )
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="arguments passed to pytest")
    from capability_tests.reporting import command as report_command

    report_command.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "compare":
        return report_command.run(args)
    if args.command == "run":
        import pytest

        return int(pytest.main(["--pyargs", "capability_tests.suite", *args.pytest_args]))
    return 2


if __name__ == "__main__":
    sys.exit(main())
