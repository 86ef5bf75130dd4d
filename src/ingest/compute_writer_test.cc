// The writer's side of part 2: aggregates updated with each event, merged with identities,
// rolled back with refused batches, backfilled from the event log, and static cohorts.
#include <gtest/gtest.h>

#include <thread>

#include "compute/evaluate.h"
#include "core/coding.h"
#include "ingest/identity.h"
#include "ingest/test_util.h"

namespace profiled::ingest {
namespace {

using compute::Cohort;
using compute::CohortCondition;
using compute::Computation;
using compute::Value;
constexpr int64_t kDay = 86400000;

Computation PurchaseCount(uint64_t id, int window_days = 30) {
  Computation c;
  c.id = id;
  c.name = "purchases";
  c.spec.event_type = "Purchase";
  c.spec.where = {{"category", compute::FilterOp::kIs, {"books"}}};
  if (window_days > 0) {
    c.spec.scope.kind = compute::TimeScope::Kind::kRolling;
    c.spec.scope.days = window_days;
  }
  return c;
}

Computation RevenueSum(uint64_t id) {
  Computation c;
  c.id = id;
  c.name = "revenue";
  c.spec.event_type = compute::kAnyEvent;
  c.spec.metric = compute::Metric::kSum;
  c.spec.property = "$revenue";
  return c;
}

Event Purchase(std::string user_id, std::string device_id, const std::string& category,
               int64_t time_ms = kTestNow, double revenue = 0) {
  Event e = Track(std::move(user_id), std::move(device_id), "Purchase");
  e.time_ms = time_ms;
  e.event_properties["category"] = category;
  e.fields["revenue"] = revenue;
  return WithLoggedJson(std::move(e));
}

class ComputeWriterTest : public IngestFixture {
 protected:
  void SetUp() override {
    with_definitions_ = true;
    Open();
  }

  // The values of the served computations for a user, read from the store at the clock.
  std::map<uint64_t, Value> Values(const std::string& user_id, const std::string& device_id = "") {
    uint64_t id = Read(user_id, device_id).amplitude_id;
    compute::AggregatesView aggregates;
    std::map<char, std::string> records = UserRecords(id);
    if (records.count('a') != 0) {
      Status s = aggregates.Parse(records['a']);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    std::vector<std::string> static_cohorts;
    if (records.count('s') != 0) {
      EXPECT_TRUE(store::DecodeStaticCohorts(records['s'], &static_cohorts).ok());
    }
    compute::UserView view;
    view.aggregates = &aggregates;
    view.static_cohorts = &static_cohorts;
    std::vector<std::pair<uint64_t, Value>> values;
    Status s = compute::ComputedValues(*catalogs_->Get("p"), view, clock_.NowMs(), {}, &values);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::map<uint64_t, Value> out;
    for (auto& [cid, v] : values) out[cid] = v;
    return out;
  }

  int64_t Count(const std::string& user_id, uint64_t computation, const std::string& device = "") {
    auto values = Values(user_id, device);
    auto it = values.find(computation);
    if (it == values.end() || !std::holds_alternative<int64_t>(it->second)) return -1;
    return std::get<int64_t>(it->second);
  }

  DefinitionInfo Info(uint64_t computation) {
    DefinitionInfo info;
    EXPECT_TRUE(
        registry_->Get("p", DefinitionKind::kComputation, std::to_string(computation), &info).ok());
    return info;
  }

  // Waits (real time, bounded) until the computation's backfill is done.
  void WaitReady(uint64_t computation) {
    for (int i = 0; i < 2000 && !Info(computation).ready; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(Info(computation).ready);
  }
};

TEST_F(ComputeWriterTest, EveryMatchingEventCountsAtOnce) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "", "books"), Purchase("alice", "", "music")});
  EXPECT_EQ(Count("alice", 7), 1);
  ApplyOk({Purchase("alice", "", "books")});
  EXPECT_EQ(Count("alice", 7), 2);
}

