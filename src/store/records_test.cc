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

TEST(Records, EventRoundTripsWithItsType) {
  EventRecord e{42, 1700000000123, "click", R"({"event_type":"click"})"};
  std::string bytes = EncodeEvent(e);
  EXPECT_EQ(bytes[0], 2) << "the writer writes version 2";
  EventRecord out;
  ASSERT_TRUE(DecodeEvent(bytes, &out).ok());
  EXPECT_EQ(out.amplitude_id, 42u);
  EXPECT_EQ(out.time_ms, 1700000000123);
  EXPECT_EQ(out.event_type, "click");
  EXPECT_EQ(out.json, e.json);
}

TEST(Records, AVersion1EventDecodesWithoutItsType) {
  // u8 1 || varint(7) || varint(300) || json, as the part 1 binary wrote it.
  std::string bytes = std::string("\x01\x07\xac\x02", 4) + R"({"event_type":"old"})";
  EventRecord out;
  out.event_type = "stale";
  ASSERT_TRUE(DecodeEvent(bytes, &out).ok());
  EXPECT_EQ(out.amplitude_id, 7u);
  EXPECT_EQ(out.time_ms, 300);
  EXPECT_EQ(out.event_type, "");
  EXPECT_EQ(out.json, R"({"event_type":"old"})");
}

TEST(Records, ATruncatedEventIsCorruption) {
  std::string bytes = EncodeEvent(EventRecord{1, 2, "a-long-event-type", "{}"});
  EventRecord out;
  // Cut inside the ids or the event type (past that, the JSON is whatever is left).
  for (size_t n = 0; n < 1 + 1 + 1 + 1 + 17; ++n) {
    EXPECT_EQ(DecodeEvent(std::string_view(bytes.data(), n), &out).code(), ErrorCode::kCorruption)
        << n;
  }
  EXPECT_EQ(DecodeEvent("\x03{}", &out).code(), ErrorCode::kCorruption);
}

TEST(Records, GroupRoundTripsAndRefusesBadBytes) {
  std::string_view props;
  std::string bytes = EncodeGroup(R"({"size":3})");
  ASSERT_TRUE(DecodeGroup(bytes, &props).ok());
  EXPECT_EQ(props, R"({"size":3})");
  EXPECT_EQ(DecodeGroup(bytes.substr(0, bytes.size() - 1), &props).code(), ErrorCode::kCorruption);
  EXPECT_EQ(DecodeGroup(EncodeGroup("[1]"), &props).code(), ErrorCode::kCorruption);
  EXPECT_EQ(DecodeGroup(std::string("\x02\x02{}", 4), &props).code(), ErrorCode::kCorruption);
  EXPECT_EQ(DecodeGroup(bytes + "x", &props).code(), ErrorCode::kCorruption);
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
