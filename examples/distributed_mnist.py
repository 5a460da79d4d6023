"""Data-parallel training: one script for one process or many.

    python examples/distributed_mnist.py                # one process, every row
    mpiexec -n 2 python examples/distributed_mnist.py   # two ranks, half the rows each

Each rank loads only its own rows and passes the communicator to fit; the
ranks sum their gradients at every step, so they all end with the same
weights. Only rank 0 prints the results and writes the model file.
"""

import hashlib
import warnings

import numpy as np
from mpi4py import MPI
from sklearn.exceptions import ConvergenceWarning

import fastmlp

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

X_train, y_train, X_test, y_test = fastmlp.datasets.load_mnist()
mine = np.array_split(np.arange(len(X_train)), size)[rank]   # this rank's contiguous rows

# batch_size is per rank: 64 // size keeps a global batch of 64 rows per step.
clf = fastmlp.MLPClassifier(hidden_layer_sizes=(128,), batch_size=max(1, 64 // size),
                            learning_rate_init=0.002, max_iter=4, normalize="minmax",
                            random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # 4 epochs is deliberately short
    clf.fit(X_train[mine], y_train[mine], comm=comm)

weights = hashlib.sha256(b"".join(w.tobytes() for w in clf.coefs_)).hexdigest()[:16]
print(f"rank {rank} of {size}: trained on {len(mine)} rows, weights {weights}")
accuracy = clf.score(X_test, y_test)
fastmlp.save(clf, "digits-distributed.fastmlp")   # rank 0 writes; the others do nothing
if rank == 0:
    print(f"test accuracy after {clf.n_iter_} epochs on {size} rank(s): {accuracy:.4f}")
    assert accuracy > 0.85
