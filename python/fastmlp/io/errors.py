"""The one exception a bad model file raises."""


class ModelFileError(ValueError):
    """A model file is truncated, corrupt, tampered with or from a newer fastmlp."""
