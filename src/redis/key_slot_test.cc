#include "redis/key_slot.h"

#include <gtest/gtest.h>

#include <string>

namespace profiled::redis {
namespace {

TEST(Crc16, MatchesTheClusterSpecificationCheckValue) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
}

TEST(KeySlot, IsTheCrcOfTheKeyModulo16384) {
  EXPECT_EQ(KeySlot("123456789"), 0x31C3 % 16384);
  // Answers of CLUSTER KEYSLOT on Redis 7.
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("somekey"), 11058);
  EXPECT_EQ(KeySlot("hello"), 866);
  EXPECT_EQ(KeySlot(""), 0);
}

TEST(KeySlot, HashesOnlyTheTagBetweenTheFirstBraceAndTheFirstClosingBraceAfterIt) {
  EXPECT_EQ(HashTag("{user1000}.following"), "user1000");
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("{user1000}.followers"));
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(HashTag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(HashTag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(HashTag("a{b}c"), "b");
}

TEST(KeySlot, HashesTheWholeKeyWhenTheTagIsEmptyOrUnclosed) {
  EXPECT_EQ(HashTag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(HashTag("{}"), "{}");
  EXPECT_EQ(HashTag("{"), "{");
  EXPECT_EQ(HashTag("}{"), "}{");
  EXPECT_EQ(HashTag("foo{bar"), "foo{bar");
  EXPECT_EQ(HashTag("plain"), "plain");
  EXPECT_NE(KeySlot("foo{}{bar}"), KeySlot("bar"));
}

TEST(KeySlot, TreatsKeysAsBytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(KeySlot(with_nul), KeySlot("a"));
  EXPECT_EQ(HashTag(std::string("x{\0\xff}y", 6)), std::string("\0\xff", 2));
  EXPECT_LT(KeySlot("\xff\xfe\xfd"), kSlotCount);
}

}  // namespace
}  // namespace profiled::redis
