#include "ingest/rec_report.h"

#include <gtest/gtest.h>

#include <atomic>

#include "compute/definition.h"
#include "ingest/merged_ids.h"
#include "ingest/test_util.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {
namespace {

TEST(RecReportCounter, AUserCountsInTheGroupOfTheirFirstExposureWithAllTheirExposures) {
  RecReportCounter c;
  c.AddExposure(1, 200, false);
  c.AddExposure(1, 100, true);  // earlier, though added later: control
  c.AddExposure(1, 300, false);
  c.AddExposure(2, 100, false);
  RecReport r = c.Figures();
  EXPECT_EQ(r.control.users, 1);
  EXPECT_EQ(r.control.exposures, 3);
  EXPECT_EQ(r.treatment.users, 1);
  EXPECT_EQ(r.treatment.exposures, 1);
}

TEST(RecReportCounter, OfEqualTimesTheFirstAddedExposureDecidesTheGroup) {
  RecReportCounter c;
  c.AddExposure(1, 100, true);
  c.AddExposure(1, 100, false);
  EXPECT_EQ(c.Figures().control.users, 1);
  EXPECT_EQ(c.Figures().treatment.users, 0);
}

TEST(RecReportCounter, OnlyAConversionNotBeforeTheFirstExposureCounts) {
  RecReportCounter c;
  c.AddExposure(1, 100, false);
  c.AddConversion(1, 50);  // before: not converted by this one
  c.AddExposure(2, 100, false);
  c.AddConversion(2, 100);  // at the same time: converted
  c.AddExposure(3, 100, false);
  c.AddConversion(3, 40);
  c.AddConversion(3, 150);  // a later one converts
  c.AddConversion(4, 500);  // never exposed: not counted anywhere
  RecReport r = c.Figures();
  EXPECT_EQ(r.treatment.users, 3);
  EXPECT_EQ(r.treatment.converted_users, 2);
  EXPECT_DOUBLE_EQ(r.treatment.conversion_rate(), 2.0 / 3.0);
  EXPECT_EQ(r.control.users, 0);
  EXPECT_EQ(r.control.conversion_rate(), 0.0);
}

TEST(RecReportCounter, LiftIsTreatmentRateOverControlRateMinusOne) {
  RecReportCounter c;
  for (uint64_t u = 0; u < 4; ++u) c.AddExposure(u, 10, true);  // 1 of 4 converts: 0.25
  c.AddConversion(0, 20);
  for (uint64_t u = 10; u < 20; ++u) c.AddExposure(u, 10, false);  // 5 of 10: 0.5
  for (uint64_t u = 10; u < 15; ++u) c.AddConversion(u, 20);
  RecReport r = c.Figures();
  ASSERT_TRUE(r.lift.has_value());
  EXPECT_DOUBLE_EQ(*r.lift, 1.0);
}

TEST(RecReportCounter, LiftIsNoneWithoutUsersOrWithAControlRateOfZero) {
  EXPECT_FALSE(RecReportCounter().Figures().lift.has_value());
  RecReportCounter treatment_only;
  treatment_only.AddExposure(1, 10, false);
  treatment_only.AddConversion(1, 20);
  EXPECT_FALSE(treatment_only.Figures().lift.has_value());
  RecReportCounter control_only;
  control_only.AddExposure(1, 10, true);
  control_only.AddConversion(1, 20);
  EXPECT_FALSE(control_only.Figures().lift.has_value());
  RecReportCounter zero_control;
  zero_control.AddExposure(1, 10, true);
  zero_control.AddExposure(2, 10, false);
  zero_control.AddConversion(2, 20);
  EXPECT_FALSE(zero_control.Figures().lift.has_value());
  // A treatment rate of 0 against a positive control rate is a lift of -1, not none.
  RecReportCounter zero_treatment;
  zero_treatment.AddExposure(1, 10, true);
  zero_treatment.AddConversion(1, 20);
  zero_treatment.AddExposure(2, 10, false);
  ASSERT_TRUE(zero_treatment.Figures().lift.has_value());
  EXPECT_DOUBLE_EQ(*zero_treatment.Figures().lift, -1.0);
}

// An exposure event as the server logs it.
Event Exposure(std::string user_id, const std::string& rec_id, bool is_control, int64_t time_ms) {
  Event e = Track(std::move(user_id), "", compute::kExposureEventType);
  e.time_ms = time_ms;
  e.event_properties["rec_id"] = rec_id;
  e.event_properties["is_control"] = is_control;
  e.event_properties["recommendation_type"] = is_control ? "random" : "ease";
  e.event_properties["items"] = boost::json::array{"a", "b"};
  return WithLoggedJson(std::move(e));
}

Event Purchase(std::string user_id, int64_t time_ms) {
  Event e = Track(std::move(user_id), "", "Purchase");
  e.time_ms = time_ms;
  return WithLoggedJson(std::move(e));
}

using RecReportScan = IngestFixture;

TEST_F(RecReportScan, CountsTheRecsExposuresAndTheConversionsOfTheLogSinceTheWindow) {
  constexpr int64_t kMinute = 60'000;
  ApplyOk({Exposure("c1", "r1", true, kTestNow), Exposure("c1", "r1", true, kTestNow + 1),
           Exposure("c2", "r1", true, kTestNow), Exposure("t1", "r1", false, kTestNow),
           Exposure("t2", "r1", false, kTestNow), Exposure("t3", "r1", false, kTestNow),
           Exposure("o1", "other", false, kTestNow),  // another recommendation's
           Purchase("c1", kTestNow + kMinute), Purchase("t1", kTestNow + kMinute),
           Purchase("t2", kTestNow + kMinute), Purchase("t3", kTestNow - kMinute),  // before
           Purchase("o1", kTestNow + kMinute)});
  Result<RecReport> r = ScanRecReport(*store_, "p", "r1", "Purchase", kTestNow - 86'400'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->control.users, 2);
  EXPECT_EQ(r->control.exposures, 3);
  EXPECT_EQ(r->control.converted_users, 1);
  EXPECT_EQ(r->treatment.users, 3);
  EXPECT_EQ(r->treatment.exposures, 3);
  EXPECT_EQ(r->treatment.converted_users, 2);
  ASSERT_TRUE(r->lift.has_value());
  EXPECT_NEAR(*r->lift, (2.0 / 3.0) / 0.5 - 1.0, 1e-12);
  EXPECT_EQ(r->events_scanned, 12u);

  // A window that starts after everything was ingested reads nothing.
  Result<RecReport> later = ScanRecReport(*store_, "p", "r1", "Purchase", kTestNow + 86'400'000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->events_scanned, 0u);
  EXPECT_EQ(later->treatment.users, 0);
}

TEST_F(RecReportScan, AnAnonymousProfileMergedIntoAUserCountsAsThatUser) {
  ApplyOk({Track("alice", "device-1")});
  // Shown the recommendation while anonymous, then identified as alice (a merge), who buys.
  Event shown = Exposure("", "r1", false, kTestNow);
  shown.device_id = "device-9";
  ApplyOk({std::move(shown)});
  ASSERT_NE(Read("", "device-9").amplitude_id, Read("alice").amplitude_id);
  ApplyOk({Track("alice", "device-9")});
  ASSERT_EQ(Read("", "device-9").amplitude_id, Read("alice").amplitude_id);
  ApplyOk({Purchase("alice", kTestNow + 1000)});
  Result<RecReport> r = ScanRecReport(*store_, "p", "r1", "Purchase", kTestNow - 86'400'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->treatment.users, 1);
  EXPECT_EQ(r->treatment.exposures, 1);
  EXPECT_EQ(r->treatment.converted_users, 1);
}

TEST_F(RecReportScan, OfEqualFirstExposuresOfMergedIdsTheEarlierLoggedDecidesTheGroup) {
  ApplyOk({Track("alice", "device-1")});
  // r1: alice's control exposure is logged before the anonymous device's treatment one at the
  // same time; r2 the other way round. Then the device merges into alice.
  ApplyOk({Exposure("alice", "r1", true, kTestNow)});
  Event r1_shown = Exposure("", "r1", false, kTestNow);
  r1_shown.device_id = "device-9";
  ApplyOk({std::move(r1_shown)});
  Event r2_shown = Exposure("", "r2", false, kTestNow);
  r2_shown.device_id = "device-9";
  ApplyOk({std::move(r2_shown)});
  ApplyOk({Exposure("alice", "r2", true, kTestNow)});
  ApplyOk({Track("alice", "device-9")});
  ASSERT_EQ(Read("", "device-9").amplitude_id, Read("alice").amplitude_id);
  Result<RecReport> r1 = ScanRecReport(*store_, "p", "r1", "Purchase", kTestNow - 86'400'000);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->control.users, 1);
  EXPECT_EQ(r1->control.exposures, 2);
  EXPECT_EQ(r1->treatment.users, 0);
  Result<RecReport> r2 = ScanRecReport(*store_, "p", "r2", "Purchase", kTestNow - 86'400'000);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->treatment.users, 1);
  EXPECT_EQ(r2->treatment.exposures, 2);
  EXPECT_EQ(r2->control.users, 0);
}

