"""The `fastmlp` command line, run as a user would (python -m fastmlp ...)."""

import re
import subprocess
import sys

import numpy as np
import pytest

import fastmlp

QUICK = ["--threads", "1", "--progress", "never"]


def fastmlp_cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "fastmlp", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def _accuracy(out):
    return float(re.search(r"test accuracy: ([0-9.]+) on", out).group(1))


@pytest.fixture(scope="module")
def trained_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    model, plot = folder / "digits.fastmlp", folder / "curves.png"
    run = fastmlp_cli("train", "--data", "mnist", "--max-rows", 3000, "--hidden", "48",
                      "--epochs", 3, "--out", model, "--plot", plot, "--track-gradients", *QUICK)
    return run, model, plot


def test_train_on_the_mnist_sample_saves_a_model_and_plots(trained_mnist):
    run, model, plot = trained_mnist
    assert run.returncode == 0, run.stderr
    assert len(re.findall(r"^epoch +\d+ .*train .*val loss .*val ", run.stdout, flags=re.M)) == 3
    assert _accuracy(run.stdout) > 0.8
    assert "total parameters: 38,170" in run.stdout  # 784*48+48 + 48*10+10
    assert fastmlp.load(model).layer_sizes == [784, 48, 10]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_bar_goes_to_stderr_and_leaves_stdout_alone(tmp_path):
    run = fastmlp_cli("train", "--max-rows", 800, "--hidden", "16", "--epochs", 2,
                      "--out", tmp_path / "m.fastmlp", "--threads", 1, "--progress", "always")
    assert run.returncode == 0, run.stderr
    assert "epoch 1/2" in run.stderr and "batch/s" in run.stderr and "loss=" in run.stderr
    assert len(re.findall(r"^epoch +\d+ ", run.stdout, flags=re.M)) == 2


def test_summary_and_predict_use_the_saved_model(trained_mnist, tmp_path):
    _, model, _ = trained_mnist
    summary = fastmlp_cli("summary", model)
    assert summary.returncode == 0, summary.stderr
    assert "total parameters: 38,170" in summary.stdout and "minmax" in summary.stdout
    out = tmp_path / "predictions.csv"
    predict = fastmlp_cli("predict", model, "mnist", "--out", out)
    assert predict.returncode == 0, predict.stderr
    predictions = np.loadtxt(out, dtype=np.int64)
    assert predictions.shape == (2000,) and set(predictions) <= set(range(10))
    score = float(re.search(r"score: ([0-9.]+) on 2,000 rows", predict.stderr).group(1))
    y_test = fastmlp.datasets.load_mnist().y_test
    assert score == pytest.approx(np.mean(predictions == y_test), abs=1e-4)


def _write_csv(path, n=300, seed=0, with_label=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    header = "a,b,c,d" + (",species" if with_label else "")
    table = np.column_stack([X, y]) if with_label else X
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.6g")
    return X, y


def test_train_and_predict_on_a_csv_with_a_named_label_column(tmp_path):
    data = tmp_path / "table.csv"
    _write_csv(data)
    model = tmp_path / "table.fastmlp"
    run = fastmlp_cli("train", "--data", data, "--label", "species", "--hidden", "8",
                      "--epochs", 30, "--learning-rate", 0.01, "--normalize", "zscore",
                      "--out", model, *QUICK)
    assert run.returncode == 0, run.stderr
    assert "240 training" not in run.stdout  # 20% test, then 10% validation of the rest
    assert re.search(r"216 training, 24 validation, 60 test rows", run.stdout)
    assert _accuracy(run.stdout) > 0.8
    assert fastmlp.load(model).layer_sizes == [4, 8, 3]
    unlabeled = tmp_path / "new.csv"
    X_new, y_new = _write_csv(unlabeled, n=50, seed=1, with_label=False)
    predict = fastmlp_cli("predict", model, unlabeled)
    assert predict.returncode == 0, predict.stderr
    predicted = np.array(predict.stdout.split(), dtype=np.int64)
    assert predicted.shape == (50,) and np.mean(predicted == y_new) > 0.7


def test_train_on_an_npz_file_with_early_stopping(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    data = tmp_path / "data.npz"
    np.savez(data, X_train=X[:300], y_train=y[:300], X_test=X[300:], y_test=y[300:])
    run = fastmlp_cli("train", "--data", data, "--hidden", "none", "--epochs", 200,
                      "--learning-rate", 0.5, "--optimizer", "sgd", "--early-stopping", 2,
                      "--out", tmp_path / "m.fastmlp", *QUICK)
    assert run.returncode == 0, run.stderr
    assert "early stopping at epoch" in run.stdout
    epochs_run = len(re.findall(r"^epoch +\d+ ", run.stdout, flags=re.M))
    assert epochs_run < 200
    assert _accuracy(run.stdout) > 0.9


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "zero"], "--epochs: expected an integer, got 'zero'"),
    (["train", "--hidden", "64,-1"], "expected a positive integer, got '-1'"),
    (["train", "--normalize", "l2"], "invalid choice: 'l2'"),
    (["train", "--activation", "swish", "--max-rows", "50"], "swish"),
    (["train", "--data", "no/such/file.csv"], "neither mnist nor fashion-mnist"),
    (["train", "--data", "mnist", "--data-dir", "no/such/folder"], "does not exist"),
    (["predict", "no-such-model.fastmlp", "mnist"], "No such file"),
    (["summary", "README-not-a-model.txt"], ""),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_and_missing_files_give_one_line_and_exit_code_2(args, message, tmp_path):
    (tmp_path / "README-not-a-model.txt").write_text("not a model\n")
    run = fastmlp_cli(*args, *(QUICK if args[0] == "train" else []), cwd=tmp_path)
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(r"fastmlp( \w+)?: error: ", lines[0]), run.stderr
    assert message in lines[0]
    assert "Traceback" not in run.stderr


def test_a_csv_with_text_labels_is_refused_clearly(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("x,label\n1.0,cat\n2.0,dog\n")
    run = fastmlp_cli("train", "--data", data, *QUICK)
    assert run.returncode == 2
    assert "expected numbers in every cell" in run.stderr and len(run.stderr.splitlines()) == 1


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    hide_matplotlib = ("import sys; sys.modules['matplotlib'] = None; "
                       "from fastmlp.cli import main; sys.exit(main(sys.argv[1:]))")
    run = subprocess.run([sys.executable, "-c", hide_matplotlib, "train", "--plot",
                          str(tmp_path / "p.png"), *QUICK], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert "pip install 'fastmlp[plot]'" in run.stderr
    assert not (tmp_path / "p.png").exists() and "epoch" not in run.stdout  # failed before training


def test_quick_bench_prints_ratios():
    run = fastmlp_cli("bench", "--rows", 300, "--epochs", 1, timeout=180)
    assert run.returncode == 0, run.stderr
    fastmlp_line = re.search(r"^fastmlp +([0-9.]+) +1\.0x$", run.stdout, flags=re.M)
    assert fastmlp_line and float(fastmlp_line.group(1)) > 0
    assert re.search(r"^scikit-learn +([0-9.]+) +[0-9.]+x$", run.stdout, flags=re.M)
