// The embedded backend: one RocksDB database, one column family per Table.
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "core/log.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::store {

namespace {

// Index = Table. "default" is RocksDB's own name for the column family every DB has.
constexpr std::array<const char*, kTableCount> kFamilyNames = {"default", "identity", "profiles",
                                                               "dedup", "events"};

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound("not found");
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  return Status::IoError(s.ToString());
}

// What a failed write or probe tells the caller (store.h); its detail goes to the log.
Status DiskError(const rocksdb::Status& s) { return s.IsNoSpace() ? DiskFull() : DiskFailed(); }

// RocksDB's own log, sent to profiled's (stderr) instead of a LOG file in the data dir. The
// file would sit on the disk that fills up, and RocksDB 7.8 as Debian builds it (assertions
// on) aborts the process on the first line logged after a write to that file failed
// (WritableFileWriter: "Assertion `sync_without_flush_called_' failed").
class RocksLog final : public rocksdb::Logger {
 public:
  RocksLog() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::WARN_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    std::array<char, 1024> line{};
    int n = std::vsnprintf(line.data(), line.size(), format, ap);
    if (n < 0) return;
    std::string_view text(line.data(), std::min(static_cast<size_t>(n), line.size() - 1));
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    Log(level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? LogLevel::kError : LogLevel::kWarn,
        "rocksdb: " + std::string(text));
  }
};

// Turns RocksDB's own recovery from background errors off: the store recovers by reopening
// (Recover below). RocksDB 7.8 resumes after a "no space" error once its SstFileManager sees
// free space, and then reuses the WAL writer that failed, which aborts the process on its
// next write (the same assertion as above).
class NoAutoRecovery final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "profiled.NoAutoRecovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

// Drops dedup entries older than the window when RocksDB compacts them; readers also
// check the age, so an entry that is not yet compacted away is still ignored.
class DedupExpiry final : public rocksdb::CompactionFilter {
 public:
  DedupExpiry(const Clock* clock, int64_t window_ms) : clock_(clock), window_ms_(window_ms) {}
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    int64_t first_seen = 0;
    if (!DecodeDedup(std::string_view(value.data(), value.size()), &first_seen).ok()) return true;
    return first_seen < clock_->NowMs() - window_ms_;
  }
  const char* Name() const override { return "profiled.DedupExpiry"; }

 private:
  const Clock* clock_;
  int64_t window_ms_;
};

class RocksDbStore final : public Store {
 public:
  explicit RocksDbStore(std::unique_ptr<DedupExpiry> dedup_filter)
      : dedup_filter_(std::move(dedup_filter)) {}

  ~RocksDbStore() override { CloseDb(); }

  Status Open(const RocksDbOptions& o) {
    std::error_code ec;
    std::filesystem::create_directories(o.path, ec);
    if (ec) return Status::IoError("cannot create data dir " + o.path + ": " + ec.message());
    path_ = o.path;
    clock_ = o.clock;

    cache_ = rocksdb::NewLRUCache(o.block_cache_bytes);
    rocksdb::DBOptions& db_options = db_options_;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.max_background_jobs = 2;
    db_options.bytes_per_sync = 1 << 20;
    db_options.max_total_wal_size = 256ull << 20;
    db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    db_options.info_log = std::make_shared<RocksLog>();
    db_options.listeners.push_back(std::make_shared<NoAutoRecovery>());
    db_options.max_bgerror_resume_count = 0;  // no automatic resume either: Recover below
    if (o.row_cache_bytes > 0) db_options.row_cache = rocksdb::NewLRUCache(o.row_cache_bytes);
    if (o.file_system != nullptr) {
      env_ = rocksdb::NewCompositeEnv(o.file_system);
      db_options.env = env_.get();
    }

    std::vector<rocksdb::ColumnFamilyDescriptor>& families = families_;
    for (int t = 0; t < kTableCount; ++t) {
      rocksdb::ColumnFamilyOptions cf;
      rocksdb::BlockBasedTableOptions table;
      table.block_cache = cache_;
      // Indexes and filters live in the block cache, cut in 4 KiB partitions under a pinned
      // top level, so a lookup loads the partition it needs. Whole filters grow with a file's
      // keys (10 bits each: a 6.9M-entry dedup file has a 7.9 MB filter), and one larger than
      // a cache shard (512 MB / 64 shards) is never kept: every Get read it from the file and
      // checksummed it whole, and ingestion fell from 18,000 to 1,700 events/s once the dedup
      // table held about 6M insert_ids (docs/BENCHMARKS.md, "Soak").
      table.cache_index_and_filter_blocks = true;
      table.cache_index_and_filter_blocks_with_high_priority = true;
      table.pin_l0_filter_and_index_blocks_in_cache = true;
      table.pin_top_level_index_and_filter = true;
      table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
      table.metadata_block_size = 4096;
      table.format_version = 5;
      auto table_kind = static_cast<Table>(t);
      if (table_kind != Table::kEvents) {
        // Point lookups dominate: bloom filters let misses (new ids, new insert_ids) skip
        // the disk, also in the memtable.
        table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
        table.partition_filters = true;
        table.whole_key_filtering = true;
        cf.memtable_whole_key_filtering = true;
        cf.memtable_prefix_bloom_size_ratio = 0.05;
        cf.optimize_filters_for_hits = false;
      }
      cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
      cf.write_buffer_size = 64ull << 20;
      cf.compression = rocksdb::kLZ4Compression;
      cf.bottommost_compression = rocksdb::kZSTD;
      cf.level_compaction_dynamic_level_bytes = true;
      if (table_kind == Table::kDedup) cf.compaction_filter = dedup_filter_.get();
      families.emplace_back(kFamilyNames[t], cf);
    }
    rocksdb::Status opened = OpenDb();
    if (!opened.ok()) {
      return Status::IoError("cannot open store at " + path_ + ": " + opened.ToString());
    }
    return Status::Ok();
  }

