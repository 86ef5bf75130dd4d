// HugePageAllocator: a std::allocator for large, long-lived matrices read at random (an ease
// model's weights, read a few rows per profile read). Allocations of 2 MiB or more are
// 2 MiB-aligned and, on Linux, advised to the kernel as transparent huge pages
// (madvise(MADV_HUGEPAGE); it is the default "madvise" mode of Debian's kernels), so a row
// costs no TLB miss of its own: 80 pages map a 160 MB matrix instead of 40,000. Where the
// advice is refused or unknown the memory is ordinary pages; nothing else changes.
// Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace profiled::recs {

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageAllocator() = default;
  template <typename U>
  explicit HugePageAllocator(const HugePageAllocator<U>& /*other*/) {}

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return static_cast<T*>(::operator new(bytes));
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, rounded, MADV_HUGEPAGE);  // advice only: refused means ordinary pages
#endif
    return static_cast<T*>(p);
  }

  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePage) {
      ::operator delete(p);
    } else {
      std::free(p);
    }
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>& /*other*/) const {
    return true;
  }
};

}  // namespace profiled::recs
