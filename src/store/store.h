// Store: the narrow storage interface every layer above talks to.
//
// The data model is a handful of ordered key-value tables (Table). Keys are built by
// store/keys.h and always begin with the project, so projects never share a key. Writes
// are grouped into a WriteSet and committed atomically; a Commit that returns OK with
// sync=true is on stable storage. A backend needs only point reads, atomic multi-key
// writes, snapshot multi-key reads, ordered scans and range deletes. The Redis Cluster backend
// (cluster/redis_store.h) implements it for several writers at once, with the few methods at
// the end for writers that share a store.
//
// Thread-safety: every method may be called from any thread concurrently. Reads see
// every Commit that returned before they started.
//
// A backend may fail a read or a Commit with Aborted: it gave up waiting for another writer
// of a shared store (Shared()) to release a key. Nothing of the caller's writes was applied;
// the caller ends its transaction (EndTransaction) and may try again from its first read.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/status.h"

namespace rocksdb {
class FileSystem;
}
namespace boost::asio {
class io_context;
}

namespace profiled::store {

enum class Table : uint8_t {
  kMeta = 0,  // counters and schema version
  kIdentity,  // user_id -> amplitude_id, device_id -> amplitude_id, merges
  kProfiles,  // (amplitude_id, record tag) -> the user's records (keys.h UserRecord)
  kDedup,     // (scope, insert_id) -> time first seen; expires after the dedup window
  kEvents,    // (ingest time, sequence) -> EventRecord; expires after the retention
};
inline constexpr int kTableCount = 5;

// An ordered list of puts and deletes applied all-or-nothing by Store::Commit.
class WriteSet {
 public:
  struct Op {
    Table table;
    bool is_delete;
    std::string key;
    std::string value;
  };
  void Put(Table table, std::string key, std::string value) {
    ops_.push_back({table, false, std::move(key), std::move(value)});
  }
  void Delete(Table table, std::string key) { ops_.push_back({table, true, std::move(key), {}}); }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }

 private:
  std::vector<Op> ops_;
};

// Reads that wait on an event loop instead of blocking a thread, for a caller on that loop (the
// HTTP server's I/O threads) when the store is across a network. Not thread-safe: one belongs to
// one loop, and is called and answers on the thread that runs it.
class AsyncReads {
 public:
  // What Store::MultiGet gives: the call's status, then one value and one status per key.
  using Done = std::function<void(Status s, std::vector<std::string>& values,
                                  std::vector<Status>& statuses)>;
  virtual ~AsyncReads() = default;

  // Starts Store::MultiGet(table, keys, ...) and returns true; `done` is called once, later,
  // with what that MultiGet would have given (the same snapshot and read-your-writes rules).
  // A non-OK status means only that the read could not be made this way (a connection failure,
  // a timeout, a redirect while the cluster changes): the caller reads again with
  // Store::MultiGet, which also waits out failovers and migrations. Returns false, and never
  // calls `done`, for keys this way cannot read (the caller uses Store::MultiGet at once).
  virtual bool MultiGet(Table table, const std::vector<std::string>& keys, Done done) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Reads one value into *value (overwritten). NotFound if absent; IoError/Corruption if
  // the backend fails.
  virtual Status Get(Table table, std::string_view key, std::string* value) = 0;

  // Reads keys[i] of `table` into (*values)[i], every value from one consistent snapshot:
  // a Commit is either wholly seen by the call or not at all. Both vectors are resized to
  // keys.size(); (*statuses)[i] is OK, or NotFound when keys[i] is absent (then
  // (*values)[i] is empty), or the backend's error for that key. Returns the backend's
  // failure (IoError, Corruption) when it could not read at all; then the vectors' contents
  // are unspecified.
  virtual Status MultiGet(Table table, const std::vector<std::string>& keys,
                          std::vector<std::string>* values, std::vector<Status>* statuses) = 0;

  // Applies every op of `writes` atomically. With sync, returns only after the write is
  // on stable storage (one fsync is shared by concurrent commits). A backend whose disk
  // cannot take the write answers DiskFull() or DiskFailed() below: nothing was applied
  // (but see docs/STORAGE.md, "Store failures", on a failed sync), retry later.
  virtual Status Commit(const WriteSet& writes, bool sync) = 0;

