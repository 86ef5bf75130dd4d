#include <gtest/gtest.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <thread>

#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"
#include "store/records.h"
#include "store/store.h"
#include "store/store_conformance.h"

namespace profiled::store {
namespace {

// How the disk fails while a FailingFileSystem is failing.
enum class DiskFault : int {
  kNone,
  kBroken,           // every file creation, write, flush and sync fails with an I/O error
  kFull,             // the same, with "no space" (RocksDB can resume from this in place)
  kSyncOnly,         // writes reach the OS, syncs fail
  kNoRoomForTables,  // creating a table file (.sst) fails with "no space"; the rest works
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
    if (static_cast<DiskFault>(fault_->load()) == DiskFault::kNoRoomForTables &&
        name.ends_with(".sst")) {
      return rocksdb::IOStatus::NoSpace("injected: no room for " + name);
    }
    std::unique_ptr<rocksdb::FSWritableFile> real;
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, &real, dbg);
    if (s.ok()) *file = std::make_unique<File>(std::move(real), fault_);
    return s;
  }

 private:
  using Fault = std::shared_ptr<std::atomic<int>>;

  static rocksdb::IOStatus Injected(const std::atomic<int>& fault, bool sync) {
    switch (static_cast<DiskFault>(fault.load())) {
      case DiskFault::kNone:
      case DiskFault::kNoRoomForTables: return rocksdb::IOStatus::OK();
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

// The store contract, on RocksDB: one process, so both "nodes" are the same store.
class RocksDbUnderTest : public StoreUnderTest {
 public:
  RocksDbUnderTest() : store_(Open(dir_.path())) {}
  Store& node() override { return *store_; }
  Store& other() override { return *store_; }
  std::unique_ptr<Store> Writer(bool /*other_node*/) override { return nullptr; }

 private:
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

std::unique_ptr<StoreUnderTest> MakeRocksDb() { return std::make_unique<RocksDbUnderTest>(); }

INSTANTIATE_TEST_SUITE_P(RocksDb, StoreConformance, ::testing::Values(&MakeRocksDb));

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

TEST(RocksDbStore, MultiGetAnswersEveryKeyInOrderWithNotFoundForTheAbsentOnes) {
  TempDir dir;
  {
    // "flushed" reaches an SST file (a clean close flushes); the rest stays in the memtable.
    auto store = Open(dir.path());
    ASSERT_TRUE(store->Commit(OnePut("flushed", "on disk"), false).ok());
  }
  auto store = Open(dir.path());
  WriteSet w;
  w.Put(Table::kIdentity, "b", "2");
  w.Put(Table::kIdentity, "a", "1");
  w.Put(Table::kProfiles, "c", "other table");
  ASSERT_TRUE(store->Commit(w, false).ok());
  std::vector<std::string> values = {"stale"};
  std::vector<Status> statuses;
  ASSERT_TRUE(store
                  ->MultiGet(Table::kIdentity, {"b", "missing", "a", "c", "flushed", "b"}, &values,
                             &statuses)
                  .ok());
  ASSERT_EQ(values.size(), 6u);
  ASSERT_EQ(statuses.size(), 6u);
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(values[0], "2");
  EXPECT_TRUE(statuses[1].IsNotFound());
  EXPECT_EQ(values[1], "");
  EXPECT_EQ(values[2], "1");
  EXPECT_TRUE(statuses[3].IsNotFound()) << "a key of another table";
  EXPECT_TRUE(statuses[4].ok());
  EXPECT_EQ(values[4], "on disk");
  EXPECT_EQ(values[5], "2");

  EXPECT_TRUE(store->MultiGet(Table::kIdentity, {}, &values, &statuses).ok());
  EXPECT_TRUE(values.empty());
  EXPECT_TRUE(statuses.empty());
}

TEST(RocksDbStore, MultiGetKeepsWorkingWhileTheDiskFails) {
  TempDir dir;
  auto fs = std::make_shared<FailingFileSystem>();
  auto store = Open(dir.path(), &SystemClock::Instance(), fs);
  ASSERT_TRUE(store->Commit(OnePut("before", "1"), /*sync=*/true).ok());
  fs->SetFailing(true);
  EXPECT_FALSE(store->Commit(OnePut("lost", "1"), /*sync=*/true).ok());
  std::vector<std::string> values;
  std::vector<Status> statuses;
  ASSERT_TRUE(store->MultiGet(Table::kIdentity, {"before", "lost"}, &values, &statuses).ok());
  EXPECT_EQ(values[0], "1");
  EXPECT_TRUE(statuses[1].IsNotFound());
}

// A commit group as the ingest writer makes one: the events, their dedup records, the
// profile and a counter, all in one WriteSet.
WriteSet AGroup(const std::string& n) {
  WriteSet w;
  w.Put(Table::kEvents, "event-" + n, "e");
  w.Put(Table::kDedup, "dedup-" + n, "d");
  w.Put(Table::kProfiles, "profile-" + n, "p");
  w.Put(Table::kMeta, "counter", n);
  return w;
}

// Whether every record of AGroup(n) is there (1), none is (0), or some are (-1).
int GroupPresent(Store& store, const std::string& n) {
  std::string v;
  int present = 0;
  for (auto [table, key] :
       {std::pair{Table::kEvents, "event-" + n}, std::pair{Table::kDedup, "dedup-" + n},
        std::pair{Table::kProfiles, "profile-" + n}}) {
    Status s = store.Get(table, key, &v);
    EXPECT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
    present += s.ok() ? 1 : 0;
  }
  return present == 3 ? 1 : present == 0 ? 0 : -1;
}

TEST(RocksDbStore, AFullOrFailingDiskRefusesWholeGroupsUntilItTakesWritesAgain) {
  for (DiskFault fault : {DiskFault::kFull, DiskFault::kBroken}) {
    SCOPED_TRACE(static_cast<int>(fault));
    const Status expected = fault == DiskFault::kFull ? DiskFull() : DiskFailed();
    TempDir dir;
    auto fs = std::make_shared<FailingFileSystem>();
    {
      auto store = Open(dir.path(), &SystemClock::Instance(), fs);
      ASSERT_TRUE(store->Commit(AGroup("1"), /*sync=*/true).ok());

      fs->SetFault(fault);
      Status refused = store->Commit(AGroup("2"), /*sync=*/true);
      // Unavailable: what the API answers 503 with Retry-After; the message names the cause.
      EXPECT_EQ(refused.code(), ErrorCode::kUnavailable) << refused.ToString();
      EXPECT_EQ(refused.message(), expected.message());
      EXPECT_TRUE(IsDiskFailure(refused));
      EXPECT_EQ(store->Commit(AGroup("3"), /*sync=*/false).message(), expected.message());
      EXPECT_EQ(store->DeleteRange(Table::kEvents, "a", "z").message(), expected.message());
      EXPECT_EQ(store->Health().message(), expected.message());
      // Nothing of a refused group is visible, and the acknowledged one still reads.
      EXPECT_EQ(GroupPresent(*store, "1"), 1);
      EXPECT_EQ(GroupPresent(*store, "2"), 0);
      EXPECT_EQ(GroupPresent(*store, "3"), 0);
      std::string v;
      ASSERT_TRUE(store->Get(Table::kMeta, "counter", &v).ok());
      EXPECT_EQ(v, "1");

      // The same store object takes writes again once the disk does.
      fs->SetFault(DiskFault::kNone);
      ASSERT_TRUE(store->Commit(AGroup("4"), /*sync=*/true).ok());
      EXPECT_TRUE(store->Health().ok());
      EXPECT_EQ(GroupPresent(*store, "4"), 1);
    }
    // Reopened (the default file system): what was acknowledged, nothing that was refused.
    auto store = Open(dir.path());
    EXPECT_EQ(GroupPresent(*store, "1"), 1);
    EXPECT_EQ(GroupPresent(*store, "2"), 0);
    EXPECT_EQ(GroupPresent(*store, "3"), 0);
    EXPECT_EQ(GroupPresent(*store, "4"), 1);
    std::string v;
    ASSERT_TRUE(store->Get(Table::kMeta, "counter", &v).ok());
    EXPECT_EQ(v, "4");
  }
}

TEST(RocksDbStore, AReopenTheDiskHasNoRoomForServesReadsAndIsTriedAgainAfterAPause) {
  TempDir dir;
  auto fs = std::make_shared<FailingFileSystem>();
  ManualClock clock(1767225600000);
  {
    auto store = Open(dir.path(), &clock, fs);
    ASSERT_TRUE(store->Commit(AGroup("1"), /*sync=*/true).ok());
    fs->SetFault(DiskFault::kFull);
    EXPECT_TRUE(IsDiskFailure(store->Commit(AGroup("2"), /*sync=*/true)));
    // The probe passes now, but the reopen cannot write the tables it replays the WAL into:
    // the store reopens read-only and waits before it tries again.
    fs->SetFault(DiskFault::kNoRoomForTables);
    EXPECT_EQ(store->Commit(AGroup("3"), /*sync=*/true).message(), DiskFull().message());
    EXPECT_EQ(GroupPresent(*store, "1"), 1);
    std::vector<std::string> values;
    std::vector<Status> statuses;
    ASSERT_TRUE(store->MultiGet(Table::kEvents, {"event-1", "event-2"}, &values, &statuses).ok());
    EXPECT_EQ(values[0], "e");
    EXPECT_TRUE(statuses[1].IsNotFound());

    fs->SetFault(DiskFault::kNone);
    EXPECT_EQ(store->Commit(AGroup("4"), /*sync=*/true).message(), DiskFull().message())
        << "a reopen within the pause";
    EXPECT_EQ(GroupPresent(*store, "1"), 1);
    clock.Advance(1001);
    ASSERT_TRUE(store->Commit(AGroup("5"), /*sync=*/true).ok());
    EXPECT_TRUE(store->Health().ok());
  }
  auto store = Open(dir.path());
  EXPECT_EQ(GroupPresent(*store, "1"), 1);
  for (const char* refused : {"2", "3", "4"}) EXPECT_EQ(GroupPresent(*store, refused), 0);
  EXPECT_EQ(GroupPresent(*store, "5"), 1);
}

TEST(FaultStore, MultiGetPassesThroughAndFailsOnDemandCountingAsARead) {
  TempDir dir;
  auto disk = Open(dir.path());
  FaultStore store(*disk);
  ASSERT_TRUE(store.Commit(OnePut("k", "v"), false).ok());
  std::vector<std::string> values;
  std::vector<Status> statuses;
  store.FailNextGets(2, Status::IoError("injected"));
  EXPECT_EQ(store.MultiGet(Table::kIdentity, {"k"}, &values, &statuses).code(),
            ErrorCode::kIoError);
  std::string v;
  EXPECT_EQ(store.Get(Table::kIdentity, "k", &v).code(), ErrorCode::kIoError);
  bool hooked = false;
  store.BeforeGet(Table::kIdentity, "k", [&] { hooked = true; });
  ASSERT_TRUE(store.MultiGet(Table::kIdentity, {"nope", "k"}, &values, &statuses).ok());
  EXPECT_TRUE(hooked);
  EXPECT_TRUE(statuses[0].IsNotFound());
  EXPECT_EQ(values[1], "v");
  EXPECT_EQ(store.MultiGetCalls(Table::kIdentity), 2u);
  EXPECT_EQ(store.GetCalls(Table::kIdentity), 1u);
  EXPECT_EQ(store.MultiGetCalls(Table::kProfiles), 0u);
}

}  // namespace
}  // namespace profiled::store