TEST_F(ComputeWriterTest, ARollingWindowDropsAnEventWhenTheClockMovesPastIt) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7, 30)).ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow - 29 * kDay),
           Purchase("alice", "", "books", kTestNow)});
  EXPECT_EQ(Count("alice", 7), 2);
  clock_.Advance(kDay);  // the first one's day leaves the window; nothing was sent
  EXPECT_EQ(Count("alice", 7), 1);
}

TEST_F(ComputeWriterTest, LateAndOutOfOrderEventsCountOnTheirOwnDay) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7, 7)).ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow),
           Purchase("alice", "", "books", kTestNow - 3 * kDay),
           Purchase("alice", "", "books", kTestNow - 8 * kDay)});  // older than the window
  EXPECT_EQ(Count("alice", 7), 2);
  clock_.Advance(4 * kDay);  // the one of three days ago is now 7 days old: out
  EXPECT_EQ(Count("alice", 7), 1);
}

TEST_F(ComputeWriterTest, ANumberTheEventSendsAsTopLevelFieldIsSummed) {
  ASSERT_TRUE(PutDefinition(RevenueSum(3)).ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow, 2.5), Purchase("alice", "", "x", kTestNow, 4)});
  auto values = Values("alice");
  ASSERT_TRUE(std::holds_alternative<double>(values[3]));
  EXPECT_EQ(std::get<double>(values[3]), 6.5);
}

TEST_F(ComputeWriterTest, IdentifyEventsAreNotCounted) {
  ASSERT_TRUE(PutDefinition(RevenueSum(3)).ok());
  Event identify = Purchase("alice", "", "books", kTestNow, 5);
  identify.origin = EventOrigin::kIdentify;
  ApplyOk({identify});
  EXPECT_EQ(std::get<double>(Values("alice")[3]), 0);
}

TEST_F(ComputeWriterTest, AnAnonymousDevicesAggregatesMergeIntoTheUser) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "device-1", "books")});
  ApplyOk({Purchase("", "device-9", "books"), Purchase("", "device-9", "books")});
  EXPECT_EQ(Count("", 7, "device-9"), 2);
  ApplyOk({Track("alice", "device-9")});  // the anonymous device merges into alice
  EXPECT_EQ(Count("alice", 7), 3);
}

TEST_F(ComputeWriterTest, ARefusedBatchLeavesTheAggregatesAsTheyWere) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "", "books")});
  std::string before = UserRecords(Read("alice").amplitude_id)['a'];
  Event oversized = SetProps("alice", "", {{"big", std::string(kMaxPropertiesBytes, 'x')}});
  IngestResult r = Apply({Purchase("alice", "", "books"), oversized});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(UserRecords(Read("alice").amplitude_id)['a'], before);
  EXPECT_EQ(Count("alice", 7), 1);
}

TEST_F(ComputeWriterTest, EventsThatMatchNoSpecWriteNoAggregates) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Track("bob", "", "Page Viewed")});
  EXPECT_EQ(UserRecords(Read("bob").amplitude_id).count('a'), 0u);
}

TEST_F(ComputeWriterTest, ADefinitionCreatedAfterItsEventsIsBackfilledFromTheLog) {
  ApplyOk({Purchase("alice", "", "books", kTestNow - 2 * kDay), Purchase("alice", "", "books"),
           Purchase("bob", "", "books"), Purchase("bob", "", "music")});
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  WaitReady(7);
  EXPECT_EQ(Count("alice", 7), 2);
  EXPECT_EQ(Count("bob", 7), 1);
}

Event Rated(std::string user_id, boost::json::value movie, int64_t time_ms = kTestNow) {
  Event e = Track(std::move(user_id), "", "Movie Rated");
  e.time_ms = time_ms;
  e.event_properties["movie_id"] = std::move(movie);
  return WithLoggedJson(std::move(e));
}

