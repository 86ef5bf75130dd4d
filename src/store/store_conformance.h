// The store contract (store.h) as tests every backend passes (tests only). A test binary
// instantiates StoreConformance with a factory of its backend:
//
//   INSTANTIATE_TEST_SUITE_P(RocksDb, StoreConformance, ::testing::Values(&MakeRocksDb));
//
// Keys are the real ones of store/keys.h, each test in a project of its own, so a backend
// whose data outlives one test (a Redis Cluster shared by the binary) never sees another
// test's keys. The tests of writers racing on one key run only on shared stores
// (Store::Shared()), the only ones several writers use.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/keys.h"
#include "store/records.h"
#include "store/store.h"

namespace profiled::store {

// One store under test, as two nodes see it.
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  // A node's store, for reads and commits.
  virtual Store& node() = 0;
  // Another node's view of the same data (the same object for a store only one process opens).
  virtual Store& other() = 0;
  // A writer's view of `node()` (or of `other()`), whose reads take part in its transaction;
  // null for a store that is not shared.
  virtual std::unique_ptr<Store> Writer(bool other_node) = 0;
};

using StoreFactory = std::unique_ptr<StoreUnderTest> (*)();

class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    under_test_ = GetParam()();
    ASSERT_NE(under_test_, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    project_ = std::string(info->name()) + "-" +
               std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
               std::to_string(reinterpret_cast<uintptr_t>(this));
  }
  Store& node() { return under_test_->node(); }
  Store& other() { return under_test_->other(); }

  std::vector<std::string> ScanKeys(Store& s, Table table, const std::string& begin,
                                    const std::string& end) {
    std::vector<std::string> seen;
    Status st = s.Scan(table, begin, end, [&](std::string_view k, std::string_view) {
      seen.emplace_back(k);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return seen;
  }

  std::unique_ptr<StoreUnderTest> under_test_;
  std::string project_;
};

TEST_P(StoreConformance, ACommitIsVisibleToEveryNodeInEveryTable) {
  WriteSet w;
  w.Put(Table::kIdentity, UserKey(project_, "alice"), EncodeId(7));
  w.Put(Table::kProfiles, ProfileKey(project_, 7), "profile bytes");
  w.Put(Table::kDedup, DedupKey(project_, "ddevice", "insert-1"), EncodeDedup(1000));
  w.Put(Table::kMeta, DefinitionKey(project_, 'c', "x"), "definition");
  w.Put(Table::kEvents, EventKey(project_, 5000, 1), "event");
  ASSERT_TRUE(node().Commit(w, /*sync=*/true).ok());
  for (Store* s : {&node(), &other()}) {
    std::string v;
    ASSERT_TRUE(s->Get(Table::kIdentity, UserKey(project_, "alice"), &v).ok());
    EXPECT_EQ(v, EncodeId(7));
    ASSERT_TRUE(s->Get(Table::kProfiles, ProfileKey(project_, 7), &v).ok());
    EXPECT_EQ(v, "profile bytes");
    ASSERT_TRUE(s->Get(Table::kMeta, DefinitionKey(project_, 'c', "x"), &v).ok());
    EXPECT_EQ(v, "definition");
    ASSERT_TRUE(s->Get(Table::kEvents, EventKey(project_, 5000, 1), &v).ok());
    EXPECT_EQ(v, "event");
  }
}

TEST_P(StoreConformance, AbsentKeysAreNotFoundAndTablesAreApart) {
  WriteSet w;
  w.Put(Table::kIdentity, UserKey(project_, "bob"), EncodeId(1));
  ASSERT_TRUE(node().Commit(w, true).ok());
  std::string v;
  EXPECT_TRUE(node().Get(Table::kIdentity, UserKey(project_, "carol"), &v).IsNotFound());
  EXPECT_TRUE(node().Get(Table::kIdentity, DeviceKey(project_, "bob"), &v).IsNotFound());
  EXPECT_TRUE(node().Get(Table::kDedup, UserKey(project_, "bob"), &v).IsNotFound())
      << "the same key in another table";
  EXPECT_TRUE(node().Get(Table::kProfiles, ProfileKey(project_, 1), &v).IsNotFound());
  EXPECT_TRUE(node().Get(Table::kMeta, DefinitionKey(project_, 'c', "none"), &v).IsNotFound());
  EXPECT_TRUE(node().Get(Table::kEvents, EventKey(project_, 1, 1), &v).IsNotFound());
}

TEST_P(StoreConformance, DeletesInACommitApply) {
  WriteSet w;
  w.Put(Table::kProfiles, ProfileKey(project_, 3), "p");
  w.Put(Table::kProfiles, UserRecordKey(project_, 3, UserRecord::kAggregates), "a");
  w.Put(Table::kMeta, DefinitionKey(project_, 'c', "gone"), "d");
  w.Put(Table::kIdentity, DeviceKey(project_, "dev"), EncodeId(3));
  ASSERT_TRUE(node().Commit(w, true).ok());
  WriteSet d;
  d.Delete(Table::kProfiles, ProfileKey(project_, 3));
  d.Delete(Table::kMeta, DefinitionKey(project_, 'c', "gone"));
  d.Delete(Table::kIdentity, DeviceKey(project_, "dev"));
  ASSERT_TRUE(node().Commit(d, true).ok());
  std::string v;
  EXPECT_TRUE(other().Get(Table::kProfiles, ProfileKey(project_, 3), &v).IsNotFound());
  EXPECT_TRUE(other().Get(Table::kMeta, DefinitionKey(project_, 'c', "gone"), &v).IsNotFound());
  EXPECT_TRUE(other().Get(Table::kIdentity, DeviceKey(project_, "dev"), &v).IsNotFound());
  ASSERT_TRUE(
      other().Get(Table::kProfiles, UserRecordKey(project_, 3, UserRecord::kAggregates), &v).ok());
  EXPECT_EQ(v, "a") << "a record of the user not deleted stays";
  std::string prefix = DefinitionKeyPrefix(project_);
  EXPECT_TRUE(ScanKeys(other(), Table::kMeta, prefix, PrefixEnd(prefix)).empty());
}

TEST_P(StoreConformance, AnEventDeletedByItsKeyIsGoneAndItsNeighboursStay) {
  // A privacy deletion deletes one user's logged events by key (ingest/deletions.h).
  WriteSet w;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    w.Put(Table::kEvents, EventKey(project_, 7000, seq), "\x02event" + std::to_string(seq));
  }
  ASSERT_TRUE(node().Commit(w, true).ok());
  WriteSet d;
  d.Delete(Table::kEvents, EventKey(project_, 7000, 2));
  ASSERT_TRUE(node().Commit(d, true).ok());
  std::string v;
  EXPECT_TRUE(other().Get(Table::kEvents, EventKey(project_, 7000, 2), &v).IsNotFound());
  EXPECT_EQ(ScanKeys(other(), Table::kEvents, EventKeyLowerBound(project_, 0),
                     PrefixEnd(ProjectPrefix(project_))),
            (std::vector<std::string>{EventKey(project_, 7000, 1), EventKey(project_, 7000, 3)}));
}

