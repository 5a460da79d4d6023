"""Model files: ``save(model, path)`` and ``load(path)``, without pickle.

Two layers (docs/file-format.md describes the format):

    container.py        the file's framing: preamble, checksums, JSON header,
                        aligned arrays, size limits, the atomic write
    records.py          the header's tree of records, one per saved object
    kinds.py            the fixed table kind name -> codec
    mlp_codec.py        the MLP record
    estimator_codec.py  the estimator records ...
    saved_attributes.py ... which hold exactly the attributes listed there
    values.py           the tagged JSON for values JSON cannot say itself

Every inconsistency in a file is a ``ModelFileError`` (a ValueError) that
says what was expected and what came.
"""

from __future__ import annotations

import os
from typing import Any

from . import container, kinds, records
from .container import ARRAY_ALIGNMENT, FORMAT_VERSION, MAGIC, MAX_HEADER_BYTES, PREAMBLE, assemble
from .errors import ModelFileError

__all__ = [
    # the container's constants and framing, for tools that inspect files
    "ARRAY_ALIGNMENT",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_HEADER_BYTES",
    "PREAMBLE",
    "ModelFileError",
    "assemble",
    "dumps",
    "load",
    "loads",
    "save",
]


def save(model: Any, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically: a crash leaves the old file or the new one.

    After a distributed fit (``comm=``), only rank 0 writes: on every other
    rank, whose replica is the same, ``save`` does nothing, so one script
    runs on every rank. A rank that reads the file back waits for rank 0
    first (``comm.Barrier()``).
    """
    if _fitted_on_rank(model) != 0:
        return
    container.write_atomically(path, dumps(model))


def _fitted_on_rank(model: Any) -> int:
    """The rank of the model's last distributed fit (0 for a one-process fit)."""
    inner = model.__dict__.get("_model", model) if hasattr(model, "__dict__") else model
    return int(getattr(inner, "_fit_rank", 0))


def load(path: str | os.PathLike[str]) -> Any:
    """Read a model written by ``save``; a bad file raises ModelFileError naming the path."""
    try:
        return loads(container.read_file(path))
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None


def dumps(model: Any) -> bytes:
    """The file's bytes for ``model`` (what ``save`` writes)."""
    content, arrays = records.encode(model, kinds.codec_of)
    return container.pack(content, arrays)


def loads(data: bytes) -> Any:
    """A model from the bytes ``dumps`` made, with the same checks as ``load``."""
    header, arrays = container.unpack(bytes(data))
    return records.decode(header, arrays, kinds.CODECS)