TEST_F(ComputeWriterTest, ARecommendationsHistoryIsBackfilledFromTheLogThenKeptLive) {
  ApplyOk({Rated("alice", "m1", kTestNow - 2 * kDay), Rated("alice", 42, kTestNow - kDay),
           Rated("alice", "m1", kTestNow - 3 * kDay), Rated("bob", "m9")});
  compute::Recommendation rec;
  rec.id = "movies";
  rec.item_event = "Movie Rated";
  rec.item_property = "movie_id";
  rec.history_window_days = 30;
  rec.history = compute::HistorySpecOf(rec);
  ASSERT_TRUE(PutDefinition(rec).ok());
  DefinitionInfo info;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(registry_->Get("p", DefinitionKind::kRecommendation, "movies", &info).ok());
    if (info.ready) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(info.ready);
  ApplyOk({Rated("alice", "m7", kTestNow)});
  // The user's items, read as a server would: the served recommendation's history state.
  auto catalog = catalogs_->Get("p");
  ASSERT_EQ(catalog->recommendations().size(), 1u);
  const size_t spec = catalog->RecommendationSpecIndex(0);
  ASSERT_NE(spec, compute::ProjectCatalog::kUnresolved);
  std::string record = UserRecords(Read("alice").amplitude_id)['a'];
  compute::AggregatesView aggregates;
  ASSERT_TRUE(aggregates.Parse(record).ok());
  std::vector<std::string_view> items;
  ASSERT_TRUE(compute::ItemsOf(catalog->specs()[spec].spec,
                               aggregates.Find(catalog->specs()[spec].id), clock_.NowMs(), &items)
                  .ok());
  EXPECT_EQ(std::vector<std::string>(items.begin(), items.end()),
            (std::vector<std::string>{"m7", "42", "m1"}));
}

TEST_F(ComputeWriterTest, ABackfillFollowsMergesToTheUserTheEventsBelongToNow) {
  ApplyOk({Purchase("", "device-9", "books"), Purchase("alice", "device-1", "books")});
  ApplyOk({Track("alice", "device-9")});  // merges the anonymous device's id into alice's
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  WaitReady(7);
  EXPECT_EQ(Count("alice", 7), 2);
}

TEST_F(ComputeWriterTest, EventsArrivingDuringABackfillCountExactlyOnce) {
  Close();
  IngestorOptions options;
  // One logged event per chunk: the live events below interleave with the chunks.
  options.backfill_chunk_events = 1;
  options.backfill_chunk_delay_ms = 50;
  Open(options);
  std::vector<Event> before(30, Purchase("alice", "", "books"));
  ApplyOk(std::move(before));
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ASSERT_FALSE(Info(7).ready);
  for (int i = 0; i < 10; ++i) ApplyOk({Purchase("alice", "", "books")});
  EXPECT_FALSE(Info(7).ready) << "the backfill was expected to still run";
  WaitReady(7);
  EXPECT_EQ(Count("alice", 7), 40);
}

TEST_F(ComputeWriterTest, ABackfillCutShortByARestartResumesFromItsCursor) {
  Close();
  IngestorOptions options;
  options.backfill_chunk_events = 4;
  options.backfill_chunk_delay_ms = 50;
  Open(options);
  std::vector<Event> events;
  events.reserve(40);
  for (int i = 0; i < 40; ++i) {
    events.push_back(Purchase("user-" + std::to_string(i % 4), "", "books"));
  }
  ApplyOk(std::move(events));
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  for (int i = 0; i < 400 && Info(7).events_scanned == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(Info(7).events_scanned, 0u);
  ASSERT_FALSE(Info(7).ready);
  Close();
  Open();  // default options: the rest goes in one chunk
  WaitReady(7);
  for (int u = 0; u < 4; ++u) EXPECT_EQ(Count("user-" + std::to_string(u), 7), 10) << u;
}

TEST_F(ComputeWriterTest, AFailedBackfillChunkChangesNothingAndIsRetried) {
  Close();
  IngestorOptions options;
  options.backfill_chunk_delay_ms = 300;  // time to arm the failure before the first chunk
  Open(options);
  ApplyOk({Purchase("alice", "", "books"), Purchase("alice", "", "books")});
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  store_->FailNextCommits(1, Status::IoError("disk full"));
  size_t commits = store_->commits().size();
  for (int i = 0; i < 400 && store_->commits().size() == commits; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(store_->commits().size(), commits + 1);
  EXPECT_FALSE(store_->commits().back().status.ok());
  EXPECT_FALSE(Info(7).ready);
  EXPECT_EQ(Info(7).events_scanned, 0u);
  clock_.Advance(2000);  // past the pause after a failed chunk
  WaitReady(7);
  EXPECT_EQ(Count("alice", 7), 2);
}

TEST_F(ComputeWriterTest, StatesOfADeletedDefinitionGoWhenTheUserIsNextWritten) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "", "books")});
  uint64_t alice = Read("alice").amplitude_id;
  ASSERT_EQ(UserRecords(alice).count('a'), 1u);
  std::promise<Status> deleted;
  ingestor_->DeleteDefinition("p", DefinitionKind::kComputation, "7",
                              [&](const Status& s) { deleted.set_value(s); });
  ASSERT_TRUE(deleted.get_future().get().ok());
  ASSERT_TRUE(PutDefinition(RevenueSum(3)).ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow, 1)});
  compute::UserAggregates aggregates;
  ASSERT_TRUE(compute::UserAggregates::Decode(UserRecords(alice)['a'], &aggregates).ok());
  EXPECT_EQ(aggregates.states.size(), 1u);  // only the revenue sum's
}

