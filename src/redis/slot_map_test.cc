#include "redis/slot_map.h"

#include <gtest/gtest.h>

#include "redis/key_slot.h"

namespace profiled::redis {
namespace {

Reply Node(const std::string& ip, int port, const std::string& id) {
  return Reply::Array({Reply::String(ip), Reply::Integer(port), Reply::String(id)});
}

Reply Range(int first, int last, std::vector<Reply> nodes) {
  std::vector<Reply> elements = {Reply::Integer(first), Reply::Integer(last)};
  for (Reply& node : nodes) elements.push_back(std::move(node));
  return Reply::Array(std::move(elements));
}

TEST(SlotMap, RoutesEachSlotToThePrimaryOfItsRange) {
  Reply slots = Reply::Array({
      Range(0, 5460, {Node("127.0.0.1", 7000, "a"), Node("127.0.0.1", 7003, "d")}),
      Range(5461, 10922, {Node("127.0.0.1", 7001, "b")}),
      Range(10923, 16383, {Node("127.0.0.1", 7002, "c"), Node("127.0.0.1", 7004, "e")}),
  });
  Result<SlotMap> map = SlotMap::FromClusterSlots(slots, "127.0.0.1");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->PrimaryOf(0), "127.0.0.1:7000");
  EXPECT_EQ(map->PrimaryOf(5460), "127.0.0.1:7000");
  EXPECT_EQ(map->PrimaryOf(5461), "127.0.0.1:7001");
  EXPECT_EQ(map->PrimaryOf(16383), "127.0.0.1:7002");
  EXPECT_EQ(map->served_slots(), kSlotCount);
  EXPECT_EQ(map->nodes(),
            (std::vector<std::string>{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002",
                                      "127.0.0.1:7003", "127.0.0.1:7004"}));
}

TEST(SlotMap, LeavesUnlistedSlotsWithoutAPrimary) {
  Reply slots = Reply::Array({Range(0, 99, {Node("10.0.0.1", 6379, "a")}),
                              Range(200, 200, {Node("10.0.0.1", 6379, "a")})});
  Result<SlotMap> map = SlotMap::FromClusterSlots(slots, "10.0.0.1");
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->PrimaryOf(100), "");
  EXPECT_EQ(map->PrimaryOf(200), "10.0.0.1:6379");
  EXPECT_EQ(map->served_slots(), 101);
}

TEST(SlotMap, PlacesANodeWithoutAnIpOnTheHostThatAnswered) {
  Reply slots = Reply::Array({Range(0, 16383, {Node("", 7000, "a")})});
  Result<SlotMap> map = SlotMap::FromClusterSlots(slots, "192.168.1.5");
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->PrimaryOf(42), "192.168.1.5:7000");
}

TEST(SlotMap, RefusesAMalformedReply) {
  EXPECT_FALSE(SlotMap::FromClusterSlots(Reply::Error("ERR"), "h").ok());
  EXPECT_FALSE(
      SlotMap::FromClusterSlots(Reply::Array({Range(5, 4, {Node("h", 1, "a")})}), "h").ok());
  EXPECT_FALSE(
      SlotMap::FromClusterSlots(Reply::Array({Range(0, 16384, {Node("h", 1, "a")})}), "h").ok());
  EXPECT_FALSE(SlotMap::FromClusterSlots(
                   Reply::Array({Reply::Array({Reply::Integer(0), Reply::Integer(1)})}), "h")
                   .ok());
  EXPECT_FALSE(
      SlotMap::FromClusterSlots(Reply::Array({Range(0, 1, {Reply::String("h:1")})}), "h").ok());
}

}  // namespace
}  // namespace profiled::redis
