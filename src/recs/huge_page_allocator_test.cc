#include "recs/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace profiled::recs {
namespace {

using Floats = std::vector<float, HugePageAllocator<float>>;

// (std::vector zero-fills what it allocates, so zeroing is not the allocator's to show.)
TEST(HugePageAllocator, GivesLargeBlocksOnAHugePageBoundaryWritableToTheirEnd) {
  constexpr size_t kCount = (size_t{5} << 20) / sizeof(float);  // 5 MiB: rounded up to 6
  Floats weights(kCount);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weights.data()) % HugePageAllocator<float>::kHugePage, 0u);
  for (size_t i = 0; i < kCount; i += 4096) weights[i] = static_cast<float>(i);
  weights.back() = 1.5f;
  EXPECT_EQ(weights[size_t{4096} * 7], static_cast<float>(size_t{4096} * 7));
  EXPECT_EQ(weights.back(), 1.5f);
}

TEST(HugePageAllocator, GrowsAndShrinksAcrossTheHugePageSizeKeepingTheValues) {
  Floats v;
  for (size_t i = 0; i < (size_t{3} << 20); ++i) v.push_back(static_cast<float>(i % 1000));
  EXPECT_EQ(v[123456], static_cast<float>(123456 % 1000));
  v.resize(1000);
  v.shrink_to_fit();  // back under 2 MiB: from the heap again
  EXPECT_EQ(v[999], 999.0f);
  Floats copy = v;
  EXPECT_EQ(copy, v);
}

}  // namespace
}  // namespace profiled::recs
