#include <gtest/gtest.h>
#include <rocksdb/file_system.h>

#include <atomic>

#include "core/temp_dir.h"
#include "store/keys.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::store {
namespace {

// How the disk fails while a FailingFileSystem is failing.
enum class DiskFault : int {
  kNone,
  kBroken,    // every file creation, write, flush and sync fails with an I/O error
  kFull,      // the same, with "no space" (RocksDB can resume from this in place)
  kSyncOnly,  // writes reach the OS, syncs fail
};

// The local file system with faults switched on and off by the test.
class FailingFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FailingFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FailingFileSystem"; }
  void SetFailing(bool failing) { SetFault(failing ? DiskFault::kBroken : DiskFault::kNone); }
  void SetFault(DiskFault fault) { fault_->store(static_cast<int>(fault)); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus injected = Injected(*fault_, /*sync=*/false);
    if (!injected.ok()) return injected;
    std::unique_ptr<rocksdb::FSWritableFile> real;
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, &real, dbg);
    if (s.ok()) *file = std::make_unique<File>(std::move(real), fault_);
    return s;
  }

 private:
  using Fault = std::shared_ptr<std::atomic<int>>;

  static rocksdb::IOStatus Injected(const std::atomic<int>& fault, bool sync) {
    switch (static_cast<DiskFault>(fault.load())) {
      case DiskFault::kNone: return rocksdb::IOStatus::OK();
      case DiskFault::kBroken: return rocksdb::IOStatus::IOError("injected: I/O error");
      case DiskFault::kFull: return rocksdb::IOStatus::NoSpace("injected: disk full");
      case DiskFault::kSyncOnly:
        return sync ? rocksdb::IOStatus::IOError("injected: sync failed") : rocksdb::IOStatus::OK();
    }
    return rocksdb::IOStatus::OK();
  }

  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> real, Fault fault)
        : FSWritableFileOwnerWrapper(std::move(real)), fault_(std::move(fault)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (auto e = Injected(*fault_, false); !e.ok()) return e;
      return FSWritableFileOwnerWrapper::Append(data, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (auto e = Injected(*fault_, false); !e.ok()) return e;
      return FSWritableFileOwnerWrapper::Append(data, o, info, dbg);
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (auto e = Injected(*fault_, false); !e.ok()) return e;
      return FSWritableFileOwnerWrapper::Flush(o, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (auto e = Injected(*fault_, true); !e.ok()) return e;
      return FSWritableFileOwnerWrapper::Sync(o, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (auto e = Injected(*fault_, true); !e.ok()) return e;
      return FSWritableFileOwnerWrapper::Fsync(o, dbg);
    }

   private:
    Fault fault_;
  };

  // Shared with the files handed out, which may outlive a failing phase.
  Fault fault_ = std::make_shared<std::atomic<int>>(static_cast<int>(DiskFault::kNone));
};

std::unique_ptr<Store> Open(const std::string& path, const Clock* clock = &SystemClock::Instance(),
                            std::shared_ptr<rocksdb::FileSystem> file_system = nullptr) {
  RocksDbOptions o;
  o.path = path;
  o.block_cache_bytes = 8 << 20;
  o.clock = clock;
  o.file_system = std::move(file_system);
  auto r = OpenRocksDbStore(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r.value());
}

TEST(RocksDbStore, CommitIsVisibleAndSurvivesReopen) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    WriteSet w;
    w.Put(Table::kIdentity, "k1", "v1");
    w.Put(Table::kProfiles, "k1", "other-table");
    ASSERT_TRUE(store->Commit(w, /*sync=*/true).ok());
    std::string v;
    ASSERT_TRUE(store->Get(Table::kIdentity, "k1", &v).ok());
    EXPECT_EQ(v, "v1");
    ASSERT_TRUE(store->Get(Table::kProfiles, "k1", &v).ok());
    EXPECT_EQ(v, "other-table");
  }
  auto store = Open(dir.path());
  std::string v;
  ASSERT_TRUE(store->Get(Table::kIdentity, "k1", &v).ok());
  EXPECT_EQ(v, "v1");
}

TEST(RocksDbStore, MissingKeyIsNotFound) {
  TempDir dir;
  auto store = Open(dir.path());
  std::string v;
  EXPECT_TRUE(store->Get(Table::kMeta, "nope", &v).IsNotFound());
}

TEST(RocksDbStore, DeletesInACommitApply) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet w;
  w.Put(Table::kMeta, "a", "1");
  ASSERT_TRUE(store->Commit(w, false).ok());
  WriteSet d;
  d.Delete(Table::kMeta, "a");
  ASSERT_TRUE(store->Commit(d, false).ok());
  std::string v;
  EXPECT_TRUE(store->Get(Table::kMeta, "a", &v).IsNotFound());
}

TEST(RocksDbStore, ScanIsOrderedAndBounded) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet w;
  for (const char* k : {"a1", "a3", "a2", "b1"}) w.Put(Table::kEvents, k, k);
  ASSERT_TRUE(store->Commit(w, false).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store
                  ->Scan(Table::kEvents, "a", "b",
                         [&](std::string_view k, std::string_view) {
                           seen.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "a2", "a3"}));
}

