#include "cluster/keys.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "redis/key_slot.h"

namespace profiled::cluster {
namespace {

TEST(ClusterKeys, PutAUsersHashInItsPartitionsSlot) {
  // Bytes that could confuse a hash-tag parser or a prefix: braces, NUL, 0xff.
  const std::vector<std::string> projects = {"p", "", std::string("{x}\0\xff", 5)};
  for (const std::string& project : projects) {
    for (uint64_t id = 0; id < 200; ++id) {
      const uint32_t partition = Partition(project, id, kPartitions);
      const uint16_t slot = redis::KeySlot(UserHashKey(partition, project, id));
      EXPECT_EQ(slot, redis::KeySlot(PartitionTag(partition)));
      EXPECT_EQ(slot, redis::KeySlot(UserIndexKey(partition, project))) << "its index's slot";
    }
  }
}

TEST(ClusterKeys, SpreadTheDefaultPartitionsOverManySlotsAndEveryShard) {
  std::set<uint16_t> slots;
  int per_third[3] = {0, 0, 0};  // the slot ranges of a 3-shard cluster
  for (uint32_t partition = 0; partition < kPartitions; ++partition) {
    uint16_t slot = redis::KeySlot(PartitionTag(partition));
    slots.insert(slot);
    ++per_third[slot * 3 / redis::kSlotCount];
  }
  EXPECT_GT(slots.size(), kPartitions * 9 / 10);
  for (int count : per_third) EXPECT_GT(count, static_cast<int>(kPartitions) / 4);
}

TEST(ClusterKeys, SpreadUsersOverEveryPartition) {
  std::vector<int> users(kPartitions, 0);
  for (uint64_t id = 1; id <= uint64_t{100} * kPartitions; ++id) {
    uint32_t partition = Partition("project", id, kPartitions);
    ASSERT_LT(partition, kPartitions);
    ++users[partition];
  }
  for (int count : users) EXPECT_GT(count, 40);  // 100 on average
}

TEST(ClusterKeys, KeepPartitionsStableAcrossBuilds) {
  // Stored data is placed by these values: a change would strand every user.
  EXPECT_EQ(Partition("project", 1, kPartitions), 2655u);
  EXPECT_EQ(Partition("project", 2, kPartitions), 2593u);
  EXPECT_EQ(Partition("", 0, 7), 2u);
}

TEST(ClusterKeys, KeepProjectsApartWhenOneIdIsAPrefixOfAnother) {
  const uint64_t id = 0x6200000000000000;  // starts with the byte 'b'
  EXPECT_NE(UserHashKey(0, "a", id), UserHashKey(0, "ab", id >> 8));
}

}  // namespace
}  // namespace profiled::cluster
