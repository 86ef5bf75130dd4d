#include <gtest/gtest.h>

#include "core/temp_dir.h"
#include "store/keys.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::store {
namespace {

std::unique_ptr<Store> Open(const std::string& path,
                            const Clock* clock = &SystemClock::Instance()) {
  RocksDbOptions o;
  o.path = path;
  o.block_cache_bytes = 8 << 20;
  o.clock = clock;
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

}  // namespace
}  // namespace profiled::store