TEST(RocksDbStore, DeleteRangeRemovesOnlyTheRange) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet w;
  w.Put(Table::kEvents, EventKey("p", 100, 0), "old");
  w.Put(Table::kEvents, EventKey("p", 200, 1), "new");
  w.Put(Table::kEvents, EventKey("q", 100, 2), "other project");
  ASSERT_TRUE(store->Commit(w, false).ok());
  ASSERT_TRUE(
      store->DeleteRange(Table::kEvents, EventKeyLowerBound("p", 0), EventKeyLowerBound("p", 150))
          .ok());
  std::string v;
  EXPECT_TRUE(store->Get(Table::kEvents, EventKey("p", 100, 0), &v).IsNotFound());
  EXPECT_TRUE(store->Get(Table::kEvents, EventKey("p", 200, 1), &v).ok());
  EXPECT_TRUE(store->Get(Table::kEvents, EventKey("q", 100, 2), &v).ok());
}

TEST(RocksDbStore, OpeningAFileAsTheDataDirFailsWithAMessage) {
  TempDir dir;
  std::string file = dir.path() + "/file";
  FILE* f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  RocksDbOptions o;
  o.path = file;
  auto r = OpenRocksDbStore(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(file), std::string::npos);
}

WriteSet OnePut(std::string key, std::string value) {
  WriteSet w;
  w.Put(Table::kIdentity, std::move(key), std::move(value));
  return w;
}

TEST(RocksDbStore, AFailingDiskMakesTheStoreUnhealthyUntilItWorksAgain) {
  for (DiskFault fault : {DiskFault::kBroken, DiskFault::kFull, DiskFault::kSyncOnly}) {
    SCOPED_TRACE(static_cast<int>(fault));
    TempDir dir;
    auto fs = std::make_shared<FailingFileSystem>();
    ManualClock clock(1767225600000);
    auto store = Open(dir.path(), &clock, fs);
    ASSERT_TRUE(store->Commit(OnePut("before", "1"), /*sync=*/true).ok());
    EXPECT_TRUE(store->Health().ok());

    fs->SetFault(fault);
    EXPECT_FALSE(store->Commit(OnePut("failed", "1"), /*sync=*/true).ok());
    EXPECT_FALSE(store->Health().ok());
    EXPECT_FALSE(store->Commit(OnePut("failed", "2"), /*sync=*/true).ok());
    EXPECT_FALSE(store->Health().ok());

    fs->SetFault(DiskFault::kNone);
    // Health checks try to recover at most every 5 s, so a flood of them cannot keep
    // readers waiting on reopens.
    EXPECT_FALSE(store->Health().ok());
    clock.Advance(5001);
    EXPECT_TRUE(store->Health().ok());
    ASSERT_TRUE(store->Commit(OnePut("after", "1"), /*sync=*/true).ok());
    std::string v;
    EXPECT_TRUE(store->Get(Table::kIdentity, "before", &v).ok());
    EXPECT_TRUE(store->Get(Table::kIdentity, "after", &v).ok());
    Status failed = store->Get(Table::kIdentity, "failed", &v);
    if (fault == DiskFault::kSyncOnly) {
      // The write reached the OS before the sync failed, so it may come back with the WAL
      // (docs/STORAGE.md, "Store failures").
      EXPECT_TRUE(failed.ok() || failed.IsNotFound()) << failed.ToString();
    } else {
      EXPECT_TRUE(failed.IsNotFound()) << failed.ToString();
    }
  }
}

TEST(RocksDbStore, TheFirstCommitAfterTheDiskHealsSucceedsWithoutAHealthCheck) {
  TempDir dir;
  auto fs = std::make_shared<FailingFileSystem>();
  {
    auto store = Open(dir.path(), &SystemClock::Instance(), fs);
    fs->SetFailing(true);
    EXPECT_FALSE(store->Commit(OnePut("lost", "1"), /*sync=*/true).ok());
    fs->SetFailing(false);
    ASSERT_TRUE(store->Commit(OnePut("after", "1"), /*sync=*/true).ok());
  }
  auto store = Open(dir.path());
  std::string v;
  EXPECT_TRUE(store->Get(Table::kIdentity, "after", &v).ok());
  EXPECT_TRUE(store->Get(Table::kIdentity, "lost", &v).IsNotFound());
}

TEST(RocksDbStore, ReadsKeepWorkingWhileTheDiskFails) {
  TempDir dir;
  auto fs = std::make_shared<FailingFileSystem>();
  auto store = Open(dir.path(), &SystemClock::Instance(), fs);
  ASSERT_TRUE(store->Commit(OnePut("before", "1"), /*sync=*/true).ok());
  fs->SetFailing(true);
  EXPECT_FALSE(store->Commit(OnePut("lost", "1"), /*sync=*/true).ok());
  EXPECT_FALSE(store->Health().ok());
  std::string v;
  EXPECT_TRUE(store->Get(Table::kIdentity, "before", &v).ok());
  EXPECT_EQ(v, "1");
}

}  // namespace
}  // namespace profiled::store