TEST_P(StoreConformance, MultiGetAnswersEveryKeyInOrderWithNotFoundForTheAbsentOnes) {
  WriteSet w;
  w.Put(Table::kIdentity, UserKey(project_, "b"), "2");
  w.Put(Table::kIdentity, UserKey(project_, "a"), "1");
  w.Put(Table::kProfiles, ProfileKey(project_, 5), "another table");
  ASSERT_TRUE(node().Commit(w, true).ok());
  std::vector<std::string> values = {"stale"};
  std::vector<Status> statuses;
  std::vector<std::string> keys = {UserKey(project_, "b"), UserKey(project_, "missing"),
                                   UserKey(project_, "a"), ProfileKey(project_, 5),
                                   UserKey(project_, "b")};
  ASSERT_TRUE(other().MultiGet(Table::kIdentity, keys, &values, &statuses).ok());
  ASSERT_EQ(values.size(), 5u);
  ASSERT_EQ(statuses.size(), 5u);
  EXPECT_EQ(values[0], "2");
  EXPECT_TRUE(statuses[1].IsNotFound());
  EXPECT_EQ(values[1], "");
  EXPECT_EQ(values[2], "1");
  EXPECT_TRUE(statuses[3].IsNotFound()) << "a key of another table";
  EXPECT_EQ(values[4], "2");
  EXPECT_TRUE(other().MultiGet(Table::kIdentity, {}, &values, &statuses).ok());
  EXPECT_TRUE(values.empty());
  EXPECT_TRUE(statuses.empty());
}