// ---- The writer keeps each user's aggregates record across groups (in its cache) and edits
// it in place per event: these check that the kept record always equals what the store
// holds and what the definitions of the moment ask for.

// The number of spec states in the user's stored aggregates record.
size_t StoredStates(const std::map<char, std::string>& records) {
  auto it = records.find('a');
  if (it == records.end()) return 0;
  compute::UserAggregates aggregates;
  EXPECT_TRUE(compute::UserAggregates::Decode(it->second, &aggregates).ok());
  return aggregates.states.size();
}

TEST_F(ComputeWriterTest, ADefinitionChangedBetweenGroupsDropsTheOldStateFromTheKeptRecord) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7, 30)).ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow - 10 * kDay), Purchase("alice", "", "books")});
  ApplyOk({Purchase("alice", "", "books")});  // alice's record comes from the writer's cache
  EXPECT_EQ(Count("alice", 7), 3);
  ASSERT_TRUE(PutDefinition(PurchaseCount(7, 7)).ok());  // a new spec: backfilled
  WaitReady(7);
  EXPECT_EQ(Count("alice", 7), 2);  // the event of 10 days ago is outside 7 days
  uint64_t alice = Read("alice").amplitude_id;
  ApplyOk({Purchase("alice", "", "books")});
  EXPECT_EQ(Count("alice", 7), 3);
  EXPECT_EQ(StoredStates(UserRecords(alice)), 1u);  // the 30-day spec's state went
}

TEST_F(ComputeWriterTest, ADefinitionDeletedBetweenGroupsLeavesNoRecordOnceNothingCounts) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ASSERT_TRUE(PutDefinition(RevenueSum(3)).ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow, 2)});
  uint64_t alice = Read("alice").amplitude_id;
  ASSERT_EQ(StoredStates(UserRecords(alice)), 2u);
  std::promise<Status> deleted;
  ingestor_->DeleteDefinition("p", DefinitionKind::kComputation, "7",
                              [&](const Status& s) { deleted.set_value(s); });
  ASSERT_TRUE(deleted.get_future().get().ok());
  ApplyOk({Purchase("alice", "", "books", kTestNow, 1)});
  EXPECT_EQ(StoredStates(UserRecords(alice)), 1u);
  EXPECT_EQ(std::get<double>(Values("alice")[3]), 3);
}

TEST_F(ComputeWriterTest, AfterAFailedCommitTheAggregatesAreThoseTheStoreHolds) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "", "books")});
  uint64_t alice = Read("alice").amplitude_id;
  std::string committed = UserRecords(alice)['a'];
  store_->FailNextCommits(1, Status::IoError("injected: disk full"));
  EXPECT_EQ(Apply({Purchase("alice", "", "books")}).status.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(UserRecords(alice)['a'], committed);
  ApplyOk({Purchase("alice", "", "books")});
  EXPECT_EQ(Count("alice", 7), 2);  // not 3: the failed group's event is not kept
}

