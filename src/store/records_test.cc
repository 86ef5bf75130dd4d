#include "store/records.h"

#include <gtest/gtest.h>

namespace profiled::store {
namespace {

TEST(Records, ProfileRoundTrips) {
  ProfileRecord r{"user-1", "dev-1", R"({"platform":"Web"})", R"({"plan":"pro"})"};
  std::string bytes = EncodeProfile(r);
  ProfileView v;
  ASSERT_TRUE(DecodeProfile(bytes, &v).ok());
  EXPECT_EQ(v.user_id, "user-1");
  EXPECT_EQ(v.device_id, "dev-1");
  EXPECT_EQ(v.builtins_json, R"({"platform":"Web"})");
  EXPECT_EQ(v.properties_json, R"({"plan":"pro"})");
}

TEST(Records, TruncatedOrForeignBytesAreCorruptionNotACrash) {
  std::string bytes = EncodeProfile(ProfileRecord{"u", "d", "{}", "{}"});
  ProfileView v;
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodeProfile(std::string_view(bytes.data(), n), &v).code(), ErrorCode::kCorruption);
  }
  EXPECT_EQ(DecodeProfile(bytes + "x", &v).code(), ErrorCode::kCorruption);
  EXPECT_EQ(DecodeProfile("\x07garbage", &v).code(), ErrorCode::kCorruption);
}

TEST(Records, EventRoundTrips) {
  EventRecord e{42, 1700000000123, R"({"event_type":"click"})"};
  EventRecord out;
  ASSERT_TRUE(DecodeEvent(EncodeEvent(e), &out).ok());
  EXPECT_EQ(out.amplitude_id, 42u);
  EXPECT_EQ(out.time_ms, 1700000000123);
  EXPECT_EQ(out.json, e.json);
}

TEST(Records, IdAndDedupRoundTrip) {
  uint64_t id = 0;
  ASSERT_TRUE(DecodeId(EncodeId(987654321), &id).ok());
  EXPECT_EQ(id, 987654321u);
  int64_t t = 0;
  ASSERT_TRUE(DecodeDedup(EncodeDedup(1234), &t).ok());
  EXPECT_EQ(t, 1234);
  EXPECT_FALSE(DecodeDedup("short", &t).ok());
}

}  // namespace
}  // namespace profiled::store
