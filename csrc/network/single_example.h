// Batch size 1 as its own training loop, on the fused kernels of a kernel
// table (float32 or float64): per example one forward, then per layer one fused backward +
// optimizer step that sweeps the weights once and writes no gradient buffer.
// While the first layer's rows are in registers for their update, it also
// sums the next example's first-layer forward, so that forward skips its own
// pass over the largest weight matrix.
// The reference twin is Network's batch loop (unfused forward, backward,
// optimizer update), which the 'reference' table always takes.
#pragma once

#include <cstdint>

#include "isa/kernel_table.h"
#include "network/network.h"

namespace fastmlp {

// Trains on rows order[0, n) one at a time. `kernels` must have fused
// kernels. Stops like train_epoch (stop check, non-finite loss before its
// update) but leaves restoring the weights to the caller.
template <typename T>
EpochTally train_single_examples(Network<T>& net, const KernelTable& kernels,
                                 const EpochInputs<T>& in, const int64_t* order, int64_t n);

}  // namespace fastmlp
