// The embedded backend: one RocksDB database, one column family per Table.
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <filesystem>

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

  ~RocksDbStore() override {
    if (db_ == nullptr) return;
    // Flush memtables so the next open does not replay a large WAL; errors are moot here.
    rocksdb::FlushOptions fo;
    (void)db_->Flush(fo, handles_);
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
    delete db_;  // RocksDB's Open hands out a raw pointer; this is its only owner.
  }

  Status Open(const RocksDbOptions& o) {
    std::error_code ec;
    std::filesystem::create_directories(o.path, ec);
    if (ec) return Status::IoError("cannot create data dir " + o.path + ": " + ec.message());

    cache_ = rocksdb::NewLRUCache(o.block_cache_bytes);
    rocksdb::DBOptions db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.max_background_jobs = 2;
    db_options.bytes_per_sync = 1 << 20;
    db_options.max_total_wal_size = 256ull << 20;
    db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    db_options.keep_log_file_num = 2;
    if (o.row_cache_bytes > 0) db_options.row_cache = rocksdb::NewLRUCache(o.row_cache_bytes);

    std::vector<rocksdb::ColumnFamilyDescriptor> families;
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
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(db_options, o.path, families, &handles_, &db);
    if (!s.ok()) return Status::IoError("cannot open store at " + o.path + ": " + s.ToString());
    db_ = db;
    return Status::Ok();
  }

  Status Get(Table table, std::string_view key, std::string* value) override {
    rocksdb::ReadOptions ro;
    return FromRocks(db_->Get(ro, Handle(table), rocksdb::Slice(key.data(), key.size()), value));
  }

  Status Commit(const WriteSet& writes, bool sync) override {
    if (writes.empty()) return Status::Ok();
    rocksdb::WriteBatch batch;
    for (const auto& op : writes.ops()) {
      rocksdb::Status s = op.is_delete ? batch.Delete(Handle(op.table), op.key)
                                       : batch.Put(Handle(op.table), op.key, op.value);
      if (!s.ok()) return FromRocks(s);
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocks(db_->Write(wo, &batch));
  }

  Status Scan(Table table, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn) override {
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
    rocksdb::WriteOptions wo;
    return FromRocks(db_->DeleteRange(wo, Handle(table), rocksdb::Slice(begin.data(), begin.size()),
                                      rocksdb::Slice(end.data(), end.size())));
  }

  uint64_t ApproximateSizeBytes() override {
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

  std::unique_ptr<DedupExpiry> dedup_filter_;
  std::shared_ptr<rocksdb::Cache> cache_;  // shared with RocksDB's table factories
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::DB* db_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenRocksDbStore(const RocksDbOptions& options) {
  auto store = std::make_unique<RocksDbStore>(std::make_unique<DedupExpiry>(
      options.clock, static_cast<int64_t>(options.dedup_window_days) * 86400000));
  PROFILED_RETURN_IF_ERROR(store->Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace profiled::store
