"""Model files written by an earlier fastmlp keep loading and predicting the same.

The files in tests/data/model_files were written by fastmlp 0.1.0 (file format
version 1) before the io package was split into a container and per-kind
codecs; `expected.npz` holds what each model predicted on a probe batch then.
"""

from pathlib import Path

import numpy as np
import pytest

import fastmlp

FILES = Path(__file__).parent / "data" / "model_files"
NAMES = sorted(p.stem for p in FILES.glob("*.fastmlp"))


@pytest.fixture(scope="module")
def expected():
    with np.load(FILES / "expected.npz", allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def test_fixtures_present():
    assert len(NAMES) == 6


@pytest.mark.parametrize("name", NAMES)
def test_old_file_loads_and_predicts_the_same(name, expected):
    model = fastmlp.load(FILES / f"{name}.fastmlp")
    probe = expected["probe"]
    if isinstance(model, fastmlp.MLP):
        if model.dtype == np.float64:
            # float64 products moved from a portable loop to FMA kernels after
            # these files were written: the same to the last bit or two.
            np.testing.assert_allclose(model.predict_proba(probe), expected[name], rtol=1e-14,
                                       atol=1e-15)
        else:
            np.testing.assert_array_equal(model.predict_proba(probe), expected[name])
        return
    np.testing.assert_array_equal(model.predict(probe), expected[name])
    if name + "__proba" in expected:
        np.testing.assert_array_equal(model.predict_proba(probe), expected[name + "__proba"])
