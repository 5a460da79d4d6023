// The only pybind11 file: checks shapes and dtypes once, releases the GIL
// around native work, and turns C++ errors into Python exceptions.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "isa/kernel_table.h"
#include "kernels.h"
#include "network/network.h"

namespace py = pybind11;
using namespace fastmlp;

namespace {

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

Isa isa_from_name(const std::string& name) {
  for (Isa isa : {Isa::reference, Isa::baseline, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  throw py::value_error("unknown instruction set '" + name +
                        "': expected one of reference, baseline, avx2, avx512");
}

// Whether every value is finite and within float32's range (NaN fails the comparison).
// Blocks of 4096 values with a count of failures each, a loop the compiler
// vectorizes, and a stop at the first block that fails.
template <typename T>
bool all_within(const T* v, int64_t n, T limit) {
  constexpr int64_t kBlock = 4096;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    int32_t failures = 0;
    for (int64_t i = start; i < end; ++i) failures += !(std::fabs(v[i]) <= limit);
    if (failures != 0) return false;
  }
  return true;
}

template <typename T>
bool within_float32_range(const T* v, int64_t n) {
  return all_within(v, n, T(std::numeric_limits<float>::max()));
}

// The checks of fastmlp._validation.plain_rows in one call: X is exactly a
// numpy ndarray (no subclass), 2-D, C-contiguous, native-order float32 or
// float64, with at least one row, n_features columns, and values finite and
// within float32's range. Prediction's fast path takes such X as it is; for
// anything else the caller runs its general checks, which convert or raise.
bool plain_rows(py::handle X, int64_t n_features) {
  static PyTypeObject* const ndarray = reinterpret_cast<PyTypeObject*>(
      py::object(py::module_::import("numpy").attr("ndarray")).release().ptr());
  if (Py_TYPE(X.ptr()) != ndarray) return false;
  const auto a = py::reinterpret_borrow<py::array>(X);
  if (a.ndim() != 2 || (a.flags() & py::array::c_style) == 0 || a.shape(0) < 1 ||
      a.shape(1) != n_features)
    return false;
  const py::dtype dt = a.dtype();
  if (dt.byteorder() == '>') return false;  // '=' native, '<' little-endian here, '|' n/a
  const int64_t n = static_cast<int64_t>(a.size());
  if (dt.num() == py::dtype::of<float>().num())
    return within_float32_range(static_cast<const float*>(a.data()), n);
  if (dt.num() == py::dtype::of<double>().num())
    return within_float32_range(static_cast<const double*>(a.data()), n);
  return false;
}

// Whether a float array holds no NaN or infinity (the check of every prediction's output).
template <typename T>
bool all_finite(py::array_t<T, py::array::c_style> values) {
  return all_within(values.data(), static_cast<int64_t>(values.size()),
                    std::numeric_limits<T>::max());
}

template <typename T>
using GemmFn = void (*)(T*, int64_t, const T*, int64_t, bool, const T*, int64_t, bool, int64_t,
                        int64_t, int64_t, T);

// C = op(A) op(B) by `fn`; with `into` (a C-contiguous M x Nc array of the
// same dtype), the kernels' accumulate form into += op(A) op(B), so tests
// reach beta = 1.
template <typename T>
py::array_t<T> ops_gemm_with(const py::array_t<T, py::array::c_style>& A,
                             const py::array_t<T, py::array::c_style>& B, bool trans_a,
                             bool trans_b, const py::object& into, GemmFn<T> fn) {
  if (A.ndim() != 2 || B.ndim() != 2)
    throw py::value_error("gemm expects 2-D arrays, got A.ndim=" + std::to_string(A.ndim()) +
                          " and B.ndim=" + std::to_string(B.ndim()));
  const int64_t M = trans_a ? A.shape(1) : A.shape(0);
  const int64_t K = trans_a ? A.shape(0) : A.shape(1);
  const int64_t Kb = trans_b ? B.shape(1) : B.shape(0);
  const int64_t Nc = trans_b ? B.shape(0) : B.shape(1);
  if (K != Kb)
    throw py::value_error("gemm inner dimensions differ: op(A) has " + std::to_string(K) +
                          " columns but op(B) has " + std::to_string(Kb) + " rows");
  py::array_t<T> C;
  T beta = 0;
  if (into.is_none()) {
    C = py::array_t<T>({M, Nc});
  } else {
    auto given = py::array::ensure(into);
    if (!given || !given.dtype().is(py::dtype::of<T>()) || given.ndim() != 2 ||
        given.shape(0) != M || given.shape(1) != Nc || !(given.flags() & py::array::c_style) ||
        !given.writeable())
      throw py::value_error("gemm's `into` must be a writable C-contiguous " +
                            std::string(sizeof(T) == 4 ? "float32" : "float64") +
                            " array of shape (" + std::to_string(M) + ", " + std::to_string(Nc) +
                            ")");
    C = py::reinterpret_borrow<py::array_t<T>>(given);
    beta = 1;
  }
  const T* a = A.data();
  const T* b = B.data();
  T* c = C.mutable_data();
  const int64_t lda = A.shape(1), ldb = B.shape(1);
  {
    py::gil_scoped_release release;
    fn(c, Nc, a, lda, trans_a, b, ldb, trans_b, M, Nc, K, beta);
  }
  return C;
}

// C = op(A) op(B) in float32 or float64 through the active kernel table (or a named one).
template <typename T>
py::array_t<T> ops_gemm(py::array_t<T, py::array::c_style> A, py::array_t<T, py::array::c_style> B,
                        bool trans_a, bool trans_b, const std::string& isa_request,
                        py::object into) {
  const Isa isa = isa_request.empty() ? active_isa() : isa_from_name(isa_request);
  if (!isa_supported(isa))
    throw py::value_error(std::string("instruction set '") + isa_name(isa) +
                          "' is not supported by this CPU");
  const KernelTable& table = kernels_for(isa);
  if constexpr (sizeof(T) == 4)
    return ops_gemm_with<T>(A, B, trans_a, trans_b, into, table.sgemm);
  else
    return ops_gemm_with<T>(A, B, trans_a, trans_b, into, table.dgemm);
}

// C = op(A) op(B) (or into += op(A) op(B)) with bfloat16 products
// (gemm/bf16.h) through the active kernel table or a named one.
py::array_t<float> ops_gemm_bf16(py::array_t<float, py::array::c_style> A,
                                 py::array_t<float, py::array::c_style> B, bool trans_a,
                                 bool trans_b, const std::string& isa_request, py::object into) {
  const Isa isa = isa_request.empty() ? active_isa() : isa_from_name(isa_request);
  if (!isa_supported(isa))
    throw py::value_error(std::string("instruction set '") + isa_name(isa) +
                          "' is not supported by this CPU");
  const KernelTable& table = kernels_for(isa);
  if (const char* why = bf16_products_unavailable(table)) throw py::value_error(why);
  return ops_gemm_with<float>(A, B, trans_a, trans_b, into, table.sgemm_bf16);
}

}  // namespace

void bind_network(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp native core";
  // fastmlp.errors re-exports it as fastmlp.ModelBusyError.
  py::register_exception<ModelBusyError>(m, "ModelBusyError", PyExc_RuntimeError);

  // One name, two dtypes: pybind11 picks the overload whose dtype matches exactly.
  m.def("gemm", &ops_gemm<float>, py::arg("A"), py::arg("B"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("isa") = "", py::arg("into") = py::none(),
        "C = op(A) @ op(B) in float32 (or float64, for float64 A and B); isa='' uses the "
        "active instruction set. With into=C (the same dtype, C-contiguous, M x Nc): "
        "C += op(A) @ op(B), in place.");
  m.def("gemm_bf16", &ops_gemm_bf16, py::arg("A"), py::arg("B"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("isa") = "", py::arg("into") = py::none(),
        "C = op(A) @ op(B) of float32 arrays with bfloat16 products and float32 sums, as "
        "training with precision='bfloat16' computes them (isa='reference': the plain "
        "loops); into=C: C += op(A) @ op(B). ValueError where the kernels cannot run.");
  m.def(
      "bf16_unavailable",
      []() -> std::optional<std::string> {
        if (const char* why = bf16_products_unavailable(kernels())) return std::string(why);
        return std::nullopt;
      },
      "Why the active instruction set cannot run bfloat16 products (precision='bfloat16'), "
      "or None when it can.");
  m.def("gemm", &ops_gemm<double>, py::arg("A"), py::arg("B"), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("isa") = "", py::arg("into") = py::none());
  m.def("plain_rows", &plain_rows, py::arg("X"), py::arg("n_features"),
        "Whether X is exactly a 2-D C-contiguous native-order float32/float64 ndarray with "
        ">= 1 row, n_features columns and finite values within float32's range (the "
        "prediction fast path of fastmlp._validation.plain_rows).");
  m.def("all_finite", &all_finite<float>, py::arg("values"),
        "Whether a float32 or float64 array has no NaN or infinity.");
  m.def("all_finite", &all_finite<double>, py::arg("values"));
  m.def("active_isa", [] { return std::string(isa_name(active_isa())); });
  m.def("best_isa", [] { return std::string(isa_name(best_supported_isa())); });
  m.def("supported_isas", [] {
    std::vector<std::string> names;
    for (Isa isa : {Isa::reference, Isa::baseline, Isa::avx2, Isa::avx512})
      if (isa_supported(isa)) names.emplace_back(isa_name(isa));
    return names;
  });
  m.def("set_isa", [](const std::string& name) {
    Isa isa = isa_from_name(name);
    if (!isa_supported(isa))
      throw py::value_error("instruction set '" + name + "' is not supported by this CPU");
    set_isa(isa);
  });
  m.def("get_num_threads", &get_num_threads);
  m.def("_thread_round_trip_ns", &thread_round_trip_ns, py::arg("round_trips") = 20000,
        py::call_guard<py::gil_scoped_release>(),
        "Benchmark aid: ns for a cache line to bounce between two threads and back.");
  m.def(
      "fma_peak",
      [](const std::string& isa, int threads, double seconds) {
        if (threads < 1)
          throw py::value_error("threads must be >= 1, got " + std::to_string(threads));
        if (!(seconds > 0 && seconds <= 60))
          throw py::value_error("seconds must be in (0, 60], got " + std::to_string(seconds));
        const Isa chosen = isa.empty() ? active_isa() : isa_from_name(isa);
        py::gil_scoped_release release;
        return fma_peak_gflops(chosen, threads, seconds);
      },
      py::arg("isa") = "", py::arg("threads") = 1, py::arg("seconds") = 0.3,
      "Benchmark aid: the float32 FMA peak in GFLOP/s, measured now on `threads` threads with "
      "twelve independent chains of the instruction set's widest FMA (isa='' : the active "
      "set; probes exist for avx2 and avx512). Best of three runs of about seconds/3 each.");
  m.def(
      "read_bandwidth",
      [](int64_t bytes, int threads, double seconds) {
        if (bytes < 1 || bytes > (int64_t(1) << 34))
          throw py::value_error("bytes must be in [1, 2**34], got " + std::to_string(bytes));
        if (threads < 1)
          throw py::value_error("threads must be >= 1, got " + std::to_string(threads));
        if (!(seconds > 0 && seconds <= 60))
          throw py::value_error("seconds must be in (0, 60], got " + std::to_string(seconds));
        py::gil_scoped_release release;
        return read_bandwidth_gbs(bytes, threads, seconds);
      },
      py::arg("bytes"), py::arg("threads") = 1, py::arg("seconds") = 0.3,
      "Benchmark aid: read bandwidth in GB/s of `threads` threads, each streaming its own buffer "
      "of `bytes` (rounded up to 512) with zmm loads, best of three runs: the L1, L2, L3 or "
      "memory bandwidth by the size chosen. Needs AVX-512.");
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("number of threads must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  });
#ifdef _OPENMP
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  bind_network(m);
}

// ------------------------------------------------------------------ Network

namespace {

const std::vector<std::pair<std::string, Act>>& activation_names() {
  static const std::vector<std::pair<std::string, Act>> names = {
      {"identity", Act::identity}, {"step", Act::step},       {"sigmoid", Act::sigmoid},
      {"tanh", Act::tanh},         {"relu", Act::relu},       {"leaky_relu", Act::leaky_relu},
      {"softplus", Act::softplus}, {"softmax", Act::softmax}, {"exp", Act::exp}};
  return names;
}

const std::vector<std::pair<std::string, Loss>>& loss_names() {
  static const std::vector<std::pair<std::string, Loss>> names = {
      {"squared_error", Loss::squared_error},
      {"binary_cross_entropy", Loss::binary_cross_entropy},
      {"categorical_cross_entropy", Loss::categorical_cross_entropy},
      {"perceptron", Loss::perceptron},
      {"poisson", Loss::poisson},
      {"perceptron_hinge", Loss::perceptron_hinge}};
  return names;
}

const std::vector<std::pair<std::string, Optim>>& optimizer_names() {
  static const std::vector<std::pair<std::string, Optim>> names = {{"sgd", Optim::sgd},
                                                                   {"momentum", Optim::momentum},
                                                                   {"nesterov", Optim::nesterov},
                                                                   {"adam", Optim::adam}};
  return names;
}

template <typename E>
E lookup(const std::vector<std::pair<std::string, E>>& table, const std::string& name,
         const char* what) {
  std::string options;
  for (const auto& entry : table) {
    if (entry.first == name) return entry.second;
    options += (options.empty() ? "" : ", ") + entry.first;
  }
  throw py::value_error(std::string("unknown ") + what + " '" + name + "': expected one of " +
                        options);
}

template <typename E>
std::string name_of(const std::vector<std::pair<std::string, E>>& table, E value) {
  for (const auto& entry : table)
    if (entry.second == value) return entry.first;
  return "?";
}

template <typename T>
const char* dtype_name() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

std::string shape_string(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// The boundary check: the Python layer converts, this only verifies, so a
// wrong array never reaches a kernel.
template <typename T>
py::array_t<T> require_array(const py::array& a, const char* name, int ndim, int64_t rows,
                             int64_t cols) {
  if (!py::isinstance<py::array_t<T>>(a) || a.dtype().kind() != 'f' ||
      a.dtype().itemsize() != static_cast<py::ssize_t>(sizeof(T)))
    throw py::type_error(std::string(name) + " must be a " + dtype_name<T>() +
                         " array, got dtype " + py::str(a.dtype()).cast<std::string>());
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) +
                          "-D, got shape " + shape_string(a));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be C-contiguous");
  if (rows >= 0 && a.shape(0) != rows)
    throw py::value_error(std::string(name) + " must have " + std::to_string(rows) +
                          " rows, got shape " + shape_string(a));
  if (ndim == 2 && cols >= 0 && a.shape(1) != cols)
    throw py::value_error(std::string(name) + " must have " + std::to_string(cols) +
                          " columns, got shape " + shape_string(a));
  return py::reinterpret_borrow<py::array_t<T>>(a);
}

template <typename T>
const T* optional_weights(const std::optional<py::array>& w, int64_t rows,
                          std::optional<py::array_t<T>>& keep) {
  if (!w.has_value() || w->is_none()) return nullptr;
  keep = require_array<T>(*w, "sample_weight", 1, rows, -1);
  return keep->data();
}

// Between batches, at most every 20 ms: take the GIL and let Python run its
// signal handlers. A raised exception (KeyboardInterrupt) stops the epoch and
// is re-raised once the epoch has ended cleanly.
class SignalWatch {
 public:
  bool should_stop() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(20)) return false;
    last_ = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      error_.emplace();
      return true;
    }
    return false;
  }
  void rethrow() {
    if (error_) throw std::move(*error_);
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::optional<py::error_already_set> error_;
};

// A network's input rows, checked: a C-contiguous [N, I] array of its
// dtype, or a CSR matrix (scipy's csr_matrix / csr_array; fastmlp passes
// int64 indices, columns sorted within each row).
template <typename T>
struct CheckedRows {
  py::array_t<T> dense, data;
  py::array_t<int64_t> indptr, indices;
  bool sparse = false;
  int64_t rows = 0;
  InputRows<T> view() const {
    if (!sparse) return InputRows<T>(dense.data());
    return InputRows<T>(CsrRows<T>{indptr.data(), indices.data(), data.data()});
  }
};

py::array_t<int64_t> require_index_array(const py::object& a, const char* name, int64_t length) {
  if (!py::isinstance<py::array_t<int64_t>>(a) || py::array(a).dtype().kind() != 'i')
    throw py::type_error(std::string(name) + " must be an int64 array, got " +
                         py::str(py::getattr(a, "dtype", py::type::of(a))).cast<std::string>());
  auto array = py::reinterpret_borrow<py::array_t<int64_t>>(a);
  if (array.ndim() != 1 || !(array.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + " must be a C-contiguous 1-D array");
  if (length >= 0 && array.shape(0) != length)
    throw py::value_error(std::string(name) + " must have " + std::to_string(length) +
                          " entries, got " + std::to_string(array.shape(0)));
  return array;
}

template <typename T>
CheckedRows<T> check_rows(const Network<T>& net, const py::object& X_in) {
  CheckedRows<T> X;
  const int64_t I = net.fan_in(0);
  if (py::isinstance<py::array>(X_in)) {
    X.dense = require_array<T>(X_in, "X", 2, -1, I);
    X.rows = X.dense.shape(0);
    return X;
  }
  if (!py::hasattr(X_in, "indptr") || !py::hasattr(X_in, "format") ||
      py::str(X_in.attr("format")).cast<std::string>() != "csr")
    throw py::type_error("X must be a " + std::string(dtype_name<T>()) +
                         " array or a CSR matrix, got " +
                         py::str(py::type::of(X_in)).cast<std::string>());
  const auto shape = X_in.attr("shape").cast<std::pair<int64_t, int64_t>>();
  if (shape.second != I)
    throw py::value_error("X must have " + std::to_string(I) + " columns, got shape (" +
                          std::to_string(shape.first) + ", " + std::to_string(shape.second) + ")");
  X.sparse = true;
  X.rows = shape.first;
  X.indptr = require_index_array(X_in.attr("indptr"), "X.indptr", X.rows + 1);
  X.indices = require_index_array(X_in.attr("indices"), "X.indices", -1);
  const int64_t nnz = X.indices.shape(0);
  X.data = require_array<T>(X_in.attr("data"), "X.data", 1, nnz, -1);
  // The kernels trust every pointer and index: one pass here keeps a
  // malformed matrix from reading out of bounds.
  const int64_t* ptr = X.indptr.data();
  if (ptr[0] != 0 || ptr[X.rows] != nnz)
    throw py::value_error("X.indptr must run from 0 to the " + std::to_string(nnz) +
                          " stored values, got " + std::to_string(ptr[0]) + " to " +
                          std::to_string(ptr[X.rows]));
  for (int64_t r = 0; r < X.rows; ++r)
    if (ptr[r + 1] < ptr[r])
      throw py::value_error("X.indptr must not decrease, got " + std::to_string(ptr[r]) + " then " +
                            std::to_string(ptr[r + 1]) + " at row " + std::to_string(r));
  const int64_t* col = X.indices.data();
  for (int64_t k = 0; k < nnz; ++k)
    if (col[k] < 0 || col[k] >= I)
      throw py::value_error("X.indices holds column " + std::to_string(col[k]) + ", outside [0, " +
                            std::to_string(I) + ")");
  return X;
}

// X, Y (and optional row weights) checked against a network's shapes.
template <typename T>
struct CheckedBatch {
  CheckedRows<T> X;
  py::array_t<T> Y;
  std::optional<py::array_t<T>> weights;
  int64_t rows = 0;
  const T* w() const { return weights ? weights->data() : nullptr; }
};

// `what` names the caller for the empty-batch error; nullptr allows 0 rows.
template <typename T>
CheckedBatch<T> check_batch(const Network<T>& net, const py::object& X_in, const py::array& Y_in,
                            const std::optional<py::array>& w_in, const char* what) {
  CheckedBatch<T> batch;
  batch.X = check_rows<T>(net, X_in);
  batch.rows = batch.X.rows;
  if (what != nullptr && batch.rows == 0)
    throw py::value_error(std::string(what) + " at least one row, got 0");
  batch.Y = require_array<T>(Y_in, "Y", 2, batch.rows, net.fan_out(net.num_layers() - 1));
  optional_weights<T>(w_in, batch.rows, batch.weights);
  return batch;
}

template <typename T>
std::unique_lock<std::mutex> lock_for_training(Network<T>& net) {
  std::unique_lock<std::mutex> lock(net.train_mutex(), std::try_to_lock);
  if (!lock.owns_lock())
    throw ModelBusyError(
        "this model is already being trained in another thread; wait for that fit to end");
  return lock;
}

// The first `size` values of `buffer` (all when size < 0) as an array that
// keeps `owner` alive.
template <typename T, class Alloc>
py::array_t<T> buffer_view(std::vector<T, Alloc>& buffer, py::handle owner, int64_t size = -1) {
  const auto n = static_cast<py::ssize_t>(size < 0 ? int64_t(buffer.size()) : size);
  return py::array_t<T>({n}, {sizeof(T)}, buffer.data(), owner);
}

// Between backward and update of each distributed step: calls the Python
// `reduce(buffer)` on a view of the network's gradient buffer (no copy), under
// the GIL. A true result is a Ctrl-C this process has had (Python records it
// during a distributed fit instead of raising): it then asks for a stop with
// the next step's sums. A Python error ends the
// epoch (status reduce_failed) and is kept here, to be raised once the native
// loop has returned.
template <typename T>
class StepReducer {
 public:
  explicit StepReducer(py::object reduce) : reduce_(std::move(reduce)) {}
  bool operator()(T* buffer, int64_t n) {
    py::gil_scoped_acquire gil;
    try {
      // The capsule owns nothing: the view lives only during the call.
      py::capsule no_owner(buffer, [](void*) {});
      py::object interrupted =
          reduce_(py::array_t<T>({static_cast<py::ssize_t>(n)}, {sizeof(T)}, buffer, no_owner));
      stop_requested_ = stop_requested_ || interrupted.cast<bool>();
      return true;
    } catch (py::error_already_set& error) {
      error_.emplace(std::move(error));
      return false;
    }
  }
  void rethrow() {
    if (error_) throw std::move(*error_);
  }
  bool stop_requested() const { return stop_requested_; }

 private:
  py::object reduce_;
  bool stop_requested_ = false;
  std::optional<py::error_already_set> error_;
};

// The first layer's sparse products for the tests: (X W, X^T delta) with X
// a CSR matrix (int64 indices) and W, delta C-contiguous arrays of X's dtype.
template <typename T>
py::tuple sparse_products(const py::object& X, const py::array& W_in, const py::array& delta_in,
                          bool reference) {
  const auto shape = X.attr("shape").cast<std::pair<int64_t, int64_t>>();
  const int64_t N = shape.first, I = shape.second;
  auto indptr = require_index_array(X.attr("indptr"), "X.indptr", N + 1);
  auto indices = require_index_array(X.attr("indices"), "X.indices", -1);
  auto data = require_array<T>(X.attr("data"), "X.data", 1, indices.shape(0), -1);
  auto W = require_array<T>(W_in, "W", 2, I, -1);
  auto delta = require_array<T>(delta_in, "delta", 2, N, -1);
  const int64_t O = W.shape(1);
  if (delta.shape(1) != O) throw py::value_error("W and delta must have the same columns");
  const CsrRows<T> rows{indptr.data(), indices.data(), data.data()};
  py::array_t<T> out({N, O}), dW({I, O});
  T* o = out.mutable_data();
  T* g = dW.mutable_data();
  std::fill(g, g + I * O, T(0));  // the kernels accumulate into dW
  {
    py::gil_scoped_release release;
    if (reference) {
      csr_dense_forward_reference(o, rows, W.data(), N, O);
      csr_transpose_dense_reference(g, rows, delta.data(), N, I, O);
    } else {
      csr_dense_forward(o, rows, W.data(), N, O);
      csr_transpose_dense(g, rows, delta.data(), N, I, O);
    }
  }
  return py::make_tuple(out, dW);
}

// [N, O_last] from one of the network's whole-batch outputs (predict, logits)
// on checked rows, without the GIL.
template <typename T>
py::array_t<T> output_rows(const Network<T>& net, const py::object& X_in,
                           void (Network<T>::*output)(T*, const InputRows<T>&, int64_t) const) {
  const auto X = check_rows<T>(net, X_in);
  const int64_t N = X.rows;
  py::array_t<T> out({N, net.fan_out(net.num_layers() - 1)});
  const InputRows<T> x = X.view();
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    if (N > 0) (net.*output)(o, x, N);
  }
  return out;
}

template <typename T>
void bind_network_class(py::module_& m, const char* class_name) {
  using Net = Network<T>;
  py::class_<Net>(m, class_name)
      .def(py::init([](std::vector<int64_t> sizes, std::vector<std::string> activations,
                       const std::string& loss, double slope) {
             if (sizes.size() < 2)
               throw py::value_error("a network needs at least 2 sizes (inputs, outputs), got " +
                                     std::to_string(sizes.size()));
             for (int64_t s : sizes)
               if (s < 1)
                 throw py::value_error("every layer size must be >= 1, got " + std::to_string(s));
             // The Network computes offsets in int64; sizes whose parameter
             // count does not fit would wrap around (undefined behaviour).
             int64_t n_params = 0;
             const int64_t limit = std::numeric_limits<int64_t>::max() / 8;
             for (size_t l = 0; l + 1 < sizes.size(); ++l) {
               const int64_t I = sizes[l], O = sizes[l + 1];
               if (I > limit / O || I * O > limit - O - n_params)
                 throw py::value_error("layer sizes " + std::to_string(I) + " x " +
                                       std::to_string(O) +
                                       " need more parameters than a network can address");
               n_params += I * O + O;
             }
             if (activations.size() != sizes.size() - 1)
               throw py::value_error("expected " + std::to_string(sizes.size() - 1) +
                                     " activations (one per layer), got " +
                                     std::to_string(activations.size()));
             std::vector<Act> acts;
             for (size_t l = 0; l < activations.size(); ++l) {
               acts.push_back(lookup(activation_names(), activations[l], "activation"));
               if ((acts.back() == Act::softmax || acts.back() == Act::exp) &&
                   l + 1 != activations.size())
                 throw py::value_error(activations[l] + " is only available on the output layer");
             }
             const Loss loss_kind = lookup(loss_names(), loss, "loss");
             const Act out = acts.back();
             const bool consistent =
                 (loss_kind == Loss::categorical_cross_entropy && out == Act::softmax) ||
                 (loss_kind == Loss::binary_cross_entropy && out == Act::sigmoid) ||
                 ((loss_kind == Loss::perceptron || loss_kind == Loss::perceptron_hinge) &&
                  out == Act::step) ||
                 (loss_kind == Loss::poisson && out == Act::exp) ||
                 (loss_kind == Loss::squared_error && out != Act::softmax && out != Act::step &&
                  out != Act::exp);
             if (!consistent)
               throw py::value_error(
                   "loss '" + loss + "' does not go with output activation '" + activations.back() +
                   "': use softmax with categorical_cross_entropy, sigmoid "
                   "with binary_cross_entropy, step with perceptron or perceptron_hinge, "
                   "exp with "
                   "poisson, or an elementwise activation with squared_error");
             try {
               return std::make_unique<Net>(sizes, acts, loss_kind, static_cast<T>(slope));
             } catch (const std::bad_alloc&) {
               PyErr_SetString(PyExc_MemoryError,
                               ("not enough memory for a network of " + std::to_string(n_params) +
                                " parameters (4 buffers of " +
                                std::to_string(n_params * int64_t(sizeof(T))) + " bytes)")
                                   .c_str());
               throw py::error_already_set();
             }
           }),
           py::arg("sizes"), py::arg("activations"), py::arg("loss"), py::arg("slope") = 0.01)
      .def_property_readonly("sizes", [](const Net& n) { return n.sizes(); })
      .def_property_readonly("activations",
                             [](const Net& n) {
                               std::vector<std::string> out;
                               for (Act a : n.activations())
                                 out.push_back(name_of(activation_names(), a));
                               return out;
                             })
      .def_property_readonly("loss_name",
                             [](const Net& n) { return name_of(loss_names(), n.loss_kind()); })
      .def_property_readonly("slope", [](const Net& n) { return double(n.slope()); })
      .def_property_readonly("num_params", &Net::num_params)
      .def("w_offset", &Net::w_offset)
      .def("b_offset", &Net::b_offset)
      .def_property_readonly(
          "params",
          [](py::object self) { return buffer_view<T>(self.cast<Net&>().params(), self); })
      .def_property_readonly("grads",
                             [](py::object self) {
                               Net& net = self.cast<Net&>();
                               return buffer_view<T>(net.grads(), self, net.num_params());
                             })
      .def("optimizer_state",
           [](py::object self, int which) {
             if (which != 0 && which != 1)
               throw py::value_error("optimizer_state index must be 0 or 1");
             return buffer_view<T>(self.cast<Net&>().optimizer_state(which), self);
           })
      .def_property("step_count", &Net::step_count, &Net::set_step_count)
      .def(
          "set_dropout",
          [](Net& net, std::vector<double> rates, uint64_t seed) {
            auto lock = lock_for_training(net);
            net.set_dropout(std::vector<T>(rates.begin(), rates.end()), seed);
          },
          py::arg("rates"), py::arg("seed"),
          "Inverted dropout while training: one rate per layer in [0, 1), 0 for the output "
          "layer; the masks are drawn from `seed`, the step and the unit's place in the batch.")
      .def_property_readonly("dropout_rates",
                             [](const Net& net) {
                               const auto& r = net.dropout_rates();
                               return std::vector<double>(r.begin(), r.end());
                             })
      .def_property_readonly("dropout_seed", &Net::dropout_seed)
      .def_property(
          "l1", [](const Net& net) { return double(net.l1()); },
          [](Net& net, double l1) {
            if (!(l1 >= 0.0)) throw py::value_error("l1 must be >= 0");
            auto lock = lock_for_training(net);
            net.set_l1(static_cast<T>(l1));
          },
          "scikit-learn's L1 step (cumulative-penalty truncation) after every update of the "
          "batch loop, u growing by learning_rate * l1; 0: off. Reset by reset_optimizer.")
      .def_property(
          "intercept_decay", [](const Net& net) { return double(net.intercept_decay()); },
          [](Net& net, double decay) {
            if (!(decay > 0.0 && decay <= 1.0))
              throw py::value_error("intercept_decay must be in (0, 1], got " +
                                    std::to_string(decay));
            auto lock = lock_for_training(net);
            net.set_intercept_decay(static_cast<T>(decay));
          },
          "scikit-learn's SGD intercept_decay: each bias gradient times this before every "
          "update of the batch loop (0.01 on sparse rows in scikit-learn); 1: off.")
      .def_property(
          "bf16_products", &Net::bf16_products,
          [](Net& net, bool on) {
            auto lock = lock_for_training(net);
            net.set_bf16_products(on);
          },
          "Training's batch GEMMs (forward, dW, dA) with bfloat16 inputs and float32 sums "
          "(vdpbf16ps); weights, optimizer, one-row steps and prediction stay float32. "
          "ValueError where the CPU or the build has no such kernels, or for float64.")
      .def("reset_optimizer", &Net::reset_optimizer)
      .def("predict",
           [](const Net& net, const py::object& X) { return output_rows(net, X, &Net::predict); })
      .def(
          "predict_plain",
          [](const Net& net, py::handle X) -> py::object {
            // Prediction's fast path in one call: None unless X passes plain_rows
            // in the network's dtype and the output is finite; the caller's
            // general path then converts, checks and raises as always.
            if (!plain_rows(X, net.fan_in(0))) return py::none();
            const auto rows = py::reinterpret_borrow<py::array>(X);
            if (rows.dtype().num() != py::dtype::of<T>().num()) return py::none();
            const int64_t N = rows.shape(0), O = net.fan_out(net.num_layers() - 1);
            py::array_t<T> out({N, O});
            const T* x = static_cast<const T*>(rows.data());
            T* o = out.mutable_data();
            {
              py::gil_scoped_release release;
              net.predict(o, InputRows<T>(x), N);
            }
            if (!all_within(o, N * O, std::numeric_limits<T>::max())) return py::none();
            return std::move(out);
          },
          py::arg("X"),
          "The output layer's activation for X, or None: X must be exactly a C-contiguous "
          "ndarray of this network's dtype that _core.plain_rows accepts, and the output finite.")
      .def("logits",
           [](const Net& net, const py::object& X) { return output_rows(net, X, &Net::logits); })
      .def("forward_all",
           [](const Net& net, const py::array& X_in) {
             auto X = require_array<T>(X_in, "X", 2, -1, net.fan_in(0));
             const int64_t N = X.shape(0);
             py::list zs, as;
             std::vector<T*> zp, ap;
             for (int64_t l = 0; l < net.num_layers(); ++l) {
               py::array_t<T> z({N, net.fan_out(l)}), a({N, net.fan_out(l)});
               zp.push_back(z.mutable_data());
               ap.push_back(a.mutable_data());
               zs.append(z);
               as.append(a);
             }
             const T* x = X.data();
             {
               py::gil_scoped_release release;
               if (N > 0) net.forward_all(zp, ap, x, N);
             }
             return py::make_tuple(zs, as);
           })
      .def(
          "loss",
          [](const Net& net, const py::object& X_in, const py::array& Y_in,
             std::optional<py::array> w_in, double l2, int64_t divisor) {
            const auto b = check_batch<T>(net, X_in, Y_in, w_in, "loss needs");
            py::gil_scoped_release release;
            return net.loss(b.X.view(), b.Y.data(), b.w(), b.rows, static_cast<T>(l2), divisor);
          },
          py::arg("X"), py::arg("Y"), py::arg("sample_weight") = py::none(), py::arg("l2") = 0.0,
          py::kw_only(), py::arg("divisor") = 0,
          "The mean loss; divisor > 0 divides the sum by it instead of the row count.")
      .def(
          "gradients",
          [](Net& net, const py::object& X_in, const py::array& Y_in, std::optional<py::array> w_in,
             double l2, int64_t divisor, int64_t mask_step) {
            const auto b = check_batch<T>(net, X_in, Y_in, w_in, "gradients need");
            auto lock = lock_for_training(net);
            py::gil_scoped_release release;
            return net.gradients(b.X.view(), b.Y.data(), b.w(), b.rows, static_cast<T>(l2), divisor,
                                 mask_step);
          },
          py::arg("X"), py::arg("Y"), py::arg("sample_weight") = py::none(), py::arg("l2") = 0.0,
          py::kw_only(), py::arg("divisor") = 0, py::arg("mask_step") = -1,
          "The loss and its gradient (in grads); divisor > 0 divides by it instead of the row "
          "count; mask_step >= 0 applies the dropout masks of that training step.")
      .def(
          "train_epoch",
          [](Net& net, const py::object& X_in, const py::array& Y_in, std::optional<py::array> w_in,
             py::array_t<int64_t, py::array::c_style | py::array::forcecast> order,
             int64_t batch_size, const std::string& optimizer, double learning_rate,
             double momentum, double beta_1, double beta_2, double epsilon, double l2,
             bool freeze_bias, py::object reduce,
             std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>
                 global_rows,
             bool adds_penalty, uint64_t dropout_salt, bool keep_start) {
            const auto b = check_batch<T>(net, X_in, Y_in, w_in, nullptr);
            const int64_t N = b.rows;
            if (order.ndim() != 1)
              throw py::value_error("order must be 1-D, got shape " + shape_string(order));
            const int64_t* idx = order.data();
            for (int64_t i = 0; i < order.shape(0); ++i)
              if (idx[i] < 0 || idx[i] >= N)
                throw py::value_error("order holds row " + std::to_string(idx[i]) +
                                      ", outside [0, " + std::to_string(N) + ")");
            if (batch_size < 1)
              throw py::value_error("batch_size must be >= 1, got " + std::to_string(batch_size));
            OptimConfig cfg;
            cfg.kind = lookup(optimizer_names(), optimizer, "optimizer");
            cfg.learning_rate = learning_rate;
            cfg.momentum = momentum;
            cfg.beta_1 = beta_1;
            cfg.beta_2 = beta_2;
            cfg.epsilon = epsilon;
            // A distributed epoch: every step reduced through `reduce`.
            std::optional<StepReducer<T>> reducer;
            StepReduce<T> plan;
            if (!reduce.is_none()) {
              if (!global_rows || global_rows->ndim() != 1)
                throw py::value_error("reduce needs global_rows, a 1-D array of each step's rows");
              plan.n_steps = global_rows->shape(0);
              plan.global_rows = global_rows->data();
              const int64_t needed = (order.shape(0) + batch_size - 1) / batch_size;
              if (plan.n_steps < needed)
                throw py::value_error("global_rows has " + std::to_string(plan.n_steps) +
                                      " steps, but this process's rows need " +
                                      std::to_string(needed));
              for (int64_t s = 0; s < plan.n_steps; ++s)
                if (plan.global_rows[s] < 1)
                  throw py::value_error("global_rows must be >= 1, got " +
                                        std::to_string(plan.global_rows[s]) + " at step " +
                                        std::to_string(s));
              reducer.emplace(reduce);
              plan.sum = [&reducer](T* buffer, int64_t n) { return (*reducer)(buffer, n); };
              plan.adds_penalty = adds_penalty;
            } else if (global_rows) {
              throw py::value_error("global_rows is only for a distributed epoch (with reduce)");
            }
            auto lock = lock_for_training(net);
            net.set_dropout_salt(dropout_salt);
            SignalWatch watch;
            EpochResult r;
            {
              py::gil_scoped_release release;
              r = net.train_epoch(
                  b.X.view(), b.Y.data(), b.w(), idx, order.shape(0), batch_size, cfg,
                  static_cast<T>(l2),
                  [&watch, &reducer] {
                    return watch.should_stop() || (reducer && reducer->stop_requested());
                  },
                  freeze_bias, reducer ? &plan : nullptr, keep_start);
            }
            if (reducer) reducer->rethrow();
            watch.rethrow();
            py::dict out;
            out["status"] = r.status == EpochStatus::completed     ? "completed"
                            : r.status == EpochStatus::interrupted ? "interrupted"
                                                                   : "non_finite";
            out["loss"] = r.loss;
            out["rows"] = r.rows;
            out["batches"] = r.batches;
            out["failed_batch"] = r.failed_batch;
            return out;
          },
          py::arg("X"), py::arg("Y"), py::arg("sample_weight"), py::arg("order"),
          py::arg("batch_size"), py::arg("optimizer") = "sgd", py::arg("learning_rate") = 0.01,
          py::arg("momentum") = 0.9, py::arg("beta_1") = 0.9, py::arg("beta_2") = 0.999,
          py::arg("epsilon") = 1e-8, py::arg("l2") = 0.0, py::kw_only(),
          py::arg("freeze_bias") = false, py::arg("reduce") = py::none(),
          py::arg("global_rows") = py::none(), py::arg("adds_penalty") = true,
          py::arg("dropout_salt") = 0, py::arg("keep_start") = true,
          "One epoch over `order` in batches of `batch_size`. With freeze_bias=True no "
          "update changes a bias (or its optimizer state); the weights update as without it. "
          "With reduce (a callable that sums a buffer over every process in place and returns "
          "True to ask every process to stop at the next step), the epoch "
          "runs len(global_rows) steps of global_rows[s] rows over all processes, calling "
          "reduce between backward and update; adds_penalty=False leaves the L2 term to "
          "another process; dropout_salt is mixed into the dropout masks (each rank its own). "
          "A non-finite loss restores the epoch's starting weights and optimizer state; "
          "keep_start=False skips keeping them (three buffers of the parameters' size) and "
          "leaves the weights of the last finite step.");
}

}  // namespace

void bind_network(py::module_& m) {
  m.def(
      "sparse_products",
      [](const py::object& X, const py::array& W, const py::array& delta, bool reference) {
        if (py::array(X.attr("data")).dtype().itemsize() == 8)
          return sparse_products<double>(X, W, delta, reference);
        return sparse_products<float>(X, W, delta, reference);
      },
      py::arg("X"), py::arg("W"), py::arg("delta"), py::arg("reference") = false,
      "(X @ W, X.T @ delta) for a CSR X with int64 indices, by the first layer's sparse "
      "kernels (reference=True: their plain twins).");
  bind_network_class<float>(m, "NetworkF32");
  bind_network_class<double>(m, "NetworkF64");
}
