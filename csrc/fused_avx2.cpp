// The fused training kernels compiled for the avx2 instruction set.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "optim_step.h"

#define FASTMLP_FUSED_NS isa_avx2
#include "fused_kernels.inc"
