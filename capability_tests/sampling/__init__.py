"""The sampling path, one owner per piece: run identity (`identity.py`: store key and provenance),
the sampling plan (`plan.py`: store rows -> kept, regraded, missing; pure), the engine session
(`session.py`: start, capability checks, close), the sample sink (`sink.py`: flushes, grading,
store writes, failure isolation), stop signals (`signals.py`), and the coordinator
(`coordinator.py`) that runs them and leaves an immutable `SamplingOutcome` (`outcome.py`)."""

from capability_tests.sampling.coordinator import BatchStats, SamplingCoordinator
from capability_tests.sampling.outcome import ProblemOutcome, SamplingOutcome
from capability_tests.sampling.signals import EXIT_STOPPED, StopRequested

__all__ = ["BatchStats", "EXIT_STOPPED", "ProblemOutcome", "SamplingCoordinator",
           "SamplingOutcome", "StopRequested"]