  Status Get(Table table, std::string_view key, std::string* value) override {
    std::shared_lock<std::shared_mutex> lock;
    PROFILED_RETURN_IF_ERROR(LockOpen(&lock));
    rocksdb::ReadOptions ro;
    return FromRocks(db_->Get(ro, Handle(table), rocksdb::Slice(key.data(), key.size()), value));
  }

  Status MultiGet(Table table, const std::vector<std::string>& keys,
                  std::vector<std::string>* values, std::vector<Status>* statuses) override {
    values->resize(keys.size());
    statuses->resize(keys.size());
    if (keys.empty()) return Status::Ok();
    std::shared_lock<std::shared_mutex> lock;
    PROFILED_RETURN_IF_ERROR(LockOpen(&lock));
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (const auto& k : keys) slices.emplace_back(k.data(), k.size());
    std::vector<rocksdb::PinnableSlice> pinned(keys.size());
    std::vector<rocksdb::Status> results(keys.size());
    // The batched MultiGet reads every key at one sequence number (it takes the column
    // family's current version and the last sequence together), which is the snapshot the
    // contract promises, without the DB-wide mutex an explicit GetSnapshot would take.
    rocksdb::ReadOptions ro;
    db_->MultiGet(ro, Handle(table), keys.size(), slices.data(), pinned.data(), results.data());
    for (size_t i = 0; i < keys.size(); ++i) {
      const rocksdb::Status& r = results[i];
      if (r.ok()) {
        (*values)[i].assign(pinned[i].data(), pinned[i].size());
        (*statuses)[i] = Status::Ok();
        continue;
      }
      (*values)[i].clear();
      (*statuses)[i] = FromRocks(r);
      // A key the backend could not read at all fails the call (NotFound is an answer).
      if (!r.IsNotFound()) return (*statuses)[i];
    }
    return Status::Ok();
  }

  Status Commit(const WriteSet& writes, bool sync) override {
    if (writes.empty()) return Status::Ok();
    if (write_failed_.load(std::memory_order_acquire)) PROFILED_RETURN_IF_ERROR(Recover());
    rocksdb::Status s;
    {
      // The batch names column-family handles, which a recovery replaces: build it under
      // the lock too.
      std::shared_lock<std::shared_mutex> lock;
      PROFILED_RETURN_IF_ERROR(LockOpen(&lock));
      rocksdb::WriteBatch batch;
      for (const auto& op : writes.ops()) {
        rocksdb::Status b = op.is_delete ? batch.Delete(Handle(op.table), op.key)
                                         : batch.Put(Handle(op.table), op.key, op.value);
        if (!b.ok()) return FromRocks(b);
      }
      rocksdb::WriteOptions wo;
      wo.sync = sync;
      s = db_->Write(wo, &batch);
    }
    if (s.ok()) return Status::Ok();
    return WriteFailed(s);
  }

  Status Health() override {
    if (!write_failed_.load(std::memory_order_acquire)) return Status::Ok();
    // Health checks come from I/O threads, possibly often: try to recover (a probe fsync,
    // then a reopen that holds every reader back) at most once per kHealthRecoverEveryMs;
    // the writer's next commit tries on its own anyway.
    int64_t now = clock_->NowMs();
    int64_t last = last_health_recover_ms_.load(std::memory_order_relaxed);
    if (now - last < kHealthRecoverEveryMs ||
        !last_health_recover_ms_.compare_exchange_strong(last, now)) {
      return CurrentFailure();
    }
    return Recover();
  }

