"""One test per math problem: it passes when at least --min-correct of its k samples are right."""

import pytest


@pytest.mark.capability(family="math")
def test_math(capability_problem, capability_samples, capability_check):
    capability_check(capability_problem, capability_samples)
