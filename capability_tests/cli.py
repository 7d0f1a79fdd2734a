"""The `capability-tests` console command.

Subcommands: `run` (the capability suite from any directory; every further argument goes to
pytest), `grade` (grade completions made by other tools), `compare` (overlay run folders),
`regrade-diff` (what the current grader changes in a recorded run), `perplexity` (recorded
runs' completions scored under another model), `selftest` (the graders' known-answer cases on
this machine) and `merge` (shard runs into one run).
Each feature registers its own
subcommand through an `add_parser(subparsers)` function.
"""

from __future__ import annotations

import argparse
import sys

# `capability-tests run ARGS` is this pytest command line: the plugin is no entry point, so it is
# named here (docs/ARCHITECTURE.md, "Loading the plugin").
RUN_ARGS = ["-p", "capability_tests.plugin", "--pyargs", "capability_tests.suite"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        # Everything after `run` is pytest's: no argparse in between to misread `-k` or `--k`.
        import pytest

        return int(pytest.main(RUN_ARGS + argv[1:]))
    parser = argparse.ArgumentParser(prog="capability-tests", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run",
        help="run the capability suite from any directory "
        "(= pytest -p capability_tests.plugin --pyargs capability_tests.suite ARGS...)",
    )
    from capability_tests.grading import command as grade_command
    from capability_tests.reporting import command as report_command

    grade_command.add_parser(sub)
    report_command.add_parser(sub)
    from capability_tests.reporting import regrade_diff

    regrade_diff.add_parser(sub)
    from capability_tests.perplexity import command as perplexity_command

    perplexity_command.add_parser(sub)
    from capability_tests.selftest import command as selftest_command

    selftest_command.add_parser(sub)
    from capability_tests.merge import command as merge_command

    merge_command.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "compare":
        return int(report_command.run(args))
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
