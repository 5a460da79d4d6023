// Every kernel of the avx512 table. Only this file is compiled with
// -mavx512f -mavx512vl -mavx512dq -mfma, and the table is used only after cpuid says the CPU (and
// the OS) can run it.
#include "fused/batch_one.h"
#include "gemm/bf16.h"
#include "gemm/packed.h"
#include "gemm/vec_avx512.h"
#include "isa/kernel_table.h"
#include "ops/optim_flat.h"

namespace fastmlp {

const KernelTable avx512_kernels = {
    Isa::avx512,
    &gemm_packed<VecAvx512>,
    &gemm_packed<VecAvx512d>,
    &optimizer_update_flat<float>,
    &optimizer_update_flat<double>,
    &dense_forward_one<float>,
    &dense_forward_one<double>,
    &dense_backward_update_one<float>,
    &dense_backward_update_one<double>,
#ifdef FASTMLP_HAVE_BF16
    &gemm_bf16_avx512,  // run only where bf16_products_unavailable() says the CPU can
#else
    nullptr,
#endif
};

}  // namespace fastmlp
