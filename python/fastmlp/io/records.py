"""The header's content: a tree of records, one per saved object.

A record is {"kind", "config", "attributes", "arrays", "model"?}: the kind
names a codec in the fixed table of kinds.py (never a module or a callable),
`arrays` maps the record's own array names to names in the container's array
table, and an estimator's record nests the record of its MLP under "model"
(whose arrays are named "model.params" and so on). This module walks that
tree; the codecs turn one record into one object and back.
"""

from dataclasses import dataclass, field

from .errors import ModelFileError
from .json_fields import get_field


@dataclass
class Record:
    """One object's part of a file, as its codec writes and reads it.

    config:     JSON constructor arguments.
    attributes: JSON learned state.
    arrays:     named numpy arrays (float32, float64 or int64; on reading,
                read-only views into the file's bytes: copy to keep).
    model:      the nested object (an estimator's MLP), or None.
    """

    config: dict
    attributes: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)
    model: object = None


def encode(obj, codec_of):
    """(header content, {array name: array}) for a saveable object."""
    record, arrays = _encode(obj, codec_of, prefix="")
    return {"root": record}, arrays


def _encode(obj, codec_of, prefix):
    kind, codec = codec_of(obj)
    state = codec.encode(obj)
    arrays, names = {}, {}
    for name, array in state.arrays.items():
        arrays[prefix + name] = array
        names[name] = prefix + name
    record = {"kind": kind, "config": state.config, "attributes": state.attributes,
              "arrays": names}
    if state.model is not None:
        record["model"], nested = _encode(state.model, codec_of, prefix=f"{prefix}model.")
        arrays.update(nested)
    return record, arrays


def decode(header, arrays, codecs):
    """The object a checked header and its arrays describe; every array must be used once."""
    root = get_field(header, "root", dict, "header")
    used = set()
    try:
        obj = _decode(root, arrays, codecs, used, "root")
    except RecursionError:
        raise ModelFileError("header nests records or values too deeply") from None
    unused = sorted(set(arrays) - used)
    if unused:
        raise ModelFileError(f"arrays {unused} are listed in the header but belong to no model")
    return obj


def _decode(record, arrays, codecs, used, where):
    kind = get_field(record, "kind", str, where)
    if kind not in codecs:
        raise ModelFileError(
            f"{where}: unknown model kind {kind!r:.60}: expected one of "
            f"{', '.join(sorted(codecs))}")
    config = get_field(record, "config", dict, where)
    attributes = get_field(record, "attributes", dict, where)
    names = get_field(record, "arrays", dict, where)
    own = {}
    for short, full in names.items():
        if not isinstance(full, str) or full not in arrays:
            raise ModelFileError(
                f"{where}: array {short!r:.60} refers to {full!r:.60}, which the header does "
                "not list")
        if full in used:
            raise ModelFileError(f"{where}: array {full!r:.60} is used twice")
        used.add(full)
        own[short] = arrays[full]
    model = None
    if "model" in record:
        model = _decode(get_field(record, "model", dict, where), arrays, codecs, used,
                        f"{where}.model")
    state = Record(config=config, attributes=attributes, arrays=own, model=model)
    try:
        return codecs[kind].decode(state)
    except ModelFileError as error:
        raise ModelFileError(f"{where}: {error}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise ModelFileError(f"{where}: cannot restore a {kind}: {error}") from None
    except RecursionError:
        raise ModelFileError(f"{where}: values nest too deeply") from None