TEST_F(ComputeWriterTest, EventsAfterAMergeAddToTheMergedStateInTheSameAndLaterGroups) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "device-1", "books")});
  ApplyOk({Purchase("", "device-9", "books"), Purchase("", "device-9", "books")});
  // The merge, then events on the merged user in the same batch and in a later group.
  ApplyOk({Track("alice", "device-9"), Purchase("alice", "device-9", "books")});
  EXPECT_EQ(Count("alice", 7), 4);
  ApplyOk({Purchase("alice", "", "books"), Purchase("", "device-9", "books")});
  EXPECT_EQ(Count("alice", 7), 6);
  EXPECT_EQ(StoredStates(UserRecords(Read("alice").amplitude_id)), 1u);
}

TEST_F(ComputeWriterTest, ARefusedBatchRestoresTheAggregatesAnEarlierBatchOfItsGroupChanged) {
  ReopenWithoutCommitsInFlight();
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  ApplyOk({Purchase("alice", "", "books")});
  // The writer parks in the commit of `first`; the next two batches form one group.
  store_->StallCommits();
  auto first = std::async(std::launch::async, [&] { return Apply({Track("bob", "")}); });
  store_->WaitForStalledCommit();
  Event oversized = SetProps("alice", "", {{"big", std::string(kMaxPropertiesBytes, 'x')}});
  auto good =
      std::async(std::launch::async, [&] { return Apply({Purchase("alice", "", "books")}); });
  // Let `good` queue first; either order is a valid outcome for the count below.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto bad = std::async(std::launch::async, [&] {
    return Apply({Purchase("alice", "", "books"), Purchase("alice", "", "books"), oversized});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  store_->ResumeCommits();
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_TRUE(good.get().status.ok());
  EXPECT_EQ(bad.get().status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Count("alice", 7), 2);
  ApplyOk({Purchase("alice", "", "books")});
  EXPECT_EQ(Count("alice", 7), 3);
}

TEST_F(ComputeWriterTest, AnEventThatChangesNoStateRewritesNoAggregates) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7, 7)).ok());
  ApplyOk({Purchase("alice", "", "books")});
  uint64_t alice = Read("alice").amplitude_id;
  ApplyOk({Purchase("alice", "", "books", kTestNow - 30 * kDay)});  // older than the window
  std::string key = store::UserRecordKey("p", alice, store::UserRecord::kAggregates);
  auto commits = store_->commits();
  for (const auto& op : commits.back().writes.ops()) EXPECT_NE(op.key, key);
  EXPECT_EQ(Count("alice", 7), 1);
}