TEST_F(RecReportScan, AtTheCapTheScanStopsAndCountsTheEntriesReadMarkedTruncated) {
  // Logged in this order: c1's exposure, then its purchase, then t1's exposure and purchase.
  ApplyOk({Exposure("c1", "r1", true, kTestNow), Purchase("c1", kTestNow + 1),
           Exposure("t1", "r1", false, kTestNow), Purchase("t1", kTestNow + 1)});
  const int64_t since = kTestNow - 86'400'000;
  ScanLimits limits;
  limits.max_entries = 2;
  Result<RecReport> r = ScanRecReport(*store_, "p", "r1", "Purchase", since, limits);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->events_scanned, 2u);
  EXPECT_EQ(r->control.users, 1);
  EXPECT_EQ(r->control.converted_users, 1);
  EXPECT_EQ(r->treatment.users, 0);
  limits.max_entries = 4;
  r = ScanRecReport(*store_, "p", "r1", "Purchase", since, limits);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(r->treatment.converted_users, 1);
}

TEST_F(RecReportScan, AStopFlagSetDuringTheScanEndsItAtTheNextEntry) {
  std::vector<Event> events;
  events.reserve(50);
  for (int i = 0; i < 50; ++i)
    events.push_back(Exposure("u" + std::to_string(i), "r1", false, kTestNow));
  ApplyOk(std::move(events));
  std::atomic<bool> stop{false};
  store_->AfterScanEntries(3, [&stop] { stop.store(true); });  // as a shutdown would
  ScanLimits limits;
  limits.stop = &stop;
  Result<RecReport> r =
      ScanRecReport(*store_, "p", "r1", "Purchase", kTestNow - 86'400'000, limits);
  EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(store_->EntriesTakenAfterScanHook(), 0u);
}

