// Partitions of the store on Redis Cluster (cluster/redis_store.h has the whole layout).
//
// A store has `partitions` partitions (kPartitions in production; tests pass small counts).
// A user (project, amplitude_id) lives in partition Partition(project, amplitude_id, partitions):
// its hash, and the lock that guards it, start with that partition's hash tag "{<k>}" (k in
// decimal), so they share one hash slot and one Lua script changes them atomically:
//
//   {k} 'u' P be64(amplitude_id)   the user hash: one field per record (its one-byte tag, as in
//                                  store::UserRecord)
//   {k} 'x' P                      the partition's user index: a sorted set, every score 0,
//                                  whose members are the be64(amplitude_id) of the project's
//                                  users in the partition (so lex order is amplitude_id order)
//
// P is the project, length-prefixed as in store/keys.h, so a key of one project is never one of
// another whose id is a prefix of it. Keys are arbitrary bytes. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace profiled::cluster {

// The partition count of a store, fixed when it is created: 4096 partitions spread over
// 16384 slots give every shard of a cluster of up to a few hundred shards many partitions.
inline constexpr uint32_t kPartitions = 4096;

// The partition of a user: a stable 64-bit hash (core/hash.h) of the project and the
// amplitude_id, modulo `partitions`. The same on every machine and build.
// REQUIRES: partitions > 0.
uint32_t Partition(std::string_view project, uint64_t amplitude_id, uint32_t partitions);

// "{<partition>}": the prefix of every key of the partition.
std::string PartitionTag(uint32_t partition);

std::string UserHashKey(uint32_t partition, std::string_view project, uint64_t amplitude_id);
std::string UserIndexKey(uint32_t partition, std::string_view project);

}  // namespace profiled::cluster
