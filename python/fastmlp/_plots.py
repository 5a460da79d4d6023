"""Training curves and a confusion matrix in one PNG (matplotlib is an optional extra)."""

import numpy as np

PLOT_HINT = "pip install 'fastmlp[plot]' (or pip install matplotlib)"


class MissingPlotLibrary(ImportError):
    """Plots were asked for but matplotlib is not installed."""


def require_matplotlib():
    """Import matplotlib for file output (no display needed), or say how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise MissingPlotLibrary(f"plots need matplotlib, which is not installed: {PLOT_HINT}") \
            from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def confusion_matrix(y_true, y_pred, n_classes):
    """counts[i, j] = rows of true class i predicted as class j."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return counts


def plot_training(path, history, confusion=None, title=None):
    """Loss and accuracy per epoch (training and validation), the confusion matrix,
    and per-layer gradient norms when history has them."""
    plt = require_matplotlib()
    panels = [_plot_loss, _plot_accuracy]
    if confusion is not None:
        panels.append(lambda ax, h: _plot_confusion(ax, confusion))
    if history.get("grad_norms"):
        panels.append(_plot_grad_norms)
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2))
    for ax, draw in zip(np.atleast_1d(axes), panels):
        draw(ax, history)
        if ax.get_xlabel() == "epoch":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_loss(ax, history):
    epochs = history["epoch"]
    ax.plot(epochs, history["loss"], "o-", label="training (mean over the epoch)")
    if "val_loss" in history:
        ax.plot(epochs, history["val_loss"], "s-", label="validation")
    ax.set(title="loss", xlabel="epoch")
    ax.legend()


def _plot_accuracy(ax, history):
    epochs = history["epoch"]
    drawn = False
    for key, label, marker in (("train_score", "training", "o-"), ("val_score", "validation", "s-")):
        if key in history:
            ax.plot(epochs, history[key], marker, label=label)
            drawn = True
    ax.set(title="accuracy", xlabel="epoch")
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no scores recorded", ha="center", transform=ax.transAxes)


def _plot_confusion(ax, counts):
    ax.imshow(counts, cmap="Blues")
    n = counts.shape[0]
    if n <= 20:
        limit = counts.max() / 2 if counts.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if counts[i, j] > limit else "black")
    ax.set(title="confusion matrix (test)", xlabel="predicted", ylabel="true")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))


def _plot_grad_norms(ax, history):
    norms = np.asarray(history["grad_norms"])
    for l in range(norms.shape[1]):
        ax.semilogy(history["epoch"], norms[:, l], "o-", label=f"layer {l + 1}")
    ax.set(title="||dW[l]|| after each epoch", xlabel="epoch")
    ax.legend()
