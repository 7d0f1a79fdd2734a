"""The capability suite: test modules collected by `pytest --model X` (or
`pytest --pyargs capability_tests.suite` from any directory)."""
