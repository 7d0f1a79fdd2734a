"""Repository root: `pytest --model X` here runs the capability suite (see pyproject's testpaths).

The plugin itself comes through the `pytest11` entry point of the installed package; this file
only keeps the project's own data folders out of collection.
"""

collect_ignore = ["fixtures", "reports", "benchmarks", "docs"]
