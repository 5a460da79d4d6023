// Dispatch for the fused training kernels: the active instruction set picks
// the compiled copy; 'reference' callers use the unfused path instead.
#include "kernels.h"

namespace fastmlp {

#define FASTMLP_DECLARE_FUSED(ns)                                                          \
  namespace ns {                                                                           \
  void dense_backward_update_one(float*, float*, float*, float*, float*, float*, float*,  \
                                 float*, const float*, const float*, const float*,        \
                                 int64_t, int64_t, float, const OptimConfig&, int64_t);    \
  void optimizer_update_flat(float*, float*, float*, const float*, int64_t,                \
                             const OptimConfig&, int64_t);                                 \
  void dense_forward_one(float*, float*, const float*, const float*, int64_t, int64_t);     \
  int64_t row_blocks(int64_t);                                                             \
  }
FASTMLP_DECLARE_FUSED(isa_baseline)
#ifdef FASTMLP_X86
FASTMLP_DECLARE_FUSED(isa_avx2)
FASTMLP_DECLARE_FUSED(isa_avx512)
#endif

void dense_backward_update_one(float* da_prev, float* next_partial, float* W, float* Wm,
                               float* Wv, float* b, float* bm, float* bv,
                               const float* a_prev, const float* delta, const float* next_x,
                               int64_t I, int64_t O, float l2, const OptimConfig& cfg,
                               int64_t t) {
  switch (active_isa()) {
#ifdef FASTMLP_X86
    case Isa::avx512:
      return isa_avx512::dense_backward_update_one(da_prev, next_partial, W, Wm, Wv, b, bm,
                                                   bv, a_prev, delta, next_x, I, O, l2,
                                                   cfg, t);
    case Isa::avx2:
      return isa_avx2::dense_backward_update_one(da_prev, next_partial, W, Wm, Wv, b, bm,
                                                 bv, a_prev, delta, next_x, I, O, l2, cfg,
                                                 t);
#endif
    default:
      return isa_baseline::dense_backward_update_one(da_prev, next_partial, W, Wm, Wv, b,
                                                     bm, bv, a_prev, delta, next_x, I, O,
                                                     l2, cfg, t);
  }
}

void dense_forward_one(float* z, float* partial, const float* x, const float* W, int64_t I,
                       int64_t O) {
  switch (active_isa()) {
#ifdef FASTMLP_X86
    case Isa::avx512: return isa_avx512::dense_forward_one(z, partial, x, W, I, O);
    case Isa::avx2: return isa_avx2::dense_forward_one(z, partial, x, W, I, O);
#endif
    default: return isa_baseline::dense_forward_one(z, partial, x, W, I, O);
  }
}

int64_t dense_forward_one_scratch(int64_t I, int64_t O) {
  return isa_baseline::row_blocks(I) * O;
}

void optimizer_update_fast(float* params, float* m, float* v, const float* grads, int64_t n,
                           const OptimConfig& cfg, int64_t t) {
  switch (active_isa()) {
#ifdef FASTMLP_X86
    case Isa::avx512: return isa_avx512::optimizer_update_flat(params, m, v, grads, n, cfg, t);
    case Isa::avx2: return isa_avx2::optimizer_update_flat(params, m, v, grads, n, cfg, t);
#endif
    default: return isa_baseline::optimizer_update_flat(params, m, v, grads, n, cfg, t);
  }
}

}  // namespace fastmlp
