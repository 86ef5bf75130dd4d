// HugePageAllocator: a std::allocator for large, long-lived matrices read at random (an ease
// model's weights, read a few rows per profile read). Allocations of 2 MiB or more get a
// mapping of their own, 2 MiB-aligned and, on Linux, advised to the kernel as transparent huge
// pages (madvise(MADV_HUGEPAGE); it is the default "madvise" mode of Debian's kernels) before
// anything touches it, so a row costs no TLB miss of its own: 80 pages map a 160 MB matrix
// instead of 40,000. Not from the heap: a heap may hand out memory it touched before (tcmalloc,
// the server's allocator, reuses freed spans), which stays in ordinary pages whatever the
// advice; a mapping of its own is advised before its first touch. Where the advice is refused
// or unknown the memory is ordinary pages; nothing else changes. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
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
    const size_t rounded = Rounded(bytes);
#if defined(__linux__)
    // Map a huge page more than needed, keep the aligned part, unmap the rest.
    const size_t span = rounded + kHugePage;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    char* const bytes_at = static_cast<char*>(raw);
    const size_t head = (kHugePage - reinterpret_cast<uintptr_t>(raw) % kHugePage) % kHugePage;
    char* const start = bytes_at + head;
    if (head > 0) (void)munmap(raw, head);
    if (span - head > rounded) (void)munmap(start + rounded, span - head - rounded);
#if defined(MADV_HUGEPAGE)
    (void)madvise(start, rounded, MADV_HUGEPAGE);  // advice only
#endif
    return reinterpret_cast<T*>(start);
#else
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
#endif
  }

  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) {
      ::operator delete(p);
      return;
    }
#if defined(__linux__)
    (void)munmap(p, Rounded(bytes));
#else
    std::free(p);
#endif
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>& /*other*/) const {
    return true;
  }

 private:
  static size_t Rounded(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }
};

}  // namespace profiled::recs
