"""Exceptions fastmlp raises beyond Python's own."""

from ._core import ModelBusyError


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite.

    The model keeps its weights from the start of the epoch that diverged (the
    last state known to be sound) and can still predict or train on.
    A ValueError, as scikit-learn raises in the same situation.
    """


class DistributedError(RuntimeError):
    """A distributed fit stopped because of another rank (its failure, bad
    input or interruption); the message names the rank and what it met."""


# The class is the native core's (it raises it when a network's training lock
# is taken), so native and Python refusals are one exception type.
ModelBusyError.__doc__ = """Another thread is training this model right now."""

__all__ = ["DistributedError", "ModelBusyError", "TrainingDivergedError"]
