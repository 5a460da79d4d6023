// Every kernel of the baseline table, compiled for plain x86-64 (SSE2) or
// the target's defaults: the one table that runs on any CPU.
#include "fused/batch_one.h"
#include "isa/kernel_table.h"
#include "ops/optim_flat.h"

#if defined(FASTMLP_X86) && defined(__SSE2__)
// x86-64 always has SSE2, so the baseline runs the packed driver on 4-lane
// vectors (no FMA: multiply then add); other targets keep the portable loop.
#include "gemm/packed.h"
#include "gemm/vec_sse2.h"
#define FASTMLP_BASELINE_SGEMM (&gemm_packed<VecSse2>)
#define FASTMLP_BASELINE_DGEMM (&gemm_packed<VecSse2d>)
#else
#define FASTMLP_BASELINE_SGEMM (&gemm_blocked<float>)
#define FASTMLP_BASELINE_DGEMM (&gemm_blocked<double>)
#endif

namespace fastmlp {

const KernelTable baseline_kernels = {
    Isa::baseline,
    FASTMLP_BASELINE_SGEMM,
    FASTMLP_BASELINE_DGEMM,
    &optimizer_update_flat<float>,
    &optimizer_update_flat<double>,
    &dense_forward_one<float>,
    &dense_forward_one<double>,
    &dense_backward_update_one<float>,
    &dense_backward_update_one<double>,
    nullptr,  // no bfloat16 products
};

}  // namespace fastmlp
