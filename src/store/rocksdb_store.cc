// The embedded backend: one RocksDB database, one column family per Table.
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

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
    db_options.keep_log_file_num = 2;
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
      table.cache_index_and_filter_blocks = true;
      table.pin_l0_filter_and_index_blocks_in_cache = true;
      table.format_version = 5;
      auto table_kind = static_cast<Table>(t);
      if (table_kind != Table::kEvents) {
        // Point lookups dominate: bloom filters let misses (new ids, new insert_ids) skip
        // the disk, also in the memtable.
        table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
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
    return OpenDb();
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
    Status s;
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
      s = FromRocks(db_->Write(wo, &batch));
    }
    if (!s.ok()) {
      // A failed WAL write or sync leaves RocksDB refusing every write until Resume().
      write_failed_.store(true, std::memory_order_release);
      (void)Recover();
    }
    return s;
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
      return Status::IoError("store cannot write since a failed write; recovery pending");
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
    std::shared_lock<std::shared_mutex> lock;
    PROFILED_RETURN_IF_ERROR(LockOpen(&lock));
    rocksdb::WriteOptions wo;
    return FromRocks(db_->DeleteRange(wo, Handle(table), rocksdb::Slice(begin.data(), begin.size()),
                                      rocksdb::Slice(end.data(), end.size())));
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

  // REQUIRES: db_ == nullptr and db_mu_ held exclusively (or no other thread yet).
  Status OpenDb() {
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(db_options_, path_, families_, &handles_, &db);
    if (!s.ok()) return Status::IoError("cannot open store at " + path_ + ": " + s.ToString());
    db_ = db;
    return Status::Ok();
  }

  // REQUIRES: db_mu_ held exclusively (or no other thread left).
  void CloseDb() {
    if (db_ == nullptr) return;
    // Flush memtables so the next open does not replay a large WAL; errors are moot here.
    rocksdb::FlushOptions fo;
    (void)db_->Flush(fo, handles_);
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    handles_.clear();
    (void)db_->Close();
    delete db_;  // RocksDB's Open hands out a raw pointer; this is its only owner.
    db_ = nullptr;
  }

  // Writes and syncs a small file next to the database: whether the disk takes writes now.
  Status ProbeDisk() {
    rocksdb::FileSystem* fs = db_options_.env->GetFileSystem().get();
    std::string name = path_ + "/PROFILED-WRITE-PROBE";
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOOptions io;
    rocksdb::IOStatus s = fs->NewWritableFile(name, rocksdb::FileOptions(), &file, nullptr);
    if (s.ok()) s = file->Append("probe", io, nullptr);
    if (s.ok()) s = file->Sync(io, nullptr);
    if (file != nullptr) {
      rocksdb::IOStatus closed = file->Close(io, nullptr);
      if (s.ok()) s = closed;
    }
    (void)fs->DeleteFile(name, io, nullptr);
    if (!s.ok()) return Status::IoError(s.ToString());
    return Status::Ok();
  }

  // Brings the store back to taking writes once the disk does. While the disk still fails,
  // the open database keeps serving reads. Then it is closed and reopened (which replays
  // the WAL) rather than Resume()d: RocksDB 7.8 cannot resume in place after a failed WAL
  // write (Resume refuses, or a later write trips an assertion in its WAL writer).
  Status Recover() {
    std::unique_lock<std::shared_mutex> lock(db_mu_);
    if (!write_failed_.load(std::memory_order_acquire)) return Status::Ok();
    Status probe = ProbeDisk();
    if (!probe.ok()) return Status::IoError("store cannot write: " + probe.message());
    CloseDb();
    PROFILED_RETURN_IF_ERROR(OpenDb());
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
  // Shared by every operation; exclusive only to recover (Resume or reopen), so the hot
  // path pays one uncontended shared lock.
  std::shared_mutex db_mu_;
  rocksdb::DB* db_ = nullptr;              // guarded by db_mu_; null only after a failed reopen
  std::atomic<bool> write_failed_{false};  // a write failed and the store has not recovered
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
