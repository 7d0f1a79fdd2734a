"""One test per code problem: it passes when at least --min-correct of its k programs pass the
problem's tests in the sandbox (see docs/CODE.md and docs/SANDBOX.md)."""

import pytest


@pytest.mark.capability(family="code")
def test_code(capability_problem, capability_samples, capability_check):
    capability_check(capability_problem, capability_samples)
