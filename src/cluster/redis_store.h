// RedisStore: store::Store on Redis Cluster, for several profiled nodes writing one store
// (docs/SCALING.md, "The store on Redis Cluster").
//
// Layout (every Redis key starts with a hash tag "{<k>}", k < partitions, so its slot is
// fixed by what it holds, never by a whole project):
//   kProfiles  one hash per user (cluster::UserHashKey), a field per record tag, and per
//              (project, partition) an index of the users (cluster::UserIndexKey) kept by the
//              same scripts that write the hashes; a scan merges a project's indexes in
//              amplitude_id order and reads the users' hashes a batch at a time
//   kIdentity  a string per key, tagged by the key's hash
//   kDedup     a string per key, tagged by the key's hash, expiring at first_seen + the window
//   kMeta      per project an ordered table: a hash (key -> value) and a sorted set of the keys
//              (for ordered scans), both in the project's slot; keys of no project (the global
//              counters) in the table of project ""
//   kEvents    per (project, day, seq % kEventShards) a sorted set of key||value members, and
//              per project a sorted set of the days that have events; a scan merges the shards
//              of each day in key order, retention drops whole days
//
// Transactions: strict two-phase locking with locks in Redis. Each key that can be written has
// a lock key in its slot. A writer (Writer()) locks every key it reads, holds the locks until
// its Commit or EndTransaction, and its reads wait while another live writer holds a key (up to
// lock_wait_ms, then Aborted: the caller retries from scratch, which also breaks deadlocks).
// Commit locks the keys it writes that are not locked yet, then
//   1. writes the whole WriteSet as one intent record (and WAITs for it): the commit point,
//   2. applies it slot by slot, each slot's part one Lua script that writes only keys still
//      locked by this transaction (and WAITs),
//   3. releases every lock (and WAITs), so whoever locks a key next sees all of the commit,
//   4. deletes the intent.
// A lock names its transaction: node id and sequence. Each node keeps a lease key alive (renewed
// every lease_ms / 5); a lock whose node lease is gone belongs to a dead node. The next writer
// that needs such a key first stores "no intent" as that transaction's intent unless one is
// there (SET NX GET); an intent it finds it applies whole (each write only where the key's lock
// is still the dead transaction's, so again is harmless), then it takes the lock. Intents are
// stored with NX and never expire: a node taken for dead while it stalled cannot store its
// intent afterwards, and commits nothing. So a group is all-or-nothing even when its node dies
// mid-commit, and a key's writers are serialised (no lost update). A node also commits only
// while its lease is fresh (renewed less than lease_ms / 2 ago). Locks asked for together and
// found partly held by another writer go back and are taken one at a time in key order, so
// writers reading the same keys queue instead of deadlocking.
//
// What a reader sees: reads without locks (the store itself, as opposed to a Writer()) see every
// Commit that returned before they started. A MultiGet of the records of one user is one atomic
// read; across users or tables it may see part of a commit that is being applied.
//
// A Scan of kProfiles must lie within one project (from a key of the project up to at most
// PrefixEnd(ProjectPrefix(project)); InvalidArgument otherwise). It sees the users whose index
// entry is there when it reads that partition's page; a user deleted meanwhile is skipped.
// Not supported on this backend (Internal errors that say so): a Scan of kIdentity or kDedup,
// and a DeleteRange outside kEvents and kMeta (either would need a scan of the keyspace).
//
// Thread-safety: the store and each writer may be used from any thread, but a writer's
// transaction is one thread's at a time (the ingest writer's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/keys.h"
#include "core/status.h"
#include "redis/cluster_client.h"
#include "store/store.h"

namespace profiled::cluster {

inline constexpr uint32_t kEventShards = 16;

struct RedisStoreOptions {
  redis::ClusterOptions client;  // seeds, password, timeouts
  // A Commit returns OK only when every write is on this many replicas (WAIT); 0 = the primary.
  int wait_replicas = 1;
  int wait_timeout_ms = 1000;  // below client.command_timeout_ms
  int dedup_window_days = 7;
  uint32_t partitions = kPartitions;
  int lock_wait_ms = 2000;  // how long a read or commit waits for a live writer's lock
  int lease_ms = 10000;     // a node is dead this long after its last lease renewal
  // Members a scan reads per ZRANGEBYLEX of a sorted set (tests make it small to cross pages).
  int scan_page = 512;
  // Tests only: Commit stops right after its intent is stored, as if the node died there
  // (IoError; the locks stay taken).
  bool testing_stop_after_intent = false;
};

class RedisStore : public store::Store {
 public:
  // Connects, checks the nodes' configuration, registers this node's lease and starts renewing
  // it. Errors: the client's (Unavailable when no seed answers, Unauthenticated);
  // InvalidArgument for options out of range, or a node whose maxmemory-policy is not
  // noeviction (a cluster-node-timeout of lease_ms / 2 or more, and a node that does not
  // answer CONFIG GET, are logged as warnings).
  static Result<std::unique_ptr<RedisStore>> Open(RedisStoreOptions options);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // A view of this store whose Get and MultiGet lock what they read (see the top), for the
  // one thread that applies events. It shares this store's connections and lease and must not
  // outlive it.
  std::unique_ptr<store::Store> Writer();

  Status Get(store::Table table, std::string_view key, std::string* value) override;
  Status MultiGet(store::Table table, const std::vector<std::string>& keys,
                  std::vector<std::string>* values, std::vector<Status>* statuses) override;
  Status Commit(const store::WriteSet& writes, bool sync) override;
  Status Scan(store::Table table, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override;
  Status DeleteRange(store::Table table, std::string_view begin, std::string_view end) override;
  // Not measured on this backend: 0 (the cluster's memory is Redis's INFO memory).
  uint64_t ApproximateSizeBytes() override { return 0; }
  // OK when this node's lease is fresh and every slot has a primary; else Unavailable saying
  // which.
  Status Health() override;
  bool Shared() const override { return true; }
  Status ReserveIds(std::string_view key, uint64_t count, uint64_t* first) override;
  // Reads of one user's records on `loop`'s own connections (one per primary), pipelined, with
  // every other read and every failure left to MultiGet.
  std::unique_ptr<store::AsyncReads> NewAsyncReads(boost::asio::io_context& loop) override;

  // This node's id in lock values and its lease key (16 hex digits, random per Open).
  const std::string& node_id() const;

  // Tests only: stops renewing this node's lease and deletes it, as if the node died; its
  // locks are then taken over by the next writer that needs them.
  void StopLeaseForTesting();

  class Impl;

 private:
  explicit RedisStore(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace profiled::cluster
