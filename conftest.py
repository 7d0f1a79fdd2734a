"""Repository root: `pytest --model X` here runs the capability suite (see pyproject's testpaths).

The plugin is no `pytest11` entry point (an installed package must not act in other projects'
pytest sessions), so this file loads it for sessions started here; it acts only when the session
runs the suite (`capability_tests.plugin.suite_requested`). From elsewhere:
`pytest -p capability_tests.plugin --pyargs capability_tests.suite` or `capability-tests run`.
"""

pytest_plugins = ["capability_tests.plugin"]

collect_ignore = ["reports", "perf", "docs"]
