"""Exception hierarchy: every error a user can see is a TunerError."""

from __future__ import annotations


class TunerError(Exception):
    """Base class of every error tuner reports to a user."""


class GridError(TunerError):
    """A grid file is invalid. Holds every problem found, one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DataError(TunerError):
    """A dataset cannot be read or does not have the declared fields."""


class GroundTruthError(TunerError):
    """A ground-truth clustering file is invalid or does not match the corpus."""


class CacheError(TunerError):
    """A cache entry cannot be written, read or trusted."""


class TrainerError(TunerError):
    """A trainer cannot run: missing library, unusable input, or a failed fit."""


class MetricError(TunerError):
    """A metric cannot be computed for this output and reference."""


class EmbeddingModelError(TunerError):
    """An embedding model cannot be loaded (for example an unknown id on an offline machine)."""


class SweepInterrupted(Exception):
    """SIGINT or SIGTERM stopped a sweep; `exit_code` is 128 + the signal number (130, 143)."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum
