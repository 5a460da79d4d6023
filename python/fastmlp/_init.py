"""Weight initialization scaled by fan-in (LeCun, He) or fan-in + fan-out (Glorot)."""

import numpy as np


def _lecun(rng, fan_in, fan_out):
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(1.0 / fan_in)


def _he(rng, fan_in, fan_out):
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


def _glorot(rng, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


INITIALIZERS = {"lecun": _lecun, "he": _he, "glorot": _glorot}


def initial_weights(rng, fan_in, fan_out, scheme):
    """A fan_in x fan_out weight matrix drawn from the seeded generator (float64)."""
    try:
        draw = INITIALIZERS[scheme]
    except KeyError:
        raise ValueError(
            f"unknown init {scheme!r}: expected one of {', '.join(INITIALIZERS)}"
        ) from None
    return draw(rng, fan_in, fan_out)
