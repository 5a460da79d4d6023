"""scikit-learn's own MLP and Perceptron tests, run against fastmlp's estimators.

tools/run_sklearn_tests.py copies them from the installed scikit-learn with
the estimator imports swapped and runs them under their own pytest settings.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "run_sklearn_tests.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("run_sklearn_tests", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _scikit_learns_tests_installed():
    tool = load_tool()
    root = tool.sklearn_dir()
    missing = [name for name, (parts, _, _) in tool.TEST_FILES.items()
               if not root.joinpath(*parts).is_file()]
    if missing:
        pytest.skip(f"scikit-learn is installed without its tests ({', '.join(missing)})")


def test_scikit_learns_own_tests_pass_against_fastmlp():
    result = subprocess.run([sys.executable, str(TOOL)],
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    summary = re.search(r"(\d+) passed", output)
    assert summary is not None, output[-3000:]
    # 62 pass with scikit-learn 1.9.1; fewer means tests went missing.
    assert int(summary.group(1)) >= 57, output[-3000:]
    assert not re.search(r"\d+ (failed|errors?)\b", output), output[-3000:]
    deselected = re.search(r"(\d+) deselected", output)
    assert deselected is not None and int(deselected.group(1)) == len(load_tool().deselected())


def test_every_blocked_test_still_fails():
    # A blocked test that passes is done: delete it from BLOCKED so it runs.
    tool = load_tool()
    result = subprocess.run([sys.executable, str(TOOL), "--run-blocked"],
                            capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    failed = set(re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE))
    for test in tool.BLOCKED:
        assert any(f == test or f.startswith(test + "[") for f in failed), (
            f"{test} no longer fails: remove it from BLOCKED in tools/run_sklearn_tests.py\n"
            + output[-3000:])


def test_every_deselected_test_exists_in_scikit_learns_files():
    tool = load_tool()
    root = tool.sklearn_dir()
    sources = {name: root.joinpath(*parts).read_text(encoding="utf-8")
               for name, (parts, _, _) in tool.TEST_FILES.items()}
    for test in tool.deselected():
        file, name = test.split("::")
        function = name.split("[")[0]
        assert f"def {function}(" in sources[file], test
    # The blocked ones say what they wait for.
    assert all(len(why) > 20 for why in tool.BLOCKED.values())


def test_the_import_swap_fails_loudly_when_the_line_is_not_there(tmp_path):
    tool = load_tool()
    source = tmp_path / "test_x.py"
    source.write_text("from sklearn.neural_network import (MLPClassifier,\n    MLPRegressor)\n")
    with pytest.raises(SystemExit, match=r"expected the line .* exactly once, found it 0 times"):
        tool.swapped_source(source, "from sklearn.neural_network import MLPClassifier\n",
                            "from fastmlp.estimators import MLPClassifier\n")
    source.write_text("from a import B\nx = 1\n")
    assert tool.swapped_source(source, "from a import B\n", "from c import B\n") == \
        "from c import B\nx = 1\n"
