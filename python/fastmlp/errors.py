"""Exceptions fastmlp raises beyond Python's own."""


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite.

    The model keeps its weights from the start of the epoch that diverged (the
    last state known to be sound) and can still predict or train on.
    A ValueError, as scikit-learn raises in the same situation.
    """


class ModelBusyError(RuntimeError):
    """Another thread is training this model right now."""