class StaticCohortTest : public ComputeWriterTest {
 protected:
  StaticCohortResult Change(StaticCohortChange change) {
    std::promise<StaticCohortResult> done;
    change.project = "p";
    ingestor_->ChangeStaticCohort(std::move(change),
                                  [&](StaticCohortResult r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }

  std::vector<std::string> CohortsOf(const std::string& user_id, const std::string& device = "") {
    std::vector<std::string> ids;
    std::map<char, std::string> records = UserRecords(Read(user_id, device).amplitude_id);
    if (records.count('s') != 0) {
      EXPECT_TRUE(store::DecodeStaticCohorts(records['s'], &ids).ok());
    }
    return ids;
  }

  std::vector<uint64_t> IndexedMembers(const std::string& cohort) {
    std::vector<uint64_t> ids;
    std::string prefix = store::StaticMemberPrefix("p", cohort);
    EXPECT_TRUE(store_
                    ->Scan(store::Table::kMeta, prefix, store::PrefixEnd(prefix),
                           [&](std::string_view key, std::string_view) {
                             std::string_view tail = key.substr(prefix.size());
                             uint64_t id = 0;
                             EXPECT_TRUE(GetFixed64BE(&tail, &id));
                             ids.push_back(id);
                             return true;
                           })
                    .ok());
    return ids;
  }
};

TEST_F(StaticCohortTest, AnUploadCreatesACohortOfTheKnownIdsAndSkipsTheOthers) {
  ApplyOk({Track("alice", ""), Track("bob", "")});
  StaticCohortChange c;
  c.create = true;
  c.name = "VIPs";
  c.changes.push_back({CohortIdType::kUserId, true, {"alice", "nobody", "bob"}});
  c.changes.push_back({CohortIdType::kAmplitudeId, true, {"99", "x"}});
  StaticCohortResult r = Change(c);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FALSE(r.cohort_id.empty());
  EXPECT_EQ(r.matched, 2u);
  EXPECT_EQ(r.skipped[0], (std::vector<std::string>{"nobody"}));
  EXPECT_EQ(r.skipped[1], (std::vector<std::string>{"99", "x"}));
  EXPECT_EQ(CohortsOf("alice"), (std::vector<std::string>{r.cohort_id}));
  EXPECT_EQ(IndexedMembers(r.cohort_id).size(), 2u);
  ASSERT_EQ(catalogs_->Get("p")->cohorts().size(), 1u);
  EXPECT_TRUE(catalogs_->Get("p")->cohorts()[0].definition.is_static);
}

TEST_F(StaticCohortTest, MembershipChangesAddAndRemoveAndAReplacingUploadStartsOver) {
  ApplyOk({Track("alice", ""), Track("bob", ""), Track("carol", "")});
  StaticCohortChange c;
  c.create = true;
  c.cohort_id = "vip";
  c.name = "VIPs";
  c.changes.push_back({CohortIdType::kUserId, true, {"alice", "bob"}});
  ASSERT_TRUE(Change(c).status.ok());
  StaticCohortChange m;
  m.cohort_id = "vip";
  m.changes.push_back({CohortIdType::kUserId, false, {"alice"}});
  m.changes.push_back(
      {CohortIdType::kAmplitudeId, true, {std::to_string(Read("carol").amplitude_id)}});
  ASSERT_TRUE(Change(m).status.ok());
  EXPECT_TRUE(CohortsOf("alice").empty());
  EXPECT_EQ(CohortsOf("carol"), (std::vector<std::string>{"vip"}));
  EXPECT_EQ(IndexedMembers("vip").size(), 2u);
  StaticCohortChange replace;
  replace.create = true;
  replace.cohort_id = "vip";
  replace.name = "VIPs again";
  replace.changes.push_back({CohortIdType::kUserId, true, {"alice"}});
  ASSERT_TRUE(Change(replace).status.ok());
  EXPECT_EQ(CohortsOf("alice"), (std::vector<std::string>{"vip"}));
  EXPECT_TRUE(CohortsOf("bob").empty());
  EXPECT_TRUE(CohortsOf("carol").empty());
  EXPECT_EQ(IndexedMembers("vip"), (std::vector<uint64_t>{Read("alice").amplitude_id}));
}

TEST_F(StaticCohortTest, RefusingUnknownIdsChangesNothing) {
  ApplyOk({Track("alice", "")});
  StaticCohortChange c;
  c.create = true;
  c.cohort_id = "vip";
  c.name = "VIPs";
  c.refuse_unknown_ids = true;
  c.changes.push_back({CohortIdType::kUserId, true, {"alice", "nobody"}});
  StaticCohortResult r = Change(c);
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("nobody"), std::string::npos) << r.status.message();
  EXPECT_TRUE(CohortsOf("alice").empty());
  EXPECT_TRUE(catalogs_->Get("p")->cohorts().empty());
}

TEST_F(StaticCohortTest, AFailedUploadLeavesNeitherTheCohortNorItsMembers) {
  ApplyOk({Track("alice", "")});
  store_->FailNextCommits(1, Status::IoError("disk full"));
  StaticCohortChange c;
  c.create = true;
  c.cohort_id = "vip";
  c.name = "VIPs";
  c.changes.push_back({CohortIdType::kUserId, true, {"alice"}});
  EXPECT_EQ(Change(c).status.code(), ErrorCode::kIoError);
  EXPECT_TRUE(catalogs_->Get("p")->cohorts().empty());
  DefinitionInfo info;
  EXPECT_TRUE(registry_->Get("p", DefinitionKind::kCohort, "vip", &info).IsNotFound());
  EXPECT_TRUE(CohortsOf("alice").empty());
  EXPECT_TRUE(IndexedMembers("vip").empty());
  EXPECT_TRUE(Change(c).status.ok());  // the retry works
  EXPECT_EQ(CohortsOf("alice"), (std::vector<std::string>{"vip"}));
}

TEST_F(StaticCohortTest, DeletingAStaticCohortTakesItsMembersOut) {
  ApplyOk({Track("alice", "")});
  StaticCohortChange c;
  c.create = true;
  c.cohort_id = "vip";
  c.name = "VIPs";
  c.changes.push_back({CohortIdType::kUserId, true, {"alice"}});
  ASSERT_TRUE(Change(c).status.ok());
  std::promise<Status> deleted;
  ingestor_->DeleteDefinition("p", DefinitionKind::kCohort, "vip",
                              [&](const Status& s) { deleted.set_value(s); });
  ASSERT_TRUE(deleted.get_future().get().ok());
  EXPECT_TRUE(CohortsOf("alice").empty());
  EXPECT_TRUE(IndexedMembers("vip").empty());
}

TEST_F(StaticCohortTest, AnAmplitudeIdFromBeforeAMergeNamesTheUserItMergedInto) {
  ApplyOk({Track("alice", "device-1"), Track("", "device-9")});
  uint64_t anon = Read("", "device-9").amplitude_id;
  ApplyOk({Track("alice", "device-9")});
  StaticCohortChange c;
  c.create = true;
  c.cohort_id = "vip";
  c.name = "VIPs";
  c.changes.push_back({CohortIdType::kAmplitudeId, true, {std::to_string(anon)}});
  StaticCohortResult r = Change(c);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.matched, 1u);
  EXPECT_EQ(CohortsOf("alice"), (std::vector<std::string>{"vip"}));
}