  Status Scan(Table table, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::shared_lock<std::shared_mutex> lock;
    PROFILED_RETURN_IF_ERROR(LockOpen(&lock));
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper(end.data(), end.size());
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, Handle(table)));
    for (it->Seek(rocksdb::Slice(begin.data(), begin.size())); it->Valid(); it->Next()) {
      auto k = it->key();
      auto v = it->value();
      if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
    }
    return FromRocks(it->status());
  }

  Status DeleteRange(Table table, std::string_view begin, std::string_view end) override {
    if (write_failed_.load(std::memory_order_acquire)) PROFILED_RETURN_IF_ERROR(Recover());
    rocksdb::Status s;
    {
      std::shared_lock<std::shared_mutex> lock;
      PROFILED_RETURN_IF_ERROR(LockOpen(&lock));
      rocksdb::WriteOptions wo;
      s = db_->DeleteRange(wo, Handle(table), rocksdb::Slice(begin.data(), begin.size()),
                           rocksdb::Slice(end.data(), end.size()));
    }
    if (s.ok()) return Status::Ok();
    return WriteFailed(s);
  }

  uint64_t ApproximateSizeBytes() override {
    std::shared_lock<std::shared_mutex> lock(db_mu_);
    if (db_ == nullptr) return 0;
    uint64_t total = 0;
    for (auto* h : handles_) {
      uint64_t v = 0;
      if (db_->GetIntProperty(h, "rocksdb.live-sst-files-size", &v)) total += v;
      if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
    }
    return total;
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(Table t) { return handles_[static_cast<size_t>(t)]; }

  // Takes db_mu_ shared into *lock, first retrying the recovery when a failed reopen left
  // the store closed.
  Status LockOpen(std::shared_lock<std::shared_mutex>* lock) {
    *lock = std::shared_lock<std::shared_mutex>(db_mu_);
    if (db_ != nullptr) return Status::Ok();
    lock->unlock();
    PROFILED_RETURN_IF_ERROR(Recover());
    lock->lock();
    if (db_ == nullptr) return Status::IoError("store is closed after a failed write");
    return Status::Ok();
  }

  // A write the database refused: RocksDB now refuses every write (its background-error
  // state) until the store recovers. Logs the detail once per failure; the caller gets
  // DiskFull() or DiskFailed().
  Status WriteFailed(const rocksdb::Status& s) {
    failure_.store(s.IsNoSpace() ? kFailureFull : kFailureOther, std::memory_order_relaxed);
    if (!write_failed_.exchange(true, std::memory_order_acq_rel)) {
      LogError("store write failed; writes are refused until the disk takes them again: " +
               s.ToString());
    }
    // Recover at once when the failure was a passing one (the disk already works again).
    Status recovered = Recover();
    return recovered.ok() ? DiskError(s) : recovered;
  }

  Status CurrentFailure() const {
    return failure_.load(std::memory_order_relaxed) == kFailureFull ? DiskFull() : DiskFailed();
  }

  // REQUIRES: db_ == nullptr and db_mu_ held exclusively (or no other thread yet). On
  // failure db_ stays null.
  rocksdb::Status OpenDb(bool read_only = false) {
    rocksdb::DB* db = nullptr;
    rocksdb::Status s =
        read_only ? rocksdb::DB::OpenForReadOnly(db_options_, path_, families_, &handles_, &db)
                  : rocksdb::DB::Open(db_options_, path_, families_, &handles_, &db);
    if (s.ok()) db_ = db;
    return s;
  }

  // REQUIRES: db_mu_ held exclusively (or no other thread left).
  void CloseDb() {
    if (db_ == nullptr) return;
    // Flush memtables so the next open does not replay a large WAL; errors are moot here
    // (a database that failed a write, or is read-only, flushes nothing).
    rocksdb::FlushOptions fo;
    (void)db_->Flush(fo, handles_);
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    (void)db_->Close();
    delete db_;  // RocksDB's Open hands out a raw pointer; this is its only owner.
    db_ = nullptr;
  }

  // Writes and syncs a small file next to the database: whether the disk takes writes now.
  rocksdb::IOStatus ProbeDisk() {
    rocksdb::FileSystem* fs = db_options_.env->GetFileSystem().get();
    std::string name = path_ + "/PROFILED-WRITE-PROBE";
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOOptions io;
    rocksdb::IOStatus s = fs->NewWritableFile(name, rocksdb::FileOptions(), &file, nullptr);
    // One page: what a write of the WAL takes at the least.
    if (s.ok()) s = file->Append(std::string(4096, 'p'), io, nullptr);
    if (s.ok()) s = file->Sync(io, nullptr);
    if (file != nullptr) {
      rocksdb::IOStatus closed = file->Close(io, nullptr);
      if (s.ok()) s = closed;
    }
    (void)fs->DeleteFile(name, io, nullptr);
    return s;
  }

  // Brings the store back to taking writes once the disk does; OK when it takes them.
  // While the disk still fails, the open database keeps serving reads and this costs one
  // probe (no lock readers wait for). Then the database is closed and reopened (which
  // replays the WAL) rather than Resume()d: RocksDB 7.8 cannot resume in place after a
  // failed WAL write (Resume refuses, or a later write trips an assertion in its WAL
  // writer). A reopen can fail where the probe passed (replaying the WAL writes its
  // memtables to new files): then the database is opened read-only, so reads go on, and
  // the next probe and reopen wait kReopenPauseMs, doubling up to kMaxReopenPauseMs, so a disk
  // with a little room does not make every write close and replay the database.
  Status Recover() {
    std::lock_guard<std::mutex> recovering(recover_mu_);
    if (!write_failed_.load(std::memory_order_acquire)) return Status::Ok();
    // Within the pause after a failed reopen, not even a probe.
    const int64_t now = clock_->NowMs();
    if (now < next_reopen_ms_) return CurrentFailure();
    rocksdb::IOStatus probe = ProbeDisk();
    if (!probe.ok()) {
      failure_.store(probe.IsNoSpace() ? kFailureFull : kFailureOther, std::memory_order_relaxed);
      return DiskError(probe);
    }
    {
      std::unique_lock<std::shared_mutex> lock(db_mu_);
      CloseDb();
      rocksdb::Status opened = OpenDb();
      if (!opened.ok()) {
        failure_.store(opened.IsNoSpace() ? kFailureFull : kFailureOther,
                       std::memory_order_relaxed);
        reopen_pause_ms_ =
            std::min(std::max(2 * reopen_pause_ms_, kReopenPauseMs), kMaxReopenPauseMs);
        next_reopen_ms_ = now + reopen_pause_ms_;
        rocksdb::Status read_only = OpenDb(/*read_only=*/true);
        LogError("store reopen after a failed write failed (" + opened.ToString() +
                 "); serving reads from the database opened read-only" +
                 (read_only.ok() ? "" : " failed too (" + read_only.ToString() + ")") +
                 "; next attempt in " + std::to_string(reopen_pause_ms_) + " ms");
        return CurrentFailure();
      }
    }
    reopen_pause_ms_ = 0;
    next_reopen_ms_ = 0;
    write_failed_.store(false, std::memory_order_release);
    LogWarn("store recovered from a failed write; writes resume");
    return Status::Ok();
  }

  std::unique_ptr<DedupExpiry> dedup_filter_;
  std::shared_ptr<rocksdb::Cache> cache_;  // shared with RocksDB's table factories
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::Env> env_;  // set with a custom file system; outlives db_
  std::string path_;
  rocksdb::DBOptions db_options_;                          // kept to reopen
  std::vector<rocksdb::ColumnFamilyDescriptor> families_;  // kept to reopen
  // Shared by every operation; exclusive only to reopen, so the hot path pays one
  // uncontended shared lock.
  std::shared_mutex db_mu_;
  // Guarded by db_mu_; null only after a failed reopen whose read-only open failed too.
  // Read-only (after a failed reopen) only while write_failed_.
  rocksdb::DB* db_ = nullptr;
  std::atomic<bool> write_failed_{false};  // a write failed and the store has not recovered
  static constexpr int kFailureFull = 1;   // failure_: the disk is full
  static constexpr int kFailureOther = 2;  // failure_: any other write error
  std::atomic<int> failure_{0};            // why, while write_failed_
  // Held by Recover: one recovery at a time, without holding readers back while it probes.
  std::mutex recover_mu_;
  static constexpr int64_t kReopenPauseMs = 1000;
  static constexpr int64_t kMaxReopenPauseMs = 8000;
  int64_t reopen_pause_ms_ = 0;  // guarded by recover_mu_: after failed reopens
  int64_t next_reopen_ms_ = 0;   // guarded by recover_mu_: no reopen before this time
  static constexpr int64_t kHealthRecoverEveryMs = 5000;
  const Clock* clock_ = nullptr;
  std::atomic<int64_t> last_health_recover_ms_{INT64_MIN / 2};
};

}  // namespace

Result<std::unique_ptr<Store>> OpenRocksDbStore(const RocksDbOptions& options) {
  auto store = std::make_unique<RocksDbStore>(std::make_unique<DedupExpiry>(
      options.clock, static_cast<int64_t>(options.dedup_window_days) * 86400000));
  PROFILED_RETURN_IF_ERROR(store->Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace profiled::store