TEST_P(StoreConformance, AMultiGetOfOneUsersRecordsSeesACommitWhollyOrNotAtAll) {
  std::vector<std::string> keys = {ProfileKey(project_, 9),
                                   UserRecordKey(project_, 9, UserRecord::kAggregates),
                                   UserRecordKey(project_, 9, UserRecord::kStaticCohorts)};
  auto write = [&](int n) {
    WriteSet w;
    for (const auto& k : keys) w.Put(Table::kProfiles, k, std::to_string(n));
    return node().Commit(w, false);
  };
  ASSERT_TRUE(write(0).ok());
  // The writer goes on until the reader has seen several commits (or a bound), so the reads
  // overlap the writes on a fast store and a slow one alike.
  std::atomic<bool> done{false};
  std::atomic<bool> stop{false};
  std::atomic<int> failed_writes{0};
  std::thread writer([&] {
    for (int n = 1; n <= 100000 && !stop; ++n) failed_writes += write(n).ok() ? 0 : 1;
    done = true;
  });
  int reads = 0;
  int mixed = 0;
  int distinct = 0;
  std::string last;
  std::vector<std::string> values;
  std::vector<Status> statuses;
  while (!done) {
    if (!other().MultiGet(Table::kProfiles, keys, &values, &statuses).ok()) break;
    if (values[0] != values[1] || values[1] != values[2]) ++mixed;
    if (values[0] != last) ++distinct;
    last = values[0];
    if (++reads >= 50 && distinct >= 5) stop = true;
  }
  stop = true;
  writer.join();
  EXPECT_EQ(failed_writes, 0);
  EXPECT_GE(reads, 50) << "a MultiGet failed";
  EXPECT_EQ(mixed, 0) << "reads that mixed two commits, of " << reads;
  EXPECT_GT(distinct, 1) << "the reads never overlapped the writes";
}

TEST_P(StoreConformance, MetaScansAreOrderedBoundedAndStayInTheirProject) {
  WriteSet w;
  for (const char* id : {"b", "a", "c", "aa"}) {
    w.Put(Table::kMeta, DefinitionKey(project_, 'c', id), id);
  }
  w.Put(Table::kMeta, SpecKey(project_, 1), "spec");
  w.Put(Table::kMeta, DefinitionKey(project_ + "x", 'c', "a"), "another project");
  ASSERT_TRUE(node().Commit(w, true).ok());
  std::string prefix = DefinitionKeyPrefix(project_);
  std::vector<std::string> seen = ScanKeys(other(), Table::kMeta, prefix, PrefixEnd(prefix));
  std::vector<std::string> want;
  for (const char* id : {"a", "aa", "b", "c"}) want.push_back(DefinitionKey(project_, 'c', id));
  EXPECT_EQ(seen, want);
  // A bound in the middle, and stopping early.
  seen = ScanKeys(other(), Table::kMeta, DefinitionKey(project_, 'c', "aa"),
                  DefinitionKey(project_, 'c', "c"));
  EXPECT_EQ(seen, (std::vector<std::string>{want[1], want[2]}));
  int calls = 0;
  ASSERT_TRUE(other()
                  .Scan(Table::kMeta, prefix, PrefixEnd(prefix),
                        [&](std::string_view, std::string_view) { return ++calls < 2; })
                  .ok());
  EXPECT_EQ(calls, 2);
}

