// The fused training kernels compiled for the baseline instruction set.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "optim_step.h"

#define FASTMLP_FUSED_NS isa_baseline
#include "fused_kernels.inc"
