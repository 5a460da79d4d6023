"""Weight initialization scaled by fan-in (LeCun, He) or fan-in + fan-out (Glorot)."""

import numpy as np

# Rows drawn per block: a 200,000-input layer's float64 draws never exist
# whole next to the float32 weights they fill (a generator's stream is the
# same drawn in blocks or at once, so the weights do not depend on it).
_BLOCK_ELEMENTS = 1 << 20


def _lecun(rng, fan_in, fan_out, shape):
    return rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)


def _he(rng, fan_in, fan_out, shape):
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


def _glorot(rng, fan_in, fan_out, shape):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


INITIALIZERS = {"lecun": _lecun, "he": _he, "glorot": _glorot}


def initial_weights(rng, fan_in, fan_out, scheme, out=None):
    """A fan_in x fan_out weight matrix drawn from the seeded generator: a new
    float64 array, or written into `out` (any float dtype) block by block."""
    try:
        draw = INITIALIZERS[scheme]
    except KeyError:
        raise ValueError(
            f"unknown init {scheme!r}: expected one of {', '.join(INITIALIZERS)}"
        ) from None
    if out is None:
        return draw(rng, fan_in, fan_out, (fan_in, fan_out))
    rows = max(1, _BLOCK_ELEMENTS // max(fan_out, 1))
    for start in range(0, fan_in, rows):
        block = out[start:start + rows]
        block[...] = draw(rng, fan_in, fan_out, block.shape)
    return out
