// Key layout of the store on Redis Cluster (docs/SCALING.md, "The store on Redis Cluster").
//
// A store has `partitions` partitions (kPartitions in production; tests pass small counts).
// A user (project, amplitude_id) lives in partition Partition(project, amplitude_id, partitions),
// and every key that must change atomically with the user's state starts with that partition's
// hash tag "{<k>}" (k in decimal), so all of them share one hash slot and one Lua script can
// change them atomically:
//
//   {k} 'u' P be64(amplitude_id)   the user hash: one field per record (its one-byte tag, as in
//                                  store::UserRecord) plus kVersionField
//   {k} 'd' P len(scope) scope id  a de-dup key: an insert_id seen in `scope` (store::DedupKey's
//                                  scope); it expires after the de-dup window. It lives in the
//                                  partition of the user the event resolved to, so de-dup is
//                                  per (user, scope, insert_id), not per project as on the single
//                                  node: a retry that resolves to another amplitude_id (a merge
//                                  in between) is not caught
//   {k} 'e' P                      the partition's event stream for the project
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

// The hash field of a user's version. Record tags are one byte, so it is never a record's.
inline constexpr std::string_view kVersionField = "version";

// The partition of a user: a stable 64-bit hash (core/hash.h) of the project and the
// amplitude_id, modulo `partitions`. The same on every machine and build.
// REQUIRES: partitions > 0.
uint32_t Partition(std::string_view project, uint64_t amplitude_id, uint32_t partitions);

// "{<partition>}": the prefix of every key of the partition.
std::string PartitionTag(uint32_t partition);

std::string UserHashKey(uint32_t partition, std::string_view project, uint64_t amplitude_id);
std::string DedupKey(uint32_t partition, std::string_view project, std::string_view scope,
                     std::string_view insert_id);
std::string EventStreamKey(uint32_t partition, std::string_view project);

}  // namespace profiled::cluster
