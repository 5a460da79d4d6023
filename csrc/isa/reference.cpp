// The reference kernel table: the plain loops every fast kernel is tested
// against. It has no fused kernels, so training takes the unfused path.
#include "gemm/bf16.h"
#include "isa/kernel_table.h"

namespace fastmlp {

const KernelTable reference_kernels = {
    Isa::reference,
    &gemm_reference<float>,
    &gemm_reference<double>,
    &optimizer_update<float>,
    &optimizer_update<double>,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    &gemm_bf16_reference,
};

}  // namespace fastmlp
