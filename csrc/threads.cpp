// Thread count: one place, so every kernel agrees on it.
#include "kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastmlp {

int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n < 1 ? 1 : n);
#else
  (void)n;
#endif
}

}  // namespace fastmlp
