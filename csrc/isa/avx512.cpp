// Every kernel of the avx512 table. Only this file is compiled with
// -mavx512f -mavx512vl -mavx512dq -mfma, and the table is used only after cpuid says the CPU (and
// the OS) can run it.
#include "fused/batch_one.h"
#include "gemm/packed.h"
#include "gemm/vec_avx512.h"
#include "isa/kernel_table.h"
#include "ops/optim_flat.h"

namespace fastmlp {

const KernelTable avx512_kernels = {
    Isa::avx512,        &sgemm_packed<VecAvx512>,   &optimizer_update_flat,
    &dense_forward_one, &dense_backward_update_one,
};

}  // namespace fastmlp
