"""Run scikit-learn's own estimator tests against fastmlp's estimators.

The installed scikit-learn's `neural_network/tests/test_mlp.py` and
`linear_model/tests/test_perceptron.py` are copied into a temporary folder
with their estimator import swapped for fastmlp's, and pytest runs them there
with a configuration of their own (this project's pytest settings, such as
turning every warning into an error, are not scikit-learn's and do not apply).

    python tools/run_sklearn_tests.py [extra pytest arguments]

The exit status is pytest's. Deselected are the tests that read
scikit-learn's private attributes (they test scikit-learn's implementation,
not the estimator's behaviour) and, in BLOCKED, the tests that need work
fastmlp has not done yet; remove a line from BLOCKED when its work lands.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Each copied file: its place in scikit-learn, the import line it must hold
# (exactly once) and what replaces it.
TEST_FILES = {
    "test_mlp.py": (
        ("neural_network", "tests", "test_mlp.py"),
        "from sklearn.neural_network import MLPClassifier, MLPRegressor\n",
        "from fastmlp.estimators import MLPClassifier, MLPRegressor\n",
    ),
    "test_perceptron.py": (
        ("linear_model", "tests", "test_perceptron.py"),
        "from sklearn.linear_model import Perceptron\n",
        "from fastmlp.estimators import Perceptron\n",
    ),
}

# Tests of scikit-learn's private methods and attributes (_loss_grad_lbfgs,
# _optimizer and its learning rate): implementation details fastmlp does not
# have. test_n_iter_no_change and test_n_iter_no_change_inf read the private
# _no_improvement_count too, but fastmlp keeps that counter under the same
# name and meaning, so they run.
PRIVATE_ATTRIBUTES = {
    "test_mlp.py::test_gradient": "calls the private _loss_grad_lbfgs",
    "test_mlp.py::test_learning_rate_warmstart": "reads the private _optimizer.learning_rate",
    "test_mlp.py::test_adaptive_learning_rate": "reads the private _optimizer.learning_rate",
}

# Tests that need work fastmlp has not done yet, with the work each needs.
# Delete an entry when that work lands; the test then runs and must pass.
BLOCKED: dict[str, str] = {}

PYTEST_INI = """\
[pytest]
# scikit-learn's tests, run under their own settings, not fastmlp's.
addopts = -p no:cacheprovider
"""

# scikit-learn's own conftest parametrizes this fixture; its default seed is 42.
CONFTEST = """\
import pytest


@pytest.fixture
def global_random_seed():
    return 42
"""


def sklearn_dir():
    import sklearn

    return Path(sklearn.__file__).resolve().parent


def swapped_source(path, expected, replacement):
    """The file's text with its one import line swapped; loud when it is not there once."""
    text = path.read_text(encoding="utf-8")
    count = text.count(expected)
    if count != 1:
        raise SystemExit(f"{path}: expected the line {expected.strip()!r} exactly once, found it "
                         f"{count} times; this scikit-learn's tests changed, update "
                         "tools/run_sklearn_tests.py")
    return text.replace(expected, replacement)


def write_copies(folder):
    root = sklearn_dir()
    for name, (parts, expected, replacement) in TEST_FILES.items():
        source = root.joinpath(*parts)
        if not source.is_file():
            raise SystemExit(f"{source} is missing: scikit-learn is installed without its tests")
        (folder / name).write_text(swapped_source(source, expected, replacement),
                                   encoding="utf-8")
    (folder / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (folder / "conftest.py").write_text(CONFTEST, encoding="utf-8")


def deselected():
    return {**PRIVATE_ATTRIBUTES, **BLOCKED}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list-deselected", action="store_true",
                        help="print the deselected tests and why, then exit")
    parser.add_argument("--run-blocked", action="store_true",
                        help="run only the BLOCKED tests (they are expected to fail; one that "
                             "passes is done and leaves the list)")
    args, pytest_args = parser.parse_known_args(argv)
    if args.list_deselected:
        for test, why in deselected().items():
            print(f"{test}: {why}")
        return 0
    import sklearn

    with tempfile.TemporaryDirectory(prefix="fastmlp-sklearn-tests-") as tmp:
        folder = Path(tmp)
        write_copies(folder)
        command = [sys.executable, "-m", "pytest", "-c", str(folder / "pytest.ini"),
                   "--rootdir", str(folder), "-q"]
        if args.run_blocked and not BLOCKED:
            print("nothing is blocked", flush=True)
            return 0
        if args.run_blocked:
            command += ["-rfE", *pytest_args, *BLOCKED]
            print(f"scikit-learn {sklearn.__version__}: running the {len(BLOCKED)} blocked "
                  "tests, expected to fail", flush=True)
        else:
            for test in deselected():
                command += ["--deselect", test]
            command += [*pytest_args, *TEST_FILES]
            print(f"scikit-learn {sklearn.__version__}: running its tests against fastmlp "
                  f"({len(deselected())} deselected: --list-deselected says why)", flush=True)
        env = dict(os.environ)
        # The copies import scikit-learn's test helpers and fastmlp as installed.
        env.pop("PYTEST_ADDOPTS", None)
        return subprocess.call(command, cwd=folder, env=env)


if __name__ == "__main__":
    sys.exit(main())
