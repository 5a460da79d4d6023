"""An MLP on MNIST digits: progress, callbacks, history, save and load.

Trains 784-128-10 on the sample of MNIST shipped with fastmlp; pass a folder
holding the four MNIST IDX files to train on the full set:
    python examples/mnist_mlp.py [MNIST_FOLDER] [--epochs N]
"""

import argparse
import tempfile
from pathlib import Path
from typing import Any

import fastmlp

parser = argparse.ArgumentParser()
parser.add_argument("folder", nargs="?")
parser.add_argument("--epochs", type=int, default=5)
args = parser.parse_args()

X_train, y_train, X_test, y_test = fastmlp.datasets.load_mnist(args.folder)
model = fastmlp.MLP([784, 128, 10], activation="relu", output="softmax",
                    normalize="minmax", seed=0)
model.summary()


def report_best(model: fastmlp.MLP, metrics: dict[str, Any]) -> bool:
    """A callback: runs after every epoch; returning True would stop training."""
    if metrics["val_score"] == max(model.history["val_score"]):
        print(f"  new best validation accuracy {metrics['val_score']:.4f}")
    return False


model.fit(X_train, y_train, epochs=args.epochs, batch_size=64, optimizer="adam",
          learning_rate=0.001, validation_data=(X_test, y_test), train_metrics=True,
          verbose=True, callbacks=[report_best, fastmlp.EarlyStopping("val_loss", patience=3)])
print("history keys:", sorted(model.history))

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "digits.fastmlp"
    fastmlp.save(model, path)
    restored = fastmlp.load(path)
    accuracy = restored.score(X_test, y_test)
    print(f"saved {path.stat().st_size:,} bytes; the loaded model's test accuracy: {accuracy:.4f}")
assert accuracy > 0.9
