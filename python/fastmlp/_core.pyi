"""
fastmlp native core
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ModelBusyError', 'NetworkF32', 'NetworkF64', 'active_isa', 'all_finite', 'best_isa', 'bf16_unavailable', 'fma_peak', 'gemm', 'gemm_bf16', 'get_num_threads', 'has_openmp', 'plain_rows', 'read_bandwidth', 'set_isa', 'set_num_threads', 'sparse_products', 'supported_isas']
class ModelBusyError(RuntimeError):
    """
    Another thread is training this model right now.
    """
class NetworkF32:
    def __init__(self, sizes: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], activations: collections.abc.Sequence[str], loss: str, slope: typing.SupportsFloat | typing.SupportsIndex = 0.01) -> None:
        ...
    def b_offset(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def forward_all(self, arg0: numpy.ndarray) -> tuple[list, list]:
        ...
    def gradients(self, X: typing.Any, Y: numpy.ndarray, sample_weight: numpy.ndarray | None = None, l2: typing.SupportsFloat | typing.SupportsIndex = 0.0, *, divisor: typing.SupportsInt | typing.SupportsIndex = 0, mask_step: typing.SupportsInt | typing.SupportsIndex = -1) -> float:
        """
        The loss and its gradient (in grads); divisor > 0 divides by it instead of the row count; mask_step >= 0 applies the dropout masks of that training step.
        """
    def logits(self, arg0: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def loss(self, X: typing.Any, Y: numpy.ndarray, sample_weight: numpy.ndarray | None = None, l2: typing.SupportsFloat | typing.SupportsIndex = 0.0, *, divisor: typing.SupportsInt | typing.SupportsIndex = 0) -> float:
        """
        The mean loss; divisor > 0 divides the sum by it instead of the row count.
        """
    def optimizer_state(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def predict(self, arg0: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def predict_plain(self, X: typing.Any) -> typing.Any:
        """
        The output layer's activation for X, or None: X must be exactly a C-contiguous ndarray of this network's dtype that _core.plain_rows accepts, and the output finite.
        """
    def reset_optimizer(self) -> None:
        ...
    def set_dropout(self, rates: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], seed: typing.SupportsInt | typing.SupportsIndex) -> None:
        """
        Inverted dropout while training: one rate per layer in [0, 1), 0 for the output layer; the masks are drawn from `seed`, the step and the unit's place in the batch.
        """
    def train_epoch(self, X: typing.Any, Y: numpy.ndarray, sample_weight: numpy.ndarray | None, order: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], batch_size: typing.SupportsInt | typing.SupportsIndex, optimizer: str = 'sgd', learning_rate: typing.SupportsFloat | typing.SupportsIndex = 0.01, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta_1: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta_2: typing.SupportsFloat | typing.SupportsIndex = 0.999, epsilon: typing.SupportsFloat | typing.SupportsIndex = 1e-08, l2: typing.SupportsFloat | typing.SupportsIndex = 0.0, *, freeze_bias: bool = False, reduce: typing.Any = None, global_rows: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None = None, adds_penalty: bool = True, dropout_salt: typing.SupportsInt | typing.SupportsIndex = 0, keep_start: bool = True) -> dict:
        """
        One epoch over `order` in batches of `batch_size`. With freeze_bias=True no update changes a bias (or its optimizer state); the weights update as without it. With reduce (a callable that sums a buffer over every process in place and returns True to ask every process to stop at the next step), the epoch runs len(global_rows) steps of global_rows[s] rows over all processes, calling reduce between backward and update; adds_penalty=False leaves the L2 term to another process; dropout_salt is mixed into the dropout masks (each rank its own). A non-finite loss restores the epoch's starting weights and optimizer state; keep_start=False skips keeping them (three buffers of the parameters' size) and leaves the weights of the last finite step.
        """
    def w_offset(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    @property
    def activations(self) -> list[str]:
        ...
    @property
    def bf16_products(self) -> bool:
        """
        Training's batch GEMMs (forward, dW, dA) with bfloat16 inputs and float32 sums (vdpbf16ps); weights, optimizer, one-row steps and prediction stay float32. ValueError where the CPU or the build has no such kernels, or for float64.
        """
    @bf16_products.setter
    def bf16_products(self, arg1: bool) -> None:
        ...
    @property
    def dropout_rates(self) -> list[float]:
        ...
    @property
    def dropout_seed(self) -> int:
        ...
    @property
    def grads(self) -> numpy.typing.NDArray[numpy.float32]:
        ...
    @property
    def intercept_decay(self) -> float:
        """
        scikit-learn's SGD intercept_decay: each bias gradient times this before every update of the batch loop (0.01 on sparse rows in scikit-learn); 1: off.
        """
    @intercept_decay.setter
    def intercept_decay(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def l1(self) -> float:
        """
        scikit-learn's L1 step (cumulative-penalty truncation) after every update of the batch loop, u growing by learning_rate * l1; 0: off. Reset by reset_optimizer.
        """
    @l1.setter
    def l1(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def loss_name(self) -> str:
        ...
    @property
    def num_params(self) -> int:
        ...
    @property
    def params(self) -> numpy.typing.NDArray[numpy.float32]:
        ...
    @property
    def sizes(self) -> list[int]:
        ...
    @property
    def slope(self) -> float:
        ...
    @property
    def step_count(self) -> int:
        ...
    @step_count.setter
    def step_count(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
class NetworkF64:
    def __init__(self, sizes: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], activations: collections.abc.Sequence[str], loss: str, slope: typing.SupportsFloat | typing.SupportsIndex = 0.01) -> None:
        ...
    def b_offset(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def forward_all(self, arg0: numpy.ndarray) -> tuple[list, list]:
        ...
    def gradients(self, X: typing.Any, Y: numpy.ndarray, sample_weight: numpy.ndarray | None = None, l2: typing.SupportsFloat | typing.SupportsIndex = 0.0, *, divisor: typing.SupportsInt | typing.SupportsIndex = 0, mask_step: typing.SupportsInt | typing.SupportsIndex = -1) -> float:
        """
        The loss and its gradient (in grads); divisor > 0 divides by it instead of the row count; mask_step >= 0 applies the dropout masks of that training step.
        """
    def logits(self, arg0: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def loss(self, X: typing.Any, Y: numpy.ndarray, sample_weight: numpy.ndarray | None = None, l2: typing.SupportsFloat | typing.SupportsIndex = 0.0, *, divisor: typing.SupportsInt | typing.SupportsIndex = 0) -> float:
        """
        The mean loss; divisor > 0 divides the sum by it instead of the row count.
        """
    def optimizer_state(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict(self, arg0: typing.Any) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def predict_plain(self, X: typing.Any) -> typing.Any:
        """
        The output layer's activation for X, or None: X must be exactly a C-contiguous ndarray of this network's dtype that _core.plain_rows accepts, and the output finite.
        """
    def reset_optimizer(self) -> None:
        ...
    def set_dropout(self, rates: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], seed: typing.SupportsInt | typing.SupportsIndex) -> None:
        """
        Inverted dropout while training: one rate per layer in [0, 1), 0 for the output layer; the masks are drawn from `seed`, the step and the unit's place in the batch.
        """
    def train_epoch(self, X: typing.Any, Y: numpy.ndarray, sample_weight: numpy.ndarray | None, order: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], batch_size: typing.SupportsInt | typing.SupportsIndex, optimizer: str = 'sgd', learning_rate: typing.SupportsFloat | typing.SupportsIndex = 0.01, momentum: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta_1: typing.SupportsFloat | typing.SupportsIndex = 0.9, beta_2: typing.SupportsFloat | typing.SupportsIndex = 0.999, epsilon: typing.SupportsFloat | typing.SupportsIndex = 1e-08, l2: typing.SupportsFloat | typing.SupportsIndex = 0.0, *, freeze_bias: bool = False, reduce: typing.Any = None, global_rows: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None = None, adds_penalty: bool = True, dropout_salt: typing.SupportsInt | typing.SupportsIndex = 0, keep_start: bool = True) -> dict:
        """
        One epoch over `order` in batches of `batch_size`. With freeze_bias=True no update changes a bias (or its optimizer state); the weights update as without it. With reduce (a callable that sums a buffer over every process in place and returns True to ask every process to stop at the next step), the epoch runs len(global_rows) steps of global_rows[s] rows over all processes, calling reduce between backward and update; adds_penalty=False leaves the L2 term to another process; dropout_salt is mixed into the dropout masks (each rank its own). A non-finite loss restores the epoch's starting weights and optimizer state; keep_start=False skips keeping them (three buffers of the parameters' size) and leaves the weights of the last finite step.
        """
    def w_offset(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    @property
    def activations(self) -> list[str]:
        ...
    @property
    def bf16_products(self) -> bool:
        """
        Training's batch GEMMs (forward, dW, dA) with bfloat16 inputs and float32 sums (vdpbf16ps); weights, optimizer, one-row steps and prediction stay float32. ValueError where the CPU or the build has no such kernels, or for float64.
        """
    @bf16_products.setter
    def bf16_products(self, arg1: bool) -> None:
        ...
    @property
    def dropout_rates(self) -> list[float]:
        ...
    @property
    def dropout_seed(self) -> int:
        ...
    @property
    def grads(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def intercept_decay(self) -> float:
        """
        scikit-learn's SGD intercept_decay: each bias gradient times this before every update of the batch loop (0.01 on sparse rows in scikit-learn); 1: off.
        """
    @intercept_decay.setter
    def intercept_decay(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def l1(self) -> float:
        """
        scikit-learn's L1 step (cumulative-penalty truncation) after every update of the batch loop, u growing by learning_rate * l1; 0: off. Reset by reset_optimizer.
        """
    @l1.setter
    def l1(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def loss_name(self) -> str:
        ...
    @property
    def num_params(self) -> int:
        ...
    @property
    def params(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def sizes(self) -> list[int]:
        ...
    @property
    def slope(self) -> float:
        ...
    @property
    def step_count(self) -> int:
        ...
    @step_count.setter
    def step_count(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
def _thread_round_trip_ns(round_trips: typing.SupportsInt | typing.SupportsIndex = 20000) -> float:
    """
    Benchmark aid: ns for a cache line to bounce between two threads and back.
    """
def active_isa() -> str:
    ...
@typing.overload
def all_finite(values: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> bool:
    """
    Whether a float32 or float64 array has no NaN or infinity.
    """
@typing.overload
def all_finite(values: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> bool:
    ...
def best_isa() -> str:
    ...
def bf16_unavailable() -> str | None:
    """
    Why the active instruction set cannot run bfloat16 products (precision='bfloat16'), or None when it can.
    """
def fma_peak(isa: str = '', threads: typing.SupportsInt | typing.SupportsIndex = 1, seconds: typing.SupportsFloat | typing.SupportsIndex = 0.3) -> float:
    """
    Benchmark aid: the float32 FMA peak in GFLOP/s, measured now on `threads` threads with twelve independent chains of the instruction set's widest FMA (isa='' : the active set; probes exist for avx2 and avx512). Best of three runs of about seconds/3 each.
    """
@typing.overload
def gemm(A: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], B: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], trans_a: bool = False, trans_b: bool = False, isa: str = '', into: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
    """
    C = op(A) @ op(B) in float32 (or float64, for float64 A and B); isa='' uses the active instruction set. With into=C (the same dtype, C-contiguous, M x Nc): C += op(A) @ op(B), in place.
    """
@typing.overload
def gemm(A: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], B: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], trans_a: bool = False, trans_b: bool = False, isa: str = '', into: typing.Any = None) -> numpy.typing.NDArray[numpy.float64]:
    ...
def gemm_bf16(A: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], B: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], trans_a: bool = False, trans_b: bool = False, isa: str = '', into: typing.Any = None) -> numpy.typing.NDArray[numpy.float32]:
    """
    C = op(A) @ op(B) of float32 arrays with bfloat16 products and float32 sums, as training with precision='bfloat16' computes them (isa='reference': the plain loops); into=C: C += op(A) @ op(B). ValueError where the kernels cannot run.
    """
def get_num_threads() -> int:
    ...
def plain_rows(X: typing.Any, n_features: typing.SupportsInt | typing.SupportsIndex) -> bool:
    """
    Whether X is exactly a 2-D C-contiguous native-order float32/float64 ndarray with >= 1 row, n_features columns and finite values within float32's range (the prediction fast path of fastmlp._validation.plain_rows).
    """
def read_bandwidth(bytes: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 1, seconds: typing.SupportsFloat | typing.SupportsIndex = 0.3) -> float:
    """
    Benchmark aid: read bandwidth in GB/s of `threads` threads, each streaming its own buffer of `bytes` (rounded up to 512) with zmm loads, best of three runs: the L1, L2, L3 or memory bandwidth by the size chosen. Needs AVX-512.
    """
def set_isa(arg0: str) -> None:
    ...
def set_num_threads(arg0: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def sparse_products(X: typing.Any, W: numpy.ndarray, delta: numpy.ndarray, reference: bool = False) -> tuple:
    """
    (X @ W, X.T @ delta) for a CSR X with int64 indices, by the first layer's sparse kernels (reference=True: their plain twins).
    """
def supported_isas() -> list[str]:
    ...
has_openmp: bool = True