TEST_F(StaticCohortTest, AMembershipChangeNeedsAnExistingStaticCohort) {
  ASSERT_TRUE(PutDefinition(PurchaseCount(7)).ok());
  Cohort behavioral;
  behavioral.id = "buyers";
  CohortCondition condition;
  condition.spec = PurchaseCount(7).spec;
  behavioral.all_of.push_back({false, {condition}});
  ASSERT_TRUE(PutDefinition(behavioral).ok());
  StaticCohortChange m;
  m.cohort_id = "buyers";
  m.changes.push_back({CohortIdType::kUserId, true, {"alice"}});
  EXPECT_EQ(Change(m).status.code(), ErrorCode::kInvalidArgument);
  m.cohort_id = "nothing";
  EXPECT_EQ(Change(m).status.code(), ErrorCode::kInvalidArgument);
}

TEST_F(StaticCohortTest, AMergedAnonymousMemberMakesTheUserAMember) {
  ApplyOk({Track("alice", "device-1"), Track("", "device-9")});
  StaticCohortChange c;
  c.create = true;
  c.cohort_id = "vip";
  c.name = "VIPs";
  c.changes.push_back(
      {CohortIdType::kAmplitudeId, true, {std::to_string(Read("", "device-9").amplitude_id)}});
  ASSERT_TRUE(Change(c).status.ok());
  ApplyOk({Track("alice", "device-9")});
  EXPECT_EQ(CohortsOf("alice"), (std::vector<std::string>{"vip"}));
  EXPECT_EQ(IndexedMembers("vip"), (std::vector<uint64_t>{Read("alice").amplitude_id}));
}

TEST_F(ComputeWriterTest, AProjectAddedByAReloadServesItsStoredDefinitions) {
  Close();
  IngestorOptions both;
  both.projects = {"p", "q"};
  Open(both);
  ASSERT_TRUE(PutDefinition(PurchaseCount(7), "q").ok());
  Close();
  Open();  // "p" only: "q" was removed from the config
  EXPECT_TRUE(registry_->Catalog("q")->computations().empty());
  std::promise<Status> added;
  ingestor_->AddProjects({"q"}, [&added](Status s) { added.set_value(std::move(s)); });
  ASSERT_TRUE(added.get_future().get().ok());
  ASSERT_EQ(registry_->Catalog("q")->computations().size(), 1u);
  DefinitionInfo info;
  EXPECT_TRUE(registry_->Get("q", DefinitionKind::kComputation, "7", &info).ok());
}

}  // namespace
}  // namespace profiled::ingest
