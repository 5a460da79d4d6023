// Every kernel of the avx2 table. Only this file is compiled with
// -mavx2 -mfma, and the table is used only after cpuid says the CPU (and
// the OS) can run it.
#include "fused/batch_one.h"
#include "gemm/packed.h"
#include "gemm/vec_avx2.h"
#include "isa/kernel_table.h"
#include "ops/optim_flat.h"

namespace fastmlp {

const KernelTable avx2_kernels = {
    Isa::avx2,
    &gemm_packed<VecAvx2>,
    &gemm_packed<VecAvx2d>,
    &optimizer_update_flat<float>,
    &optimizer_update_flat<double>,
    &dense_forward_one<float>,
    &dense_forward_one<double>,
    &dense_backward_update_one<float>,
    &dense_backward_update_one<double>,
    nullptr,  // no bfloat16 products
};

}  // namespace fastmlp