// Log entries written as the server logs them, under raw amplitude ids.
void LogRaw(store::Store& store, uint64_t* seq, uint64_t amplitude_id, std::string_view type,
            const std::string& json) {
  store::WriteSet w;
  w.Put(store::Table::kEvents, store::EventKey("p", kTestNow, ++*seq),
        store::EncodeEvent(store::EventRecord{amplitude_id, kTestNow, std::string(type), json}));
  ASSERT_TRUE(store.Commit(w, false).ok());
}

TEST_F(RecReportScan, IdsAreResolvedInBatchesAtTheEndNotOneReadEach) {
  const std::string exposure =
      R"({"event_type":"[Recs] Recommendation Event","event_properties":{"rec_id":"r1"}})";
  const std::string purchase = R"({"event_type":"Purchase"})";
  uint64_t seq = 0;
  store::WriteSet batch;
  for (uint64_t id = 1; id <= 2501; ++id) {
    batch.Put(store::Table::kEvents, store::EventKey("p", kTestNow, ++seq),
              store::EncodeEvent(
                  store::EventRecord{id, kTestNow, compute::kExposureEventType, exposure}));
  }
  ASSERT_TRUE(store_->Commit(batch, false).ok());
  for (uint64_t id = 1; id <= 10; ++id) LogRaw(*store_, &seq, id, "Purchase", purchase);
  LogRaw(*store_, &seq, 5000, "Purchase", purchase);  // never exposed
  store::WriteSet merge;                              // 2501, anonymous, was merged into 1
  merge.Put(store::Table::kIdentity, store::MergeKey("p", 2501), store::EncodeId(1));
  ASSERT_TRUE(store_->Commit(merge, false).ok());

  const size_t gets = store_->GetCalls(store::Table::kIdentity);
  const size_t multi_gets = store_->MultiGetCalls(store::Table::kIdentity);
  Result<RecReport> r = ScanRecReport(*store_, "p", "r1", "Purchase", kTestNow - 86'400'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->treatment.users, 2500);
  EXPECT_EQ(r->treatment.exposures, 2501);
  EXPECT_EQ(r->treatment.converted_users, 10);
  EXPECT_EQ(store_->GetCalls(store::Table::kIdentity), gets);
  // 2,502 distinct ids: 3 MultiGets of at most 1,000 keys; then 2501's chain goes on one hop.
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kIdentity), multi_gets + 4);
}

TEST_F(RecReportScan, ResolveAllFollowsChainsAsResolveDoesAndCachesThem) {
  store::WriteSet w;  // 3 -> 2 -> 1
  w.Put(store::Table::kIdentity, store::MergeKey("p", 3), store::EncodeId(2));
  w.Put(store::Table::kIdentity, store::MergeKey("p", 2), store::EncodeId(1));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  MergedIds merged(*store_, "p");
  ASSERT_TRUE(merged.ResolveAll({3, 9, 2, 3}).ok());
  const size_t gets = store_->GetCalls(store::Table::kIdentity);
  EXPECT_EQ(*merged.Resolve(3), 1u);
  EXPECT_EQ(*merged.Resolve(2), 1u);
  EXPECT_EQ(*merged.Resolve(9), 9u);
  EXPECT_EQ(store_->GetCalls(store::Table::kIdentity), gets);
  MergedIds one_by_one(*store_, "p");
  EXPECT_EQ(*one_by_one.Resolve(3), 1u);

  store::WriteSet bad;
  bad.Put(store::Table::kIdentity, store::MergeKey("p", 7), std::string("\xff", 1));
  ASSERT_TRUE(store_->Commit(bad, false).ok());
  EXPECT_EQ(MergedIds(*store_, "p").ResolveAll({7}).code(), ErrorCode::kCorruption);
}

}  // namespace
}  // namespace profiled::ingest
