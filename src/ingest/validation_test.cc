#include "ingest/validation.h"

#include <gtest/gtest.h>

namespace profiled::ingest {
namespace {

TEST(Validation, EveryListedInvalidIdIsRefusedCaseInsensitively) {
  for (const char* id : {"anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown",
                         "", "00000000-0000-0000-0000-000000000000", "{}", "lmy47d", "0", "-1",
                         "NULL", "Undefined", "LMY47D"}) {
    EXPECT_TRUE(IsInvalidIdValue(id)) << id;
  }
  for (const char* id : {"nulls", "user-0", "00", "1"}) EXPECT_FALSE(IsInvalidIdValue(id)) << id;
}

TEST(Validation, ReservedEventTypes) {
  EXPECT_TRUE(IsReservedEventType("[Amplitude] Start Session"));
  EXPECT_TRUE(IsReservedEventType("[Amplitude] Merged User"));
  EXPECT_FALSE(IsReservedEventType("session_start"));
  EXPECT_FALSE(IsReservedEventType("$identify"));
}

TEST(Validation, CharactersAreCodePoints) {
  EXPECT_EQ(CharacterCount("abc"), 3u);
  EXPECT_EQ(CharacterCount("h\xC3\xA9llo"), 5u);  // héllo
}

TEST(Validation, ShortIdsAreDroppedWhenAnotherIdRemains) {
  BatchErrors e;
  std::string user = "abc", device = "device-1";
  CheckEventIds(0, 5, &user, &device, &e);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(user, "");
  EXPECT_EQ(device, "device-1");
}

TEST(Validation, AnEventLeftWithoutIdsIsAnIdLengthError) {
  BatchErrors e;
  std::string user = "abc", device = "xy";
  CheckEventIds(3, 5, &user, &device, &e);
  EXPECT_EQ(e.invalid_id_lengths.at("user_id"), std::vector<int>{3});
  EXPECT_EQ(e.invalid_id_lengths.at("device_id"), std::vector<int>{3});
  EXPECT_EQ(e.details.front(),
            "events[3].user_id: shorter than min_id_length 5 and the event has no other id");
}

TEST(Validation, MinIdLengthIsConfigurable) {
  BatchErrors e;
  std::string user = "ab", device;
  CheckEventIds(0, 2, &user, &device, &e);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(user, "ab");
}

TEST(Validation, NoIdAtAllIsAMissingField) {
  BatchErrors e;
  std::string user, device;
  CheckEventIds(1, 5, &user, &device, &e);
  EXPECT_EQ(e.missing_fields.at("user_id or device_id"), std::vector<int>{1});
}

TEST(Validation, InvalidIdValuesAreInvalidFieldsEvenWithAnotherId) {
  BatchErrors e;
  std::string user = "undefined", device = "device-1";
  CheckEventIds(2, 5, &user, &device, &e);
  EXPECT_EQ(e.invalid_fields.at("user_id"), std::vector<int>{2});
}

TEST(Validation, OverlongIdsAreInvalid) {
  BatchErrors e;
  std::string user(1025, 'u'), device;
  CheckEventIds(0, 5, &user, &device, &e);
  EXPECT_EQ(e.invalid_fields.at("user_id"), std::vector<int>{0});
}

TEST(Validation, DetailsAreCapped) {
  BatchErrors e;
  for (int i = 0; i < 100; ++i) e.Missing("event_type", i, "required");
  EXPECT_EQ(e.details.size(), BatchErrors::kMaxDetails);
  EXPECT_EQ(e.missing_fields.at("event_type").size(), 100u);
}

}  // namespace
}  // namespace profiled::ingest
