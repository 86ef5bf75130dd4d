#include "read/recent_events.h"

#include <gtest/gtest.h>

#include <atomic>

#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"

namespace profiled::read {
namespace {

constexpr int64_t kNow = 1767225600000;  // 2026-01-01T00:00:00Z

class RecentEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::RocksDbOptions options;
    options.path = dir_.path();
    store_ = std::move(store::OpenRocksDbStore(options).value());
  }

  // Logs an event of `amplitude_id` at ingest time `ingest_ms` with event time `time_ms`.
  void Log(std::string_view project, uint64_t amplitude_id, int64_t ingest_ms, int64_t time_ms,
           const std::string& type) {
    store::WriteSet w;
    w.Put(store::Table::kEvents, store::EventKey(project, ingest_ms, ++seq_),
          store::EncodeEvent(store::EventRecord{amplitude_id, time_ms, type,
                                                R"({"event_type":")" + type + R"("})"}));
    ASSERT_TRUE(store_->Commit(w, false).ok());
  }

  std::vector<std::string> Types(const RecentEvents& r) {
    std::vector<std::string> out;
    for (const auto& e : r.events) out.push_back(e.event_type);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  uint64_t seq_ = 0;
};

TEST_F(RecentEventsTest, TheUsersEventsSinceTheTimeNewestFirstByEventTime) {
  Log("p", 7, kNow - 5000, kNow - 5000, "too-old");
  Log("p", 7, kNow - 1000, kNow - 900, "b");
  Log("p", 8, kNow - 900, kNow - 800, "other-user");
  Log("p", 7, kNow - 800, kNow - 2000, "a-dated-earlier");
  Log("p", 7, kNow - 700, kNow - 900, "c-same-time-logged-later");
  Log("q", 7, kNow - 600, kNow - 600, "other-project");
  RecentEvents r;
  ASSERT_TRUE(ReadRecentEvents(*store_, "p", 7, kNow - 1000, 50, &r).ok());
  EXPECT_EQ(Types(r),
            (std::vector<std::string>{"c-same-time-logged-later", "b", "a-dated-earlier"}));
  EXPECT_EQ(r.events_scanned, 4u);
  EXPECT_EQ(r.events[0].amplitude_id, 7u);
}

TEST_F(RecentEventsTest, KeepsOnlyTheNewestMaxEvents) {
  for (int i = 0; i < 500; ++i)
    Log("p", 7, kNow + i, kNow + (i * 7919) % 500, "e" + std::to_string((i * 7919) % 500));
  RecentEvents r;
  ASSERT_TRUE(ReadRecentEvents(*store_, "p", 7, kNow, 10, &r).ok());
  ASSERT_EQ(r.events.size(), 10u);
  for (size_t i = 0; i < 10; ++i)
    EXPECT_EQ(r.events[i].time_ms, kNow + 499 - static_cast<int64_t>(i));
  EXPECT_EQ(r.events_scanned, 500u);
}

TEST_F(RecentEventsTest, EventsOfIdsMergedIntoTheUserCount) {
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 7, store::UserRecord::kMergedIds),
        store::EncodeIdList({3, 4}));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  Log("p", 3, kNow, kNow, "anonymous");
  Log("p", 5, kNow + 1, kNow + 1, "someone-else");
  Log("p", 7, kNow + 2, kNow + 2, "known");
  RecentEvents r;
  ASSERT_TRUE(ReadRecentEvents(*store_, "p", 7, kNow, 50, &r).ok());
  EXPECT_EQ(Types(r), (std::vector<std::string>{"known", "anonymous"}));
}

TEST_F(RecentEventsTest, ADamagedMergedIdsRecordIsCorruption) {
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::UserRecordKey("p", 7, store::UserRecord::kMergedIds),
        std::string("\xff\xff", 2));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  RecentEvents r;
  EXPECT_EQ(ReadRecentEvents(*store_, "p", 7, kNow, 50, &r).code(), ErrorCode::kCorruption);
}

TEST_F(RecentEventsTest, AtTheCapTheScanStopsAndAnswersTheEventsReadMarkedTruncated) {
  for (int i = 0; i < 10; ++i) Log("p", 7, kNow + i, kNow + i, "e" + std::to_string(i));
  ScanLimits limits;
  limits.max_entries = 4;
  RecentEvents r;
  ASSERT_TRUE(ReadRecentEvents(*store_, "p", 7, kNow, 50, &r, limits).ok());
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.events_scanned, 4u);
  EXPECT_EQ(Types(r), (std::vector<std::string>{"e3", "e2", "e1", "e0"}));  // the oldest four
  // A cap the window fits in is no truncation.
  limits.max_entries = 10;
  ASSERT_TRUE(ReadRecentEvents(*store_, "p", 7, kNow, 50, &r, limits).ok());
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.events.size(), 10u);
}

TEST_F(RecentEventsTest, AStopFlagSetDuringTheScanEndsItAtTheNextEntry) {
  for (int i = 0; i < 100; ++i) Log("p", 7, kNow + i, kNow + i, "e");
  store::FaultStore faults(*store_);
  std::atomic<bool> stop{false};
  faults.AfterScanEntries(3, [&stop] { stop.store(true); });  // as a shutdown would
  ScanLimits limits;
  limits.stop = &stop;
  RecentEvents r;
  EXPECT_EQ(ReadRecentEvents(faults, "p", 7, kNow, 50, &r, limits).code(), ErrorCode::kUnavailable);
  EXPECT_EQ(faults.EntriesTakenAfterScanHook(), 0u);
}

}  // namespace
}  // namespace profiled::read