TEST_P(StoreConformance, EventScansFollowKeyOrderAcrossDaysAndDeleteRangeDropsOnlyTheRange) {
  constexpr int64_t kDay = int64_t{24} * 3600 * 1000;
  WriteSet w;
  std::vector<std::string> want;
  // 3 days, 1500 events, sequence numbers spread so every shard and page boundary is crossed.
  for (int i = 0; i < 1500; ++i) {
    int64_t ms = 10 * kDay + int64_t{i / 500} * kDay + int64_t{i % 500} * 7;
    std::string key = EventKey(project_, ms, static_cast<uint64_t>(i * 37 % 1500));
    w.Put(Table::kEvents, key, "e" + std::to_string(i));
    want.push_back(key);
  }
  w.Put(Table::kEvents, EventKey(project_ + "x", 10 * kDay, 1), "another project");
  ASSERT_TRUE(node().Commit(w, true).ok());
  std::sort(want.begin(), want.end());
  std::string all_end = PrefixEnd(ProjectPrefix(project_));
  EXPECT_EQ(ScanKeys(other(), Table::kEvents, EventKeyLowerBound(project_, 0), all_end), want);
  // From the first key after one (a backfill's cursor): that key itself is not seen again.
  std::string after = want[700] + std::string(1, '\0');
  EXPECT_EQ(ScanKeys(other(), Table::kEvents, after, all_end),
            std::vector<std::string>(want.begin() + 701, want.end()));
  // A time range inside the second day.
  std::vector<std::string> part;
  for (const auto& k : want) {
    if (k >= EventKeyLowerBound(project_, 11 * kDay + 700) &&
        k < EventKeyLowerBound(project_, 11 * kDay + 1400)) {
      part.push_back(k);
    }
  }
  EXPECT_EQ(ScanKeys(other(), Table::kEvents, EventKeyLowerBound(project_, 11 * kDay + 700),
                     EventKeyLowerBound(project_, 11 * kDay + 1400)),
            part);
  // Retention: everything before the middle of the second day goes.
  ASSERT_TRUE(node()
                  .DeleteRange(Table::kEvents, EventKeyLowerBound(project_, 0),
                               EventKeyLowerBound(project_, 11 * kDay + 1000))
                  .ok());
  std::vector<std::string> kept;
  for (const auto& k : want) {
    if (k >= EventKeyLowerBound(project_, 11 * kDay + 1000)) kept.push_back(k);
  }
  EXPECT_EQ(ScanKeys(other(), Table::kEvents, EventKeyLowerBound(project_, 0), all_end), kept);
  std::string v;
  EXPECT_TRUE(other().Get(Table::kEvents, EventKey(project_ + "x", 10 * kDay, 1), &v).ok());
}

TEST_P(StoreConformance, UserScansSeeEveryRecordOfTheProjectInKeyOrderAndNothingElse) {
  // 300 users with 1 to 3 records each, ids spread over the whole 64-bit range (unsigned
  // order: ids from 2^63 up sort last), committed in groups; users of another project too.
  std::map<std::string, std::string> want;
  std::vector<uint64_t> ids;
  WriteSet w;
  for (uint64_t i = 0; i < 300; ++i) {
    uint64_t id = (i + 1) * 0x9E3779B97F4A7C15ULL;
    ids.push_back(id);
    auto put = [&](UserRecord r) {
      std::string key = UserRecordKey(project_, id, r);
      std::string value = std::to_string(i) + static_cast<char>(r);
      w.Put(Table::kProfiles, key, value);
      want[key] = value;
    };
    put(UserRecord::kProfile);
    if (i % 2 == 0) put(UserRecord::kAggregates);
    if (i % 3 == 0) put(UserRecord::kStaticCohorts);
    if (i < 20) w.Put(Table::kProfiles, ProfileKey(project_ + "x", id), "another project");
    if (i % 100 == 99) {
      ASSERT_TRUE(node().Commit(w, true).ok());
      w = WriteSet();
    }
  }
  auto scan = [&](const std::string& begin, const std::string& end) {
    std::map<std::string, std::string> seen;
    std::vector<std::string> order;
    Status st =
        other().Scan(Table::kProfiles, begin, end, [&](std::string_view k, std::string_view v) {
          order.emplace_back(k);
          seen.emplace(k, v);
          return true;
        });
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_EQ(order.size(), seen.size()) << "a record seen twice";
    return seen;
  };
  std::string prefix = ProjectPrefix(project_);
  EXPECT_EQ(scan(prefix, PrefixEnd(prefix)), want);
  // Bounds inside users: from a user's second record to another's second record.
  uint64_t first = ids[0];  // records a, p, s
  uint64_t last = ids[6];   // records a, p, s
  std::string begin = UserRecordKey(project_, first, UserRecord::kProfile);
  std::string end = UserRecordKey(project_, last, UserRecord::kProfile);
  if (begin > end) std::swap(begin, end);
  std::map<std::string, std::string> part(want.lower_bound(begin), want.lower_bound(end));
  ASSERT_GT(part.size(), 2u);
  EXPECT_EQ(scan(begin, end), part);
  // From the first key after one (a cursor), to the project's end.
  std::string after = begin + std::string(1, '\0');
  std::map<std::string, std::string> rest(want.upper_bound(begin), want.end());
  EXPECT_EQ(scan(after, PrefixEnd(prefix)), rest);
  // A user whose records are all deleted is gone; one that lost one record keeps the others.
  WriteSet d;
  for (UserRecord r : {UserRecord::kProfile, UserRecord::kAggregates, UserRecord::kStaticCohorts}) {
    d.Delete(Table::kProfiles, UserRecordKey(project_, ids[12], r));
    want.erase(UserRecordKey(project_, ids[12], r));
  }
  d.Delete(Table::kProfiles, UserRecordKey(project_, ids[14], UserRecord::kAggregates));
  want.erase(UserRecordKey(project_, ids[14], UserRecord::kAggregates));
  ASSERT_TRUE(node().Commit(d, true).ok());
  EXPECT_EQ(scan(prefix, PrefixEnd(prefix)), want);
  // Stopping early.
  int calls = 0;
  ASSERT_TRUE(other()
                  .Scan(Table::kProfiles, prefix, PrefixEnd(prefix),
                        [&](std::string_view, std::string_view) { return ++calls < 5; })
                  .ok());
  EXPECT_EQ(calls, 5);
}

