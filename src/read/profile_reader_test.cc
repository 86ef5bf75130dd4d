#include "read/profile_reader.h"

#include <gtest/gtest.h>

namespace profiled::read {
namespace {
TEST(ProfileReader, Placeholder) {}
}  // namespace
}  // namespace profiled::read