  // Calls fn(key, value) for keys in [begin, end) in order, until fn returns false. The
  // views are valid only during the call.
  virtual Status Scan(Table table, std::string_view begin, std::string_view end,
                      const std::function<bool(std::string_view, std::string_view)>& fn) = 0;

  // Deletes every key in [begin, end).
  virtual Status DeleteRange(Table table, std::string_view begin, std::string_view end) = 0;

  // Approximate bytes on disk, for /metrics.
  virtual uint64_t ApproximateSizeBytes() = 0;

  // Whether the store can take writes now: OK, or an error with a short reason (for
  // /healthz; DiskFull() or DiskFailed() when the disk is the reason). A backend that
  // stopped writing after a failed write or sync tries to recover here (and before its next
  // Commit), so OK again means writes work again.
  virtual Status Health() = 0;

  // --- Stores shared by several writers (the Redis Cluster backend, cluster/redis_store.h).

  // Whether other processes write this store too. Then a writer keeps nothing it read across
  // its commits, and takes counters with ReserveIds instead of reading and writing them.
  virtual bool Shared() const { return false; }

  // Adds `count` to the kMeta counter at `key` (a value of EncodeId, absent = 0) in one atomic
  // step, durable on return, and sets *first to the old value: the caller owns the `count`
  // values from there. REQUIRES: Shared(). Errors: the backend's; Internal when the store is
  // not shared.
  virtual Status ReserveIds(std::string_view /*key*/, uint64_t /*count*/, uint64_t* /*first*/) {
    return Status::Internal("ReserveIds on a store that is not shared");
  }

  // Ends the caller's transaction: what a shared store holds for the keys read since the last
  // Commit or EndTransaction (the Redis Cluster writer's locks) is released. The writer calls
  // it after each commit group, committed or not. A no-op for a store that holds nothing.
  virtual void EndTransaction() {}

  // Reads for a caller on `loop` that must not block it (AsyncReads), or null when this store
  // has none (its reads are quick enough to make on the caller's thread). The result must be
  // destroyed before the store, on the loop's thread or once the loop has stopped.
  virtual std::unique_ptr<AsyncReads> NewAsyncReads(boost::asio::io_context& /*loop*/) {
    return nullptr;
  }
};

// What a store answers while its disk cannot take writes: Unavailable, with a message fit for
// a client (the detail, paths and the OS's error text, goes to the log). DiskFull: the disk
// (or file system) is out of space; DiskFailed: it failed a write or a sync otherwise.
Status DiskFull();
Status DiskFailed();
// Whether `s` is one of the two.
bool IsDiskFailure(const Status& s);

struct RocksDbOptions {
  std::string path;
  size_t block_cache_bytes = 512ull << 20;
  // Caches whole values by key for point reads (0 = off). A hit skips the index and data
  // block searches, which dominate the Profile API's reads.
  size_t row_cache_bytes = 256ull << 20;
  int dedup_window_days = 7;  // dedup entries older than this are dropped at compaction
  const Clock* clock = &SystemClock::Instance();
  // The file system RocksDB writes through; null = the default (the local disk). A fault
  // injection seam for tests, which wrap the default to fail writes and syncs on demand.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// Opens (creating if needed) the embedded RocksDB store at options.path.
//
// After a failed write or sync RocksDB stops taking writes (its background-error state).
// The store then answers DiskFull() or DiskFailed() to each Commit and DeleteRange (reads
// still work) until it recovers: right after the failure, before the next write and from
// Health() it checks that the disk takes a synced write again and, once it does, closes and
// reopens the database (replaying the WAL), so writes resume without a restart. A reopen
// that fails (the disk took the probe but not the reopen) falls back to opening the
// database read-only, so reads go on, and is tried again with a growing pause.
Result<std::unique_ptr<Store>> OpenRocksDbStore(const RocksDbOptions& options);

}  // namespace profiled::store