// --- Shared stores: several writers.

TEST_P(StoreConformance, TwoWritersOnTwoNodesLoseNoUpdateOfOneKey) {
  if (!node().Shared()) GTEST_SKIP() << "one writer only";
  std::string key = ProfileKey(project_, 42);
  constexpr int kEach = 150;
  std::atomic<int> failures{0};
  auto run = [&](bool other_node) {
    std::unique_ptr<Store> writer = under_test_->Writer(other_node);
    for (int i = 0; i < kEach;) {
      std::string v;
      Status s = writer->Get(Table::kProfiles, key, &v);
      int n = s.ok() ? std::stoi(v) : 0;
      if (s.ok() || s.IsNotFound()) {
        WriteSet w;
        w.Put(Table::kProfiles, key, std::to_string(n + 1));
        s = writer->Commit(w, true);
      }
      writer->EndTransaction();
      if (s.ok()) {
        ++i;
      } else if (s.code() != ErrorCode::kAborted) {
        ++failures;
        ADD_FAILURE() << s.ToString();
        return;
      }
    }
  };
  std::thread a(run, false);
  std::thread b(run, true);
  a.join();
  b.join();
  EXPECT_EQ(failures, 0);
  std::string v;
  ASSERT_TRUE(node().Get(Table::kProfiles, key, &v).ok());
  EXPECT_EQ(v, std::to_string(2 * kEach));
}

TEST_P(StoreConformance, ReservedIdsNeverOverlapAcrossNodes) {
  if (!node().Shared()) GTEST_SKIP() << "one writer only";
  std::string key = NextAmplitudeIdKey(project_);
  std::set<uint64_t> firsts;
  std::vector<uint64_t> a;
  std::vector<uint64_t> b;
  std::thread ta([&] {
    for (int i = 0; i < 100; ++i) {
      uint64_t f = 0;
      if (node().ReserveIds(key, 10, &f).ok()) a.push_back(f);
    }
  });
  std::thread tb([&] {
    for (int i = 0; i < 100; ++i) {
      uint64_t f = 0;
      if (other().ReserveIds(key, 10, &f).ok()) b.push_back(f);
    }
  });
  ta.join();
  tb.join();
  ASSERT_EQ(a.size() + b.size(), 200u);
  for (uint64_t f : a) firsts.insert(f);
  for (uint64_t f : b) firsts.insert(f);
  ASSERT_EQ(firsts.size(), 200u);
  uint64_t expect = 0;
  for (uint64_t f : firsts) {
    EXPECT_EQ(f, expect) << "blocks of 10 from 0, none twice and none skipped";
    expect = f + 10;
  }
  std::string v;
  ASSERT_TRUE(other().Get(Table::kMeta, key, &v).ok());
  uint64_t stored = 0;
  ASSERT_TRUE(DecodeId(v, &stored).ok());
  EXPECT_EQ(stored, 2000u);
}

}  // namespace profiled::store
