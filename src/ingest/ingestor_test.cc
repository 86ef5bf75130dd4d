#include "ingest/ingestor.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "core/value_text.h"
#include "ingest/property_ops.h"
#include "ingest/test_util.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {
namespace {

namespace json = boost::json;
using json::object;

class IngestorTest : public IngestFixture {
 protected:
  static Event Counted(std::string device, std::string insert_id) {
    Event e = WithOps(Track("", std::move(device)), {{PropertyOpKind::kAdd, "n", 1}});
    e.insert_id = std::move(insert_id);
    return e;
  }

  std::vector<store::EventRecord> LoggedEvents(const std::string& project = "p") {
    std::vector<store::EventRecord> out;
    std::string end = store::ProjectPrefix(project);
    end.back() = static_cast<char>(end.back() + 1);
    Status s = store_->Scan(store::Table::kEvents, store::ProjectPrefix(project), end,
                            [&](std::string_view, std::string_view v) {
                              store::EventRecord r;
                              EXPECT_TRUE(store::DecodeEvent(v, &r).ok());
                              out.push_back(r);
                              return true;
                            });
    EXPECT_TRUE(s.ok());
    return out;
  }

  // The value of a counter as /metrics shows it.
  uint64_t Counter(const std::string& name) {
    std::istringstream text(metrics_.RenderPrometheus());
    std::string line;
    while (std::getline(text, line)) {
      if (line.rfind(name + " ", 0) == 0) return std::stoull(line.substr(name.size() + 1));
    }
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  // Submits without waiting; the result arrives in the returned future.
  std::future<IngestResult> SubmitAsync(std::vector<Event> events, bool internal = false) {
    auto done = std::make_shared<std::promise<IngestResult>>();
    auto future = done->get_future();
    IngestBatch batch{"p", std::move(events)};
    batch.internal = internal;
    ingestor_->Submit(std::move(batch), [done](IngestResult r) { done->set_value(std::move(r)); });
    return future;
  }

  // Reopens the Ingestor with the options of a config saying `durability = "<durability>"`,
  // applies two batches and returns what reached the store.
  std::vector<store::FaultStore::CommitRecord> CommitsWithDurability(
      const std::string& durability) {
    auto config =
        ParseConfig("[storage]\ndurability = \"" + durability +
                    "\"\n[[projects]]\nid = \"p\"\napi_key = \"k\"\nsecret_key = \"s\"\n");
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    Close();
    fsync_ = true;
    Open(IngestorOptionsFromConfig(*config));
    ApplyOk({SetProps("alice", "", {{"a", 1}})});
    ApplyOk({Track("alice", "device-1")});
    return store_->commits();
  }

  // Whether some commit, failed or not, wrote `key` to the identity table.
  bool CommitTouched(const store::FaultStore::CommitRecord& c, const std::string& key) {
    for (const auto& op : c.writes.ops()) {
      if (op.table == store::Table::kIdentity && op.key == key) return true;
    }
    return false;
  }
};

TEST_F(IngestorTest, DuplicateInsertIdOnTheSameDeviceAppliesOnce) {
  IngestResult r = Apply({Counted("device-1", "i1"), Counted("device-1", "i1")});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(r.deduplicated, 1u);
  ApplyOk({Counted("device-1", "i1")});
  EXPECT_EQ(Read("", "device-1").properties, (object{{"n", 1}}));
  EXPECT_EQ(LoggedEvents().size(), 1u);
}

TEST_F(IngestorTest, TheSameInsertIdOnAnotherDeviceIsNotADuplicate) {
  ApplyOk({Counted("device-1", "i1"), Counted("device-2", "i1")});
  EXPECT_EQ(Read("", "device-2").properties, (object{{"n", 1}}));
}

TEST_F(IngestorTest, DedupSurvivesARestartAndExpiresAfterTheWindow) {
  ApplyOk({Counted("device-1", "i1")});
  Close();
  Open();
  ApplyOk({Counted("device-1", "i1")});
  EXPECT_EQ(Read("", "device-1").properties, (object{{"n", 1}}));
  clock_.Advance(7LL * 86400000 + 1);
  ApplyOk({Counted("device-1", "i1")});
  EXPECT_EQ(Read("", "device-1").properties, (object{{"n", 2}}));
}

TEST_F(IngestorTest, EventsAreLoggedWithTheirAmplitudeIdButIdentifyApiCallsAreNot) {
  Event tracked = Track("alice", "device-1");
  tracked.json = R"({"event_type":"click"})";
  Event identify = SetProps("alice", "", {{"a", 1}});
  identify.origin = EventOrigin::kIdentifyApi;
  ApplyOk({tracked, identify});
  auto logged = LoggedEvents();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].amplitude_id, 1u);
  EXPECT_EQ(logged[0].time_ms, kTestNow);
  EXPECT_EQ(logged[0].event_type, "click");
  EXPECT_EQ(logged[0].json, R"({"event_type":"click"})");
}

TEST_F(IngestorTest, OnlyOrdinaryEventsCountAsActivity) {
  Event identify = SetProps("alice", "", {{"a", 1}});
  ApplyOk({identify});
  EXPECT_FALSE(Read("alice").builtins.contains("last_used"));
  ApplyOk({Track("alice", "")});
  EXPECT_EQ(Read("alice").builtins.at("last_used"), "2026-01-01");
}

TEST_F(IngestorTest, SkipUserPropertiesSyncLeavesPropertiesAlone) {
  Event e = SetProps("alice", "", {{"a", 1}});
  e.skip_user_properties = true;
  ApplyOk({e});
  EXPECT_TRUE(Read("alice").properties.empty());
}

TEST_F(IngestorTest, AThrottledBatchAppliesNothing) {
  Close();
  IngestorOptions o;
  o.throttle_events_per_second = 2;
  o.throttle_window_seconds = 1;
  Open(o);
  IngestResult r =
      Apply({SetProps("", "device-1", {{"a", 1}}), SetProps("", "device-1", {{"b", 1}}),
             SetProps("", "device-1", {{"c", 1}}), SetProps("", "device-2", {{"d", 1}})});
  EXPECT_EQ(r.status.code(), ErrorCode::kThrottled);
  EXPECT_EQ(r.throttle.throttled_events, (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(Read("", "device-1").found);
  EXPECT_FALSE(Read("", "device-2").found);
  ApplyOk({SetProps("", "device-2", {{"d", 1}})});
  EXPECT_TRUE(Read("", "device-2").found);
}

TEST_F(IngestorTest, ConcurrentBatchesAreAllDurable) {
  Close();
  fsync_ = true;
  Open();
  std::vector<std::promise<IngestResult>> done(50);
  std::vector<char> synced_before_answer(50, 0);
  for (int i = 0; i < 50; ++i) {
    std::string key = store::UserKey("p", "user-" + std::to_string(i));
    ingestor_->Submit(IngestBatch{"p", {SetProps("user-" + std::to_string(i), "", {{"i", i}})}},
                      [&, i, key](IngestResult r) {
                        // Checked in the callback: the answer must wait for the fsync.
                        synced_before_answer[i] =
                            store_->SyncedWrite(store::Table::kIdentity, key) ? 1 : 0;
                        done[i].set_value(std::move(r));
                      });
  }
  for (auto& d : done) ASSERT_TRUE(d.get_future().get().status.ok());
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(synced_before_answer[i]) << "batch " << i;
  Close();
  Open();
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Read("user-" + std::to_string(i)).properties, (object{{"i", i}}));
  }
}

TEST_F(IngestorTest, StopDrainsTheQueueAndRefusesLaterBatches) {
  std::promise<IngestResult> first;
  ingestor_->Submit(IngestBatch{"p", {SetProps("alice", "", {{"a", 1}})}},
                    [&first](IngestResult r) { first.set_value(std::move(r)); });
  ingestor_->Stop();
  EXPECT_TRUE(first.get_future().get().status.ok());
  IngestResult late = Apply({SetProps("bob", "", {{"b", 1}})});
  EXPECT_EQ(late.status.code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(Read("bob").found);
  EXPECT_TRUE(Read("alice").found);
}

// Internal batches (recommendation exposures) wait for company: the tests give them a
// minute, so nothing but the rule under test can commit them.
class InternalBatchTest : public IngestorTest {
 protected:
  void SetUp() override {
    IngestorTest::SetUp();
    Close();
    IngestorOptions options;
    options.internal_delay_ms = 60000;
    options.internal_group_events = 3;
    Open(options);
  }
  std::future<IngestResult> SubmitInternal(const std::string& user) {
    return SubmitAsync({Track(user, "")}, /*internal=*/true);
  }
  static bool Waiting(std::future<IngestResult>& f) {
    return f.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout;
  }
};

TEST_F(InternalBatchTest, InternalBatchesWaitUntilTheyAreEnoughForAGroupAndShareOneCommit) {
  size_t commits = store_->commits().size();
  auto a = SubmitInternal("alice");
  auto b = SubmitInternal("bob");
  EXPECT_TRUE(Waiting(a));
  EXPECT_TRUE(Waiting(b));
  EXPECT_EQ(store_->commits().size(), commits);
  auto c = SubmitInternal("carol");  // the third event makes a group
  EXPECT_TRUE(a.get().status.ok());
  EXPECT_TRUE(b.get().status.ok());
  EXPECT_TRUE(c.get().status.ok());
  EXPECT_EQ(store_->commits().size(), commits + 1);
  EXPECT_TRUE(Read("carol").found);
}

TEST_F(InternalBatchTest, AClientBatchTakesTheWaitingInternalOnesAlong) {
  size_t commits = store_->commits().size();
  auto exposure = SubmitInternal("alice");
  EXPECT_TRUE(Waiting(exposure));
  ApplyOk({Track("bob", "")});
  EXPECT_TRUE(exposure.get().status.ok());
  EXPECT_EQ(store_->commits().size(), commits + 1);
  EXPECT_TRUE(Read("alice").found);
}

TEST_F(InternalBatchTest, AWaitingInternalBatchNeverRefusesAClientBatch) {
  Close();
  IngestorOptions options;
  options.internal_delay_ms = 60000;
  options.max_queued_bytes = 100;
  Open(options);
  auto exposure = SubmitInternal("alice");
  EXPECT_TRUE(Waiting(exposure));
  // Larger than the bound on its own: taken, as by an empty queue.
  Event big = SetProps("bob", "", {{"b", 1}});
  big.json = std::string(150, 'x');
  IngestResult r = Apply({big});
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(exposure.get().status.ok());
  EXPECT_TRUE(Read("bob").found);
}

TEST_F(InternalBatchTest, StopCommitsTheWaitingInternalBatches) {
  auto exposure = SubmitInternal("alice");
  EXPECT_TRUE(Waiting(exposure));
  ingestor_->Stop();
  EXPECT_TRUE(exposure.get().status.ok());
  EXPECT_TRUE(Read("alice").found);
}

TEST_F(IngestorTest, AnInternalBatchAloneIsCommittedAfterTheDelay) {
  Close();
  IngestorOptions options;
  options.internal_delay_ms = 50;
  Open(options);
  auto future = SubmitAsync({Track("alice", "")}, /*internal=*/true);
  EXPECT_TRUE(future.get().status.ok());  // no other batch, no Stop: the delay alone
  EXPECT_TRUE(Read("alice").found);
}

TEST_F(IngestorTest, RetentionDropsOnlyEventsOlderThanTheWindow) {
  ApplyOk({Track("alice", "")});
  clock_.Advance(89LL * 86400000);
  ApplyOk({Track("alice", "")});
  clock_.Advance(2LL * 86400000);  // the first is now 91 days old, the second 2
  ASSERT_TRUE(ingestor_->EnforceRetention().ok());
  auto logged = LoggedEvents();
  ASSERT_EQ(logged.size(), 1u);
}

// Submits every batch before the writer starts, so they are applied as one commit group.
std::vector<IngestResult> ApplyAsOneGroup(store::Store& store, const Clock& clock,
                                          std::vector<std::vector<Event>> batches) {
  IngestorOptions options;
  options.sync = false;
  options.projects = {"p"};
  Ingestor ingestor(store, options, clock, nullptr);
  std::vector<std::promise<IngestResult>> done(batches.size());
  for (size_t i = 0; i < batches.size(); ++i) {
    ingestor.Submit(IngestBatch{"p", std::move(batches[i])},
                    [&done, i](IngestResult r) { done[i].set_value(std::move(r)); });
  }
  ingestor.Start();
  std::vector<IngestResult> results;
  results.reserve(done.size());
  for (auto& d : done) results.push_back(d.get_future().get());
  ingestor.Stop();
  return results;
}

// An event whose $set would grow the user's properties past kMaxPropertiesBytes.
Event Oversized(std::string user_id) {
  json::array big;
  for (int i = 0; i < 1000; ++i) big.push_back(json::string(std::string(100, 'x')));
  std::vector<PropertyOp> ops;
  ops.reserve(12);
  for (int i = 0; i < 12; ++i)
    ops.push_back({PropertyOpKind::kSet, "big" + std::to_string(i), big});
  Event e = WithOps(Track(std::move(user_id), "", "$identify"), std::move(ops));
  e.origin = EventOrigin::kIdentify;
  return e;
}

TEST_F(IngestorTest, AnEventThatWouldOutgrowTheProfileRefusesOnlyItsOwnBatch) {
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  ingestor_->Stop();
  auto results = ApplyAsOneGroup(
      *store_, clock_,
      {{SetProps("bob", "", {{"b", 1}})},
       {SetProps("alice", "", {{"c", 2}}), SetProps("dave", "", {{"d", 4}}), Oversized("alice")},
       {SetProps("carol", "", {{"c", 3}})}});
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(results[1].failed_event, 2);
  EXPECT_EQ(results[1].invalid_field, EventField::kUserProperties);
  EXPECT_EQ(results[1].accepted, 0u);
  EXPECT_NE(results[1].status.message().find("over the limit"), std::string::npos);
  EXPECT_TRUE(results[2].status.ok());
  // Nothing of the refused batch, not even its first event, was applied.
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
  EXPECT_EQ(Read("bob").properties, (object{{"b", 1}}));
  EXPECT_EQ(Read("carol").properties, (object{{"c", 3}}));
  EXPECT_FALSE(Read("dave").found);
  // dave's id (3) was handed back with the refused batch: carol gets it.
  EXPECT_EQ(Read("carol").amplitude_id, 3u);
}

TEST_F(IngestorTest, AProfileOverTheLimitCanStillShrinkAndGrowWithinIt) {
  IngestResult refused = Apply({Oversized("alice")});
  EXPECT_EQ(refused.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(Read("alice").found);
  ApplyOk({SetProps("alice", "", {{"a", std::string(1000, 'y')}})});
  ApplyOk({WithOps(Track("alice", ""), {{PropertyOpKind::kUnset, "a", nullptr}})});
  EXPECT_TRUE(Read("alice").properties.empty());
}

TEST_F(IngestorTest, AUserWhoseStoredProfileIsCorruptRefusesOnlyItsBatch) {
  ApplyOk({SetProps("alice", "", {{"a", 1}}), SetProps("bob", "", {{"b", 1}})});
  store::WriteSet w;
  w.Put(store::Table::kProfiles, store::ProfileKey("p", 1), "\x01not a profile");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  ingestor_->Stop();
  auto results =
      ApplyAsOneGroup(*store_, clock_,
                      {{SetProps("bob", "", {{"b", 2}}), SetProps("alice", "", {{"a", 2}})},
                       {SetProps("bob", "", {{"c", 3}})}});
  EXPECT_EQ(results[0].status.code(), ErrorCode::kCorruption);
  EXPECT_EQ(results[0].failed_event, 1);
  EXPECT_TRUE(results[1].status.ok());
  EXPECT_EQ(Read("bob").properties, (object{{"b", 1}, {"c", 3}}));
}

TEST_F(IngestorTest, TheFirstTouchOfAUserInAGroupReadsAllItsRecordsWithOneMultiGet) {
  // It writes records behind the writer's back, which a state the writer kept from an
  // earlier group would not show: keep none.
  ReopenWithWriterCache(0);
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  PutUserRecord(1, store::UserRecord::kAggregates, "aggregates");
  size_t multi_gets = store_->MultiGetCalls(store::Table::kProfiles);
  ApplyOk(
      {SetProps("alice", "", {{"b", 2}}), Track("alice", ""), SetProps("alice", "", {{"c", 3}})});
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kProfiles), multi_gets + 1);
  EXPECT_EQ(store_->GetCalls(store::Table::kProfiles), 0u);
  // Written back as a unit: the profile changed, the other record is kept.
  std::map<char, std::string> records = UserRecords(1);
  EXPECT_EQ(records['a'], "aggregates");
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}, {"b", 2}, {"c", 3}}));
  // A new user needs no read at all.
  ApplyOk({SetProps("bob", "", {{"b", 1}})});
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kProfiles), multi_gets + 1);
}

TEST_F(IngestorTest, ARefusedBatchRestoresTheRecordsAMergeMoved) {
  ApplyOk({Track("alice", "device-1"), Track("carol", "device-2")});
  ApplyOk({Track("", "device-8"), Track("", "device-9")});
  uint64_t alice = Read("alice").amplitude_id;
  uint64_t carol = Read("carol").amplitude_id;
  uint64_t anon8 = Read("", "device-8").amplitude_id;
  uint64_t anon9 = Read("", "device-9").amplitude_id;
  // Each anonymous user has both records; alice has her own static cohorts, carol her own
  // aggregates: each merge moves one record and keeps the other.
  for (uint64_t anon : {anon8, anon9}) {
    PutUserRecord(anon, store::UserRecord::kAggregates, AggregatesRecord(2));
    PutUserRecord(anon, store::UserRecord::kStaticCohorts, store::EncodeStaticCohorts({"anon"}));
  }
  PutUserRecord(alice, store::UserRecord::kStaticCohorts, store::EncodeStaticCohorts({"alice"}));
  PutUserRecord(carol, store::UserRecord::kAggregates, AggregatesRecord(5));
  std::map<char, std::string> alice_before = UserRecords(alice);
  std::map<char, std::string> carol_before = UserRecords(carol);
  ingestor_->Stop();
  // The first batch puts both users in the group's cache, so the second edits them in
  // place: the merges change their records, then the batch is refused.
  auto results = ApplyAsOneGroup(
      *store_, clock_,
      {{SetProps("alice", "", {{"a", 1}}), SetProps("carol", "", {{"c", 1}})},
       {Track("alice", "device-8"), Track("carol", "device-9"), Oversized("alice")}});
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  std::map<char, std::string> alice_after = UserRecords(alice);
  std::map<char, std::string> carol_after = UserRecords(carol);
  alice_after.erase('p');  // rewritten by the first batch
  carol_after.erase('p');
  EXPECT_EQ(alice_after,
            (std::map<char, std::string>{{'s', store::EncodeStaticCohorts({"alice"})}}));
  EXPECT_EQ(carol_after, (std::map<char, std::string>{{'a', AggregatesRecord(5)}}));
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
  for (uint64_t anon : {anon8, anon9}) {
    std::map<char, std::string> records = UserRecords(anon);
    EXPECT_EQ(records['a'], AggregatesRecord(2));
    EXPECT_EQ(records['s'], store::EncodeStaticCohorts({"anon"}));
    EXPECT_EQ(records.count('p'), 1u);
  }
  EXPECT_EQ(Read("", "device-8").amplitude_id, anon8);
  EXPECT_EQ(Read("", "device-9").amplitude_id, anon9);
}

TEST_F(IngestorTest, ARefusedBatchThatFirstTouchedAUserLeavesItsRecordsAlone) {
  // It writes records behind the writer's back, which a state the writer kept from an
  // earlier group would not show: keep none.
  ReopenWithWriterCache(0);
  ApplyOk({Track("alice", "device-1")});
  ApplyOk({Track("", "device-9")});
  uint64_t anon = Read("", "device-9").amplitude_id;
  PutUserRecord(anon, store::UserRecord::kAggregates, AggregatesRecord(2));
  IngestResult refused = Apply({Track("alice", "device-9"), Oversized("alice")});
  EXPECT_EQ(refused.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(UserRecords(anon)['a'], AggregatesRecord(2));
  EXPECT_EQ(UserRecords(Read("alice").amplitude_id).count('a'), 0u);
}

TEST_F(IngestorTest, AMappingToAnIdWithoutAProfileIsStaleAndStartsANewUser) {
  // It writes records behind the writer's back, which a state the writer kept from an
  // earlier group would not show: keep none.
  ReopenWithWriterCache(0);
  ApplyOk({Track("alice", "device-1")});
  // What a privacy deletion that could not find every mapping leaves: the user_id and the
  // device still map to 1, which has no profile.
  store::WriteSet w;
  w.Delete(store::Table::kProfiles, store::ProfileKey("p", 1));
  ASSERT_TRUE(store_->Commit(w, false).ok());
  ApplyOk({SetProps("", "device-1", {{"a", 1}})});
  ApplyOk({SetProps("alice", "", {{"b", 2}})});
  // Each is a new user, with nothing of the old one.
  Found device = Read("", "device-1");
  Found alice = Read("alice");
  EXPECT_NE(device.amplitude_id, 1u);
  EXPECT_NE(alice.amplitude_id, 1u);
  EXPECT_NE(alice.amplitude_id, device.amplitude_id);
  EXPECT_EQ(device.properties, (object{{"a", 1}}));
  EXPECT_EQ(alice.properties, (object{{"b", 2}}));
  EXPECT_EQ(UserRecords(1).count('p'), 0u);
}

TEST_F(IngestorTest, AUserOfAnEarlierGroupIsReadFromTheWritersKeptStateNotTheStore) {
  ApplyOk({SetProps("alice", "device-1", {{"a", 1}})});
  size_t id_gets = store_->GetCalls(store::Table::kIdentity);
  size_t multi_gets = store_->MultiGetCalls(store::Table::kProfiles);
  ApplyOk({SetProps("alice", "device-1", {{"b", 2}}), Track("alice", "device-1")});
  EXPECT_EQ(store_->GetCalls(store::Table::kIdentity), id_gets);
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kProfiles), multi_gets);
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}, {"b", 2}}));
}

TEST_F(IngestorTest, AfterAFailedCommitTheWriterReadsItsUsersFromTheStoreAgain) {
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  store_->FailNextCommits(1, Status::IoError("injected: disk full"));
  EXPECT_FALSE(Apply({SetProps("alice", "", {{"b", 2}})}).status.ok());
  size_t multi_gets = store_->MultiGetCalls(store::Table::kProfiles);
  ApplyOk({SetProps("alice", "", {{"c", 3}})});
  EXPECT_EQ(store_->MultiGetCalls(store::Table::kProfiles), multi_gets + 1);
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}, {"c", 3}}));
}

TEST_F(IngestorTest, ARefusedBatchLeavesAKeptUserAsCommitted) {
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  IngestResult refused = Apply({SetProps("alice", "", {{"a", 2}}), Oversized("alice")});
  EXPECT_EQ(refused.status.code(), ErrorCode::kInvalidArgument);
  ApplyOk({SetProps("alice", "", {{"b", 3}})});
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}, {"b", 3}}));
}

TEST_F(IngestorTest, AWriterCacheOverItsBudgetStillAppliesEveryEvent) {
  ReopenWithWriterCache(4096);  // room for a few users only
  for (int round = 0; round < 3; ++round) {
    std::vector<Event> events;
    events.reserve(50);
    for (int u = 0; u < 50; ++u) {
      events.push_back(SetProps("user-" + std::to_string(u), "", {{"r", round}}));
    }
    ApplyOk(std::move(events));
  }
  for (int u = 0; u < 50; ++u) {
    EXPECT_EQ(Read("user-" + std::to_string(u)).properties, (object{{"r", 2}}));
  }
}

TEST_F(IngestorTest, DurabilityFsyncInTheConfigSyncsEveryCommit) {
  auto commits = CommitsWithDurability("fsync");
  ASSERT_EQ(commits.size(), 2u);
  for (const auto& c : commits) EXPECT_TRUE(c.sync);
}

TEST_F(IngestorTest, DurabilityBufferedInTheConfigDoesNotSync) {
  auto commits = CommitsWithDurability("buffered");
  ASSERT_EQ(commits.size(), 2u);
  for (const auto& c : commits) EXPECT_FALSE(c.sync);
}

TEST_F(IngestorTest, AFailedCommitAnswersEveryBatchOfTheGroupAndAppliesNothing) {
  // Commits on the writer, so that it parks in the first commit and the next two batches
  // form one group (InFlightTest covers a failed commit in flight).
  ReopenWithoutCommitsInFlight();
  ApplyOk({SetProps("alice", "", {{"a", 1}}), Track("alice", "")});
  size_t logged = LoggedEvents().size();
  uint64_t ingested = Counter("profiled_events_ingested_total");

  // The writer parks in the commit of `first`; `second` and `third` queue behind it and
  // form the next group. Both commits fail.
  store_->StallCommits();
  auto first = SubmitAsync({SetProps("bob", "", {{"b", 1}})});
  store_->WaitForStalledCommit();
  std::vector<Event> second_events = {WithOps(Track("alice", ""), {{PropertyOpKind::kAdd, "a", 5}}),
                                      Track("", "carol-device")};
  std::vector<Event> third_events = {SetProps("dave", "", {{"d", 1}})};
  auto second = SubmitAsync(second_events);
  auto third = SubmitAsync(third_events);
  store_->FailNextCommits(2, Status::IoError("injected: disk full"));
  store_->ResumeCommits();

  for (auto* f : {&first, &second, &third}) {
    IngestResult r = f->get();
    EXPECT_EQ(r.status.code(), ErrorCode::kUnavailable);
    EXPECT_EQ(r.accepted, 0u);
  }
  auto commits = store_->commits();
  ASSERT_EQ(commits.size(), 3u);
  EXPECT_FALSE(commits[2].status.ok());
  EXPECT_TRUE(CommitTouched(commits[2], store::UserKey("p", "dave")));
  EXPECT_TRUE(CommitTouched(commits[2], store::DeviceKey("p", "carol-device")));

  EXPECT_EQ(Counter("profiled_events_ingested_total"), ingested);
  EXPECT_EQ(Counter("profiled_events_rejected_total"), 0u);
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
  EXPECT_FALSE(Read("bob").found);
  EXPECT_FALSE(Read("", "carol-device").found);
  EXPECT_FALSE(Read("dave").found);
  EXPECT_EQ(LoggedEvents().size(), logged);

  // A retry succeeds, and ids and the event log continue where the last commit left them.
  ApplyOk(second_events);
  ApplyOk(third_events);
  EXPECT_EQ(Read("alice").properties, (object{{"a", 6}}));
  EXPECT_EQ(Read("alice").amplitude_id, 1u);
  EXPECT_EQ(Read("", "carol-device").amplitude_id, 2u);
  EXPECT_EQ(Read("dave").amplitude_id, 3u);
  EXPECT_EQ(LoggedEvents().size(), logged + 3);
  EXPECT_EQ(Counter("profiled_events_ingested_total"), ingested + 3);
}

// Commits in flight: the writer applies the next group while the last one's commit is parked
// (FaultStore::StallCommits).
class InFlightTest : public IngestorTest {
 protected:
  // The first group is `first` plus a track of device "probe-1"; its commit is parked. The
  // batches of `second` are queued while the writer still applies `first`, so they form the
  // next group, applied while that commit is parked; when the writer reads device "probe-2"
  // (the last batch of `second` must track it), `before_resume` runs and the parked commit
  // goes on. Returns every batch's result, the first group's first.
  std::vector<IngestResult> WithFirstInFlight(std::vector<Event> first,
                                              std::vector<std::vector<Event>> second,
                                              const std::function<void()>& before_resume = {}) {
    // The writer's first turns also sweep retention and look for deletion jobs, which wait for
    // the commit in flight: one group first gets them done.
    ApplyOk({Track("", "warm-up")});
    first.push_back(Track("", "probe-1"));
    store_->StallCommits();
    auto in_first = std::make_shared<std::promise<void>>();
    auto queued = std::make_shared<std::promise<void>>();
    auto resumed = std::make_shared<std::promise<void>>();
    std::shared_future<void> queued_future = queued->get_future().share();
    store_->BeforeGet(store::Table::kIdentity, store::DeviceKey("p", "probe-1"),
                      [this, in_first, queued_future, before_resume, resumed] {
                        in_first->set_value();
                        queued_future.wait();
                        store_->BeforeGet(store::Table::kIdentity, store::DeviceKey("p", "probe-2"),
                                          [this, before_resume, resumed] {
                                            if (before_resume) before_resume();
                                            store_->ResumeCommits();
                                            resumed->set_value();
                                          });
                      });
    std::vector<std::future<IngestResult>> done;
    done.push_back(SubmitAsync(std::move(first)));
    in_first->get_future().wait();
    for (auto& batch : second) done.push_back(SubmitAsync(std::move(batch)));
    queued->set_value();
    // Not a measure of speed: a writer that waits for the parked commit would wait forever.
    if (resumed->get_future().wait_for(std::chrono::minutes(2)) != std::future_status::ready) {
      ADD_FAILURE() << "the next group was not applied while the commit was parked";
      store_->ResumeCommits();
    }
    std::vector<IngestResult> results;
    results.reserve(done.size());
    for (auto& f : done) results.push_back(f.get());
    return results;
  }
};

TEST_F(InFlightTest, TheNextGroupBuildsOnTheCommitInFlightWhateverTheCacheBudget) {
  ReopenWithWriterCache(1);  // nothing is kept across groups but what a commit in flight writes
  ApplyOk({Counted("device-1", "i0")});
  auto results = WithFirstInFlight(
      {SetProps("alice", "", {{"a", 1}}), Counted("device-1", "i1"), Track("bob", "")},
      {{SetProps("alice", "", {{"b", 2}}), Counted("device-1", "i1"),
        SetProps("bob", "", {{"c", 3}}), Track("", "probe-2")}});
  for (const auto& r : results) ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  // Read from the store, the second group would have missed what the first writes: alice's
  // a, bob (whom it creates), device-1's count and its insert_id.
  EXPECT_EQ(results[1].deduplicated, 1u);
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}, {"b", 2}}));
  EXPECT_EQ(Read("bob").properties, (object{{"c", 3}}));
  EXPECT_EQ(Read("", "device-1").properties, (object{{"n", 2}}));
  EXPECT_EQ(store_->commits().size(), 4u);  // i0, the warm-up, the two groups
}

TEST_F(InFlightTest, ARolledBackBatchLeavesAUserAsTheCommitInFlightWritesIt) {
  auto results = WithFirstInFlight({SetProps("alice", "", {{"a", 1}})},
                                   {{SetProps("alice", "", {{"b", 2}}), Oversized("alice")},
                                    {SetProps("alice", "", {{"c", 3}}), Track("", "probe-2")}});
  EXPECT_TRUE(results[0].status.ok()) << results[0].status.ToString();
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(results[2].status.ok()) << results[2].status.ToString();
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}, {"c", 3}}));
}

TEST_F(InFlightTest, StopReturnsOnceTheCommitInFlightAnsweredItsBatches) {
  ApplyOk({Track("bob", "")});  // the writer's first turn also sweeps retention, which waits
  store_->StallCommits();
  auto first = SubmitAsync({SetProps("alice", "", {{"a", 1}})});
  store_->WaitForStalledCommit();
  std::atomic<bool> answered_at_stop{false};
  std::thread stopper([&] {
    ingestor_->Stop();
    answered_at_stop = first.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  // Long enough for a Stop that does not wait for the commit to have returned (it then fails
  // below); a Stop that does wait passes however long this is.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  store_->ResumeCommits();
  stopper.join();
  EXPECT_TRUE(answered_at_stop);
  EXPECT_TRUE(first.get().status.ok());
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
}

TEST_F(InFlightTest, ARetryOfABatchWhoseCommitInFlightFailedIsNotChargedTwice) {
  Close();
  IngestorOptions o;
  o.throttle_window_seconds = 1;
  o.project_events_per_second = {{"p", 2}};  // 2 events in the window; the clock stands still
  Open(o);
  ApplyOk({Track("bob", "")});  // the writer's first turn also sweeps retention, which waits
  clock_.Advance(2000);         // bob's event leaves the window
  std::vector<Event> batch = {SetProps("alice", "", {{"a", 1}}), SetProps("carol", "", {{"c", 1}})};
  store_->StallCommits();
  auto first = SubmitAsync(batch);
  store_->WaitForStalledCommit();
  store_->FailNextCommits(1, Status::IoError("injected: disk full"));
  store_->ResumeCommits();
  EXPECT_EQ(first.get().status.code(), ErrorCode::kUnavailable);
  // Retried at once, as an SDK retries a 503: its events were given back to the project.
  IngestResult retry = Apply(batch);
  EXPECT_TRUE(retry.status.ok()) << retry.status.ToString();
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
}

TEST_F(InFlightTest, WhenTheCommitInFlightFailsTheNextGroupIsAppliedAgainWithoutIt) {
  ApplyOk({SetProps("alice", "", {{"x", 0}})});
  const uint64_t ingested = Counter("profiled_events_ingested_total");
  auto results = WithFirstInFlight(
      {SetProps("alice", "", {{"a", 1}}), Track("bob", "")},
      {{WithOps(Track("alice", ""), {{PropertyOpKind::kAdd, "n", 1}}), Track("", "probe-2")}},
      [this] { store_->FailNextCommits(1, Status::IoError("injected: disk full")); });
  EXPECT_EQ(results[0].status.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(results[0].accepted, 0u);
  ASSERT_TRUE(results[1].status.ok()) << results[1].status.ToString();
  EXPECT_EQ(Read("alice").properties, (object{{"x", 0}, {"n", 1}}));
  EXPECT_FALSE(Read("bob").found);
  EXPECT_FALSE(Read("", "probe-1").found);
  EXPECT_EQ(Counter("profiled_events_ingested_total"), ingested + 3);  // warm-up 1, second group 2
}

TEST_F(IngestorTest, AStoreReadErrorFailsTheBatchAndAppliesNothing) {
  store_->FailNextGets(1, Status::IoError("injected: read failed"));
  IngestResult r = Apply({SetProps("alice", "", {{"a", 1}})});
  EXPECT_EQ(r.status.code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(Read("alice").found);
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
}

TEST_F(IngestorTest, AnInsertIdIsADuplicateForExactlyTheDedupWindow) {
  Close();
  IngestorOptions o;
  o.dedup_window_days = 2;
  Open(o);
  ApplyOk({Counted("device-1", "i1")});
  clock_.Advance(2LL * 86400000);  // seen exactly the window ago: still a duplicate
  EXPECT_EQ(Apply({Counted("device-1", "i1")}).deduplicated, 1u);
  clock_.Advance(1);  // now older than the window: accepted again, and remembered anew
  EXPECT_EQ(Apply({Counted("device-1", "i1")}).deduplicated, 0u);
  EXPECT_EQ(Read("", "device-1").properties, (object{{"n", 2}}));
  clock_.Advance(86400000);
  EXPECT_EQ(Apply({Counted("device-1", "i1")}).deduplicated, 1u);
  EXPECT_EQ(Read("", "device-1").properties, (object{{"n", 2}}));
}

TEST_F(IngestorTest, AFullQueueRefusesABatchWithRetryAfterAndAppliesNothing) {
  Close();
  IngestorOptions o;
  o.max_queued_events = 3;
  o.pipeline_commits = false;  // the writer parks in the commit: it takes nothing more
  Open(o);
  store_->StallCommits();
  auto parked = SubmitAsync({SetProps("alice", "", {{"a", 1}})});
  store_->WaitForStalledCommit();  // the queue is empty again; the writer holds alice
  auto queued = SubmitAsync({SetProps("bob", "", {{"b", 1}}), SetProps("bob", "", {{"c", 1}})});
  IngestResult refused = Apply({SetProps("carol", "", {{"c", 1}}), SetProps("carol", "", {})});
  EXPECT_EQ(refused.status.code(), ErrorCode::kUnavailable);
  EXPECT_GT(refused.retry_after_seconds, 0);
  auto fits = SubmitAsync({SetProps("dave", "", {{"d", 1}})});  // 3 events queued: at the bound
  store_->ResumeCommits();
  EXPECT_TRUE(parked.get().status.ok());
  EXPECT_TRUE(queued.get().status.ok());
  EXPECT_TRUE(fits.get().status.ok());
  EXPECT_FALSE(Read("carol").found);
  // Once the writer drains the queue, the same batch goes through.
  ApplyOk({SetProps("carol", "", {{"c", 1}}), SetProps("carol", "", {})});
  EXPECT_TRUE(Read("carol").found);
}

TEST_F(IngestorTest, NewLimitsTakeEffectWithoutARestart) {
  ReopenWithoutCommitsInFlight();  // the writer parks in a commit below: it takes nothing more
  ApplyOk({SetProps("", "device-1", {{"a", 1}}), SetProps("", "device-1", {{"b", 1}}),
           SetProps("", "device-1", {{"c", 1}})});
  IngestorOptions limits;
  limits.throttle_events_per_second = 2;
  limits.throttle_window_seconds = 1;
  limits.max_queued_events = 3;
  ingestor_->SetLimits(limits);
  IngestResult r =
      Apply({SetProps("", "device-2", {{"a", 1}}), SetProps("", "device-2", {{"b", 1}}),
             SetProps("", "device-2", {{"c", 1}})});
  EXPECT_EQ(r.status.code(), ErrorCode::kThrottled);
  EXPECT_FALSE(Read("", "device-2").found);
  // The queue's new bound: with a batch parked at the store, 4 more events are refused.
  store_->StallCommits();
  auto parked = SubmitAsync({SetProps("alice", "", {{"a", 1}})});
  store_->WaitForStalledCommit();
  auto queued = SubmitAsync({SetProps("bob", "", {{"b", 1}}), SetProps("bob", "", {{"c", 1}})});
  IngestResult refused = Apply({SetProps("carol", "", {{"c", 1}}), SetProps("carol", "", {})});
  EXPECT_EQ(refused.status.code(), ErrorCode::kUnavailable);
  store_->ResumeCommits();
  EXPECT_TRUE(parked.get().status.ok());
  EXPECT_TRUE(queued.get().status.ok());
  // Throttling off again.
  ingestor_->SetLimits(IngestorOptions{});
  ApplyOk({SetProps("", "device-2", {{"a", 1}}), SetProps("", "device-2", {{"b", 1}}),
           SetProps("", "device-2", {{"c", 1}})});
}

TEST_F(IngestorTest, AProjectOverItsRateIsRefusedWholeAndOthersAreNot) {
  Close();
  IngestorOptions o;
  o.throttle_window_seconds = 1;
  o.project_events_per_second = {{"p", 3}};  // 3 events in the 1 s window, all ids together
  o.throttle_events_per_second = 2;          // and 2 per id
  Open(o);
  uint64_t throttled_before = Counter("profiled_events_throttled_total");
  ApplyOk({SetProps("alice", "", {{"a", 1}}), SetProps("bob", "", {{"b", 1}})});
  IngestResult r = Apply({SetProps("carol", "", {{"c", 1}}), SetProps("dave", "", {{"d", 1}})});
  EXPECT_EQ(r.status.code(), ErrorCode::kThrottled);
  EXPECT_EQ(r.status.message(), "Too many requests for this project");
  EXPECT_TRUE(r.throttle.project);
  EXPECT_EQ(r.throttle.eps_threshold, 3);
  EXPECT_EQ(r.throttle.throttled_events, (std::vector<int>{0, 1}));
  EXPECT_FALSE(Read("carol", "").found);
  EXPECT_FALSE(Read("dave", "").found);
  EXPECT_EQ(Counter("profiled_events_throttled_total"), throttled_before + 2);
  ApplyOk({SetProps("carol", "", {{"c", 1}}), SetProps("dave", "", {{"d", 1}})}, "q");
  // A batch the per-id throttle refuses takes nothing from the project: one event still fits.
  clock_.Advance(1000);
  IngestResult by_id = Apply({SetProps("erin", "", {{"a", 1}}), SetProps("erin", "", {{"b", 1}}),
                              SetProps("erin", "", {{"c", 1}})});
  EXPECT_FALSE(by_id.throttle.project);
  EXPECT_EQ(by_id.throttle.throttled_users.count("erin"), 1u);
  ApplyOk({SetProps("erin", "", {{"a", 1}}), SetProps("frank", "", {{"a", 1}})});
  ApplyOk({SetProps("gina", "", {{"a", 1}})});
  EXPECT_TRUE(Apply({SetProps("hal", "", {{"a", 1}})}).throttle.project);
  // The server's own batches are never throttled.
  EXPECT_TRUE(SubmitAsync({Track("alice", "")}, true).get().status.ok());
  // A reload raises the project's rate; events already in the window stay counted.
  IngestorOptions raised = o;
  raised.project_events_per_second = {{"p", 5}};
  raised.throttle_events_per_second = 0;
  ingestor_->SetLimits(raised);
  ApplyOk({SetProps("hal", "", {{"a", 1}}), SetProps("ivan", "", {{"a", 1}})});
  EXPECT_TRUE(Apply({SetProps("hal", "", {{"b", 1}})}).throttle.project);
  ingestor_->SetLimits(IngestorOptions{});  // off
  ApplyOk(std::vector<Event>(50, SetProps("hal", "", {{"b", 1}})));
}

TEST_F(IngestorTest, RetentionFollowsNewLimitsAndAddedProjects) {
  ApplyOk({Track("alice", "")});
  ApplyOk({Track("alice", "")}, "q");
  clock_.Advance(10LL * 86400000);
  ASSERT_TRUE(ingestor_->EnforceRetention().ok());
  EXPECT_EQ(LoggedEvents().size(), 1u);
  IngestorOptions limits;
  limits.event_retention_days = 5;
  ingestor_->SetLimits(limits);
  ASSERT_TRUE(ingestor_->EnforceRetention().ok());
  EXPECT_EQ(LoggedEvents().size(), 0u);
  EXPECT_EQ(LoggedEvents("q").size(), 1u);  // not swept: the ingestor serves "p" only
  std::promise<Status> added;
  ingestor_->AddProjects({"q"}, [&added](Status s) { added.set_value(std::move(s)); });
  ASSERT_TRUE(added.get_future().get().ok());
  ASSERT_TRUE(ingestor_->EnforceRetention().ok());
  EXPECT_EQ(LoggedEvents("q").size(), 0u);
}

TEST_F(IngestorTest, TheQueueIsBoundedByBytesAndTakesAnOversizedBatchWhenEmpty) {
  Close();
  IngestorOptions o;
  o.max_queued_bytes = 100;
  o.pipeline_commits = false;  // the writer parks in the commit: it takes nothing more
  Open(o);
  Event big = SetProps("alice", "", {{"a", 1}});
  big.json = std::string(150, 'x');  // larger than the bound on its own
  store_->StallCommits();
  auto parked = SubmitAsync({big});  // taken: the queue was empty
  store_->WaitForStalledCommit();
  Event small = SetProps("bob", "", {{"b", 1}});
  small.json = std::string(60, 'x');
  auto queued = SubmitAsync({small});
  Event second = SetProps("carol", "", {{"c", 1}});
  second.json = std::string(60, 'x');  // 120 bytes queued would pass the bound
  IngestResult refused = Apply({second});
  EXPECT_EQ(refused.status.code(), ErrorCode::kUnavailable);
  EXPECT_GT(refused.retry_after_seconds, 0);
  store_->ResumeCommits();
  EXPECT_TRUE(parked.get().status.ok());
  EXPECT_TRUE(queued.get().status.ok());
  EXPECT_FALSE(Read("carol").found);
}

TEST_F(IngestorTest, MergesOfLargeAnonymousProfilesStayWithinTheLimits) {
  ApplyOk({SetProps("alice", "", {{"own", 1}})});
  for (int d = 0; d < 3; ++d) {
    object props;
    for (int i = 0; i < 600; ++i) {
      props["d" + std::to_string(d) + "-" + std::to_string(i)] = std::string(900, 'v');
    }
    ApplyOk({SetProps("", "device-" + std::to_string(d), props)});
  }
  for (int d = 0; d < 3; ++d) ApplyOk({Track("alice", "device-" + std::to_string(d))});
  object merged = Read("alice").properties;
  EXPECT_EQ(merged.at("own"), 1);
  EXPECT_LE(merged.size(), kMaxProperties);
  EXPECT_LE(json::serialize(merged).size(), kMaxPropertiesBytes);
  EXPECT_GT(merged.size(), 900u);  // as much as fits was merged
  // The user can still be written within the limit.
  ApplyOk({SetProps("alice", "", {{"own", 2}})});
}

// Everything a store holds, table by table, for comparing two stores.
std::map<std::string, std::string> Dump(store::Store& store) {
  std::map<std::string, std::string> out;
  for (int t = 0; t < store::kTableCount; ++t) {
    Status s = store.Scan(static_cast<store::Table>(t), "", std::string(16, '\xff'),
                          [&](std::string_view k, std::string_view v) {
                            out[std::to_string(t) + ":" + std::string(k)] = std::string(v);
                            return true;
                          });
    EXPECT_TRUE(s.ok());
  }
  return out;
}

// A fresh store: `setup` applied group by group, then `group` as one commit group.
std::map<std::string, std::string> StoreAfter(const std::vector<std::vector<Event>>& setup,
                                              std::vector<std::vector<Event>> group,
                                              std::vector<IngestResult>* results) {
  TempDir dir;
  store::RocksDbOptions so;
  so.path = dir.path();
  so.block_cache_bytes = 8 << 20;
  auto opened = store::OpenRocksDbStore(so);
  EXPECT_TRUE(opened.ok());
  ManualClock clock(kTestNow);
  for (const auto& batch : setup) {
    auto r = ApplyAsOneGroup(*opened.value(), clock, {batch});
    EXPECT_TRUE(r[0].status.ok()) << r[0].status.ToString();
  }
  *results = ApplyAsOneGroup(*opened.value(), clock, std::move(group));
  return Dump(*opened.value());
}

TEST(IngestorRollback, ARefusedBatchLeavesExactlyWhatTheGroupWithoutItLeaves) {
  auto with_ops = [](std::string user, std::string device, std::vector<PropertyOp> ops,
                     std::string insert_id = "") {
    Event e = WithOps(Track(std::move(user), std::move(device), "$identify"), std::move(ops));
    e.origin = EventOrigin::kIdentify;
    e.insert_id = std::move(insert_id);
    e.json = R"({"e":1})";
    return e;
  };
  std::vector<std::vector<Event>> setup = {
      {SetProps("alice", "alice-phone", {{"a", 1}, {"list", json::array{1, 2}}, {"s", "x"}}),
       SetProps("", "anon-tablet", {{"anon", true}, {"a", 99}})}};
  std::vector<Event> good1 = {with_ops("alice", "", {{PropertyOpKind::kAdd, "a", 1}}, "i1"),
                              SetProps("bob", "bob-phone", {{"b", 1}})};
  std::vector<Event> bad = {
      with_ops("alice", "",
               {{PropertyOpKind::kSet, "new", "v"},
                {PropertyOpKind::kAdd, "a", 5},
                {PropertyOpKind::kAppend, "list", 3},
                {PropertyOpKind::kUnset, "s", nullptr}},
               "i2"),
      with_ops("alice", "", {{PropertyOpKind::kClearAll, "", nullptr}}),
      SetProps("carol", "carol-phone", {{"c", 1}}),  // a new user: ids and a profile
      Track("alice", "anon-tablet"),                 // merges the anonymous tablet into alice
      with_ops("bob", "", {{PropertyOpKind::kSet, "b", 2}}, "i3"),
      Oversized("alice")};
  std::vector<Event> good2 = {with_ops("alice", "", {{PropertyOpKind::kAdd, "a", 10}}, "i2"),
                              with_ops("dave", "", {{PropertyOpKind::kSet, "d", 1}}, "i3"),
                              Track("alice", "anon-tablet")};
  std::vector<IngestResult> with_bad, without_bad;
  auto expected = StoreAfter(setup, {good1, good2}, &without_bad);
  auto actual = StoreAfter(setup, {good1, bad, good2}, &with_bad);
  ASSERT_EQ(with_bad.size(), 3u);
  EXPECT_TRUE(with_bad[0].status.ok());
  EXPECT_EQ(with_bad[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(with_bad[1].failed_event, 5);
  EXPECT_TRUE(with_bad[2].status.ok());
  EXPECT_EQ(with_bad[2].deduplicated, 0u);  // i2 and i3 of the refused batch were forgotten
  EXPECT_EQ(actual, expected);
}

}  // namespace
}  // namespace profiled::ingest

namespace profiled::ingest {
namespace {

// An event whose logged JSON holds its ids, as src/api logs them.
Event Logged(Event e) {
  object o;
  if (!e.user_id.empty()) o["user_id"] = e.user_id;
  if (!e.device_id.empty()) o["device_id"] = e.device_id;
  if (!e.insert_id.empty()) o["insert_id"] = e.insert_id;
  o["event_type"] = e.event_type;
  e.json = boost::json::serialize(o);
  return e;
}

class DeletionTest : public IngestorTest {
 protected:
  DeletionResult Request(DeletionRequest r) {
    std::promise<DeletionResult> done;
    auto future = done.get_future();
    if (r.project.empty()) r.project = "p";
    ingestor_->RequestDeletion(std::move(r),
                               [&done](DeletionResult d) { done.set_value(std::move(d)); });
    return future.get();
  }
  // Waits (bounded) until every job of project p is done.
  void WaitDone() {
    for (int i = 0; i < 2000; ++i) {
      std::vector<DeletionJob> jobs;
      ASSERT_TRUE(ListDeletionJobs(*store_, "p", &jobs).ok());
      if (!jobs.empty() && std::all_of(jobs.begin(), jobs.end(), [](const DeletionJob& j) {
            return j.status == DeletionStatus::kDone;
          })) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL() << "the deletion jobs did not finish";
  }
  // Every key of `table` whose key or value holds `bytes`.
  std::vector<std::string> KeysHolding(store::Table table, std::string_view bytes) {
    std::vector<std::string> found;
    EXPECT_TRUE(store_
                    ->Scan(table, "", std::string(64, '\xff'),
                           [&](std::string_view k, std::string_view v) {
                             if (k.find(bytes) != std::string_view::npos ||
                                 v.find(bytes) != std::string_view::npos) {
                               found.emplace_back(k);
                             }
                             return true;
                           })
                    .ok());
    return found;
  }
};

TEST_F(DeletionTest, AJobDeletesTheUsersRecordsMappingsMergedIdsEventsAndDedupEntries) {
  Event anon = Track("", "anon-device");
  anon.insert_id = "ins-anon";
  ApplyOk({Logged(anon)});
  const uint64_t anon_id = Read("", "anon-device").amplitude_id;
  // A device the log does not name (logged without its ids, as /identify logs nothing): only
  // the sweep of the identity table finds it.
  ApplyOk({Track("gone", "hidden-device")});
  Event first = Track("gone", "gone-device");
  first.insert_id = "ins-1";
  Event grouped = SetProps("gone", "gone-device", {{"plan", "pro"}});
  grouped.groups = {{"org", {"acme"}}};  // its group membership record ('g') goes too
  ApplyOk({Logged(first), Logged(grouped)});
  ApplyOk({Logged(Track("gone", "anon-device"))});  // merges the anonymous id into gone's
  ApplyOk({Logged(Track("kept", "kept-device"))});
  const uint64_t id = Read("gone").amplitude_id;
  ASSERT_NE(id, anon_id);
  ASSERT_TRUE(UserRecords(id).contains('g'));
  DeletionRequest r;
  r.user_ids = {"gone"};
  r.requester = "dpo";
  DeletionResult result = Request(r);
  ASSERT_TRUE(result.status.ok()) << result.status.ToString();
  ASSERT_EQ(result.job.entries.size(), 1u);
  EXPECT_EQ(result.job.entries[0].amplitude_id, id);
  WaitDone();
  for (store::Table t : {store::Table::kIdentity, store::Table::kProfiles, store::Table::kDedup,
                         store::Table::kEvents, store::Table::kMeta}) {
    for (std::string_view s : {"gone", "anon-device", "hidden-device"}) {
      EXPECT_TRUE(KeysHolding(t, s).empty()) << static_cast<int>(t) << " " << s;
    }
  }
  EXPECT_TRUE(UserRecords(id).empty());
  EXPECT_TRUE(UserRecords(anon_id).empty());
  std::string v;
  EXPECT_TRUE(store_->Get(store::Table::kIdentity, store::MergeKey("p", anon_id), &v).IsNotFound());
  EXPECT_TRUE(Read("kept").found);
  EXPECT_EQ(KeysHolding(store::Table::kEvents, "kept").size(), 1u);
  EXPECT_EQ(KeysHolding(store::Table::kIdentity, "kept").size(), 2u);
  // A new event of the user starts a new user.
  ApplyOk({SetProps("gone", "anon-device", {{"new", true}})});
  Found fresh = Read("gone");
  EXPECT_NE(fresh.amplitude_id, id);
  EXPECT_EQ(fresh.properties, (object{{"new", true}}));
}

TEST_F(DeletionTest, UnknownIdsRefuseTheRequestUnlessIgnoredAndNothingIsStaged) {
  ApplyOk({Track("known", "")});
  DeletionRequest r;
  r.user_ids = {"known", "unknown"};
  r.amplitude_ids = {999};
  DeletionResult refused = Request(r);
  EXPECT_EQ(refused.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.status.message().find("2 ids name no known user (999, unknown)"),
            std::string::npos)
      << refused.status.message();
  std::vector<DeletionJob> jobs;
  ASSERT_TRUE(ListDeletionJobs(*store_, "p", &jobs).ok());
  EXPECT_TRUE(jobs.empty());
  EXPECT_TRUE(Read("known").found);
  r.ignore_invalid_ids = true;
  ASSERT_TRUE(Request(r).status.ok());
  WaitDone();
  EXPECT_FALSE(Read("known").found);
}

TEST_F(DeletionTest, ARequestWhoseEveryIdIsSkippedIsRefusedAndStagesNoEmptyJob) {
  ApplyOk({Track("known", "")});
  DeletionRequest r;
  r.user_ids = {"unknown"};
  r.amplitude_ids = {999};
  r.ignore_invalid_ids = true;
  DeletionResult refused = Request(r);
  EXPECT_EQ(refused.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.status.message(), "no id names a known user (2 skipped); nothing was staged");
  std::vector<DeletionJob> jobs;
  ASSERT_TRUE(ListDeletionJobs(*store_, "p", &jobs).ok());
  EXPECT_TRUE(jobs.empty());
  EXPECT_TRUE(Read("known").found);
}

TEST_F(DeletionTest, AFullStagingJobSendsTheNextRequestToANewJob) {
  Close();
  IngestorOptions options;
  options.deletion_staging_ms = 3600000;
  Open(options);
  std::vector<Event> users;
  users.reserve(1001);
  for (int i = 0; i < 1001; ++i) users.push_back(Track("u" + std::to_string(i), ""));
  ApplyOk(std::move(users));
  std::vector<uint64_t> ids;
  ids.reserve(1001);
  for (int i = 0; i < 1001; ++i) ids.push_back(Read("u" + std::to_string(i)).amplitude_id);
  std::vector<uint64_t> jobs_seen;
  for (size_t first = 0; first < 1000; first += 100) {
    DeletionRequest r;
    r.amplitude_ids.assign(ids.begin() + static_cast<ptrdiff_t>(first),
                           ids.begin() + static_cast<ptrdiff_t>(first + 100));
    DeletionResult d = Request(r);
    ASSERT_TRUE(d.status.ok()) << d.status.ToString();
    jobs_seen.push_back(d.job.id);
  }
  EXPECT_EQ(std::count(jobs_seen.begin(), jobs_seen.end(), jobs_seen.front()), 10);
  DeletionRequest last;
  last.amplitude_ids = {ids[1000]};
  DeletionResult d = Request(last);
  ASSERT_TRUE(d.status.ok());
  EXPECT_NE(d.job.id, jobs_seen.front());
  EXPECT_EQ(d.job.entries.size(), 1u);
}

TEST_F(DeletionTest, AStagedJobWaitsForItsTimeAndAnIdCanBeTakenOut) {
  Close();
  IngestorOptions options;
  options.deletion_staging_ms = 3600000;
  Open(options);
  ApplyOk({Track("a", ""), Track("b", "")});
  const uint64_t a = Read("a").amplitude_id;
  const uint64_t b = Read("b").amplitude_id;
  DeletionRequest r;
  r.amplitude_ids = {a, b};
  DeletionResult staged = Request(r);
  ASSERT_TRUE(staged.status.ok());
  EXPECT_EQ(staged.job.status, DeletionStatus::kStaging);
  const std::string day = DayOf(staged.job.run_at_ms);
  std::promise<DeletionResult> removed;
  ingestor_->RemoveStagedDeletion(
      "p", b, day, [&removed](DeletionResult d) { removed.set_value(std::move(d)); });
  DeletionResult out = removed.get_future().get();
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(out.job.entries.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Read("a").found);
  clock_.Advance(3600000);
  WaitDone();
  EXPECT_FALSE(Read("a").found);
  EXPECT_TRUE(Read("b").found);
}

TEST_F(DeletionTest, AnAnonymousIdStagedBeforeItMergesDeletesTheUserItMergedInto) {
  Close();
  IngestorOptions options;
  options.deletion_staging_ms = 3600000;
  Open(options);
  ApplyOk({Logged(SetProps("", "anon-phone", {{"secret", "anon"}}))});
  const uint64_t anon_id = Read("", "anon-phone").amplitude_id;
  DeletionRequest r;
  r.amplitude_ids = {anon_id};
  ASSERT_TRUE(Request(r).status.ok());
  // Staged, not yet run: the anonymous device logs in, and its id merges into the user's.
  ApplyOk({Logged(SetProps("later", "later-laptop", {{"plan", "pro"}}))});
  ApplyOk({Logged(Track("later", "anon-phone"))});
  const uint64_t id = Read("later").amplitude_id;
  ASSERT_NE(id, anon_id);
  EXPECT_EQ(Read("later").properties.at("secret"), "anon");
  clock_.Advance(3600000);
  WaitDone();
  EXPECT_FALSE(Read("later").found);
  EXPECT_TRUE(UserRecords(id).empty());
  EXPECT_TRUE(UserRecords(anon_id).empty());
  for (store::Table t : {store::Table::kIdentity, store::Table::kProfiles, store::Table::kEvents}) {
    for (std::string_view s : {"later", "anon-phone"}) {
      EXPECT_TRUE(KeysHolding(t, s).empty()) << static_cast<int>(t) << " " << s;
    }
  }
}

// ---- Group properties ($groupidentify, POST /groupidentify).

Event GroupIdentify(std::string user_id, std::vector<GroupRef> groups,
                    std::vector<PropertyOp> ops) {
  Event e = Track(std::move(user_id), "", "$groupidentify");
  e.origin = EventOrigin::kIdentify;
  e.groups = std::move(groups);
  e.group_ops = std::move(ops);
  SortPropertyOps(&e.group_ops);
  return e;
}

Event GroupIdentifyApi(std::string type, std::string name, std::vector<PropertyOp> ops) {
  Event e = GroupIdentify("", {{std::move(type), {std::move(name)}}}, std::move(ops));
  e.origin = EventOrigin::kGroupIdentifyApi;
  return e;
}

class GroupTest : public IngestorTest {
 protected:
  // The group's stored properties, or nullopt when it has no record.
  std::optional<object> Group(const std::string& type, const std::string& name) {
    std::string value;
    Status s = store_->Get(store::Table::kMeta, store::GroupKey("p", type, name), &value);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::string_view text;
    EXPECT_TRUE(store::DecodeGroup(value, &text).ok());
    return json::parse(text).as_object();
  }
};

TEST_F(GroupTest, GroupIdentifyAppliesAllTenOperationsInOrderToEachNamedGroup) {
  ApplyOk({GroupIdentify("alice", {{"org", {"acme"}}},
                         {{PropertyOpKind::kSet, "plan", "pro"},
                          {PropertyOpKind::kSet, "tags", json::array{"a", "b"}},
                          {PropertyOpKind::kSet, "old", 1},
                          {PropertyOpKind::kSet, "size", 1}})});
  ApplyOk({GroupIdentify("alice", {{"org", {"acme"}}},
                         {{PropertyOpKind::kUnset, "old", {}},
                          {PropertyOpKind::kSetOnce, "plan", "free"},
                          {PropertyOpKind::kSetOnce, "since", 2024},
                          {PropertyOpKind::kAdd, "size", 2},
                          {PropertyOpKind::kAppend, "tags", "c"},
                          {PropertyOpKind::kPrepend, "tags", "z"},
                          {PropertyOpKind::kPreInsert, "tags", "a"},
                          {PropertyOpKind::kPostInsert, "tags", "d"},
                          {PropertyOpKind::kRemove, "tags", "b"}})});
  EXPECT_EQ(Group("org", "acme"), (object{{"plan", "pro"},
                                          {"tags", json::array{"z", "a", "c", "d"}},
                                          {"size", 3},
                                          {"since", 2024}}));
  ApplyOk({GroupIdentify("alice", {{"org", {"acme"}}},
                         {{PropertyOpKind::kClearAll, "", {}}, {PropertyOpKind::kSet, "x", 1}})});
  EXPECT_EQ(Group("org", "acme"), (object{{"x", 1}}));
  // The sender's own properties are untouched; the event is logged under the sender.
  EXPECT_TRUE(Read("alice").properties.empty());
  EXPECT_EQ(LoggedEvents().size(), 3u);
}

TEST_F(GroupTest, EveryGroupAndEveryNameOfTheEventGetsTheOperations) {
  ApplyOk({GroupIdentify("alice", {{"org", {"acme", "globex"}}, {"team", {"red"}}},
                         {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(Group("org", "acme"), (object{{"n", 1}}));
  EXPECT_EQ(Group("org", "globex"), (object{{"n", 1}}));
  EXPECT_EQ(Group("team", "red"), (object{{"n", 1}}));
  EXPECT_EQ(Group("team", "acme"), std::nullopt);
}

TEST_F(GroupTest, TheGroupIdentifyApiTouchesNoUserAndLogsNothing) {
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}}),
           GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(Group("org", "acme"), (object{{"n", 2}}));
  EXPECT_TRUE(LoggedEvents().empty());
  std::string value;
  EXPECT_TRUE(
      store_->Get(store::Table::kMeta, store::NextAmplitudeIdKey("p"), &value).IsNotFound());
}

TEST_F(GroupTest, AGroupLeftWithoutPropertiesHasNoRecord) {
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kSet, "n", 1}})});
  ASSERT_TRUE(Group("org", "acme").has_value());
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kUnset, "n", {}}})});
  EXPECT_EQ(Group("org", "acme"), std::nullopt);
}

TEST_F(GroupTest, TheWriterKeepsAGroupAsCommittedAndReadsItOnce) {
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  const size_t reads = store_->GetCalls(store::Table::kMeta);
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(store_->GetCalls(store::Table::kMeta), reads);
  EXPECT_EQ(Group("org", "acme"), (object{{"n", 3}}));
  // A refused batch leaves the kept group as committed.
  EXPECT_EQ(Apply({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 10}}),
                   Oversized("alice")})
                .status.code(),
            ErrorCode::kInvalidArgument);
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(Group("org", "acme"), (object{{"n", 4}}));
}

TEST_F(GroupTest, PastTheKeptGroupLimitTheGroupsACommitGroupDidNotTouchGoFirst) {
  ApplyOk({GroupIdentifyApi("org", "old", {{PropertyOpKind::kAdd, "n", 1}})});
  // One commit group touching kMaxKeptGroups other groups: one over the limit in all.
  std::vector<Event> many;
  many.reserve(WorkingSet::kMaxKeptGroups);
  for (size_t i = 0; i < WorkingSet::kMaxKeptGroups; ++i)
    many.push_back(
        GroupIdentifyApi("org", "g" + std::to_string(i), {{PropertyOpKind::kSet, "n", 1}}));
  ApplyOk(std::move(many));
  const size_t reads = store_->GetCalls(store::Table::kMeta);
  ApplyOk({GroupIdentifyApi("org", "g0", {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(store_->GetCalls(store::Table::kMeta), reads);  // kept
  ApplyOk({GroupIdentifyApi("org", "old", {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(store_->GetCalls(store::Table::kMeta), reads + 1);  // dropped, read again
  EXPECT_EQ(Group("org", "old"), (object{{"n", 2}}));
  EXPECT_EQ(Group("org", "g0"), (object{{"n", 2}}));
}

TEST_F(GroupTest, AKeptGroupCountsItsParsedSizeNotItsText) {
  // 999 small properties: about 9 KB of JSON text, several times that parsed. A quarter of
  // this budget holds 4x the text but not the parsed object.
  const size_t budget = size_t{4} * 48'000;
  ReopenWithWriterCache(budget);
  std::vector<PropertyOp> ops;
  ops.reserve(999);
  for (int i = 0; i < 999; ++i) ops.push_back({PropertyOpKind::kSet, std::to_string(1000 + i), 1});
  ApplyOk({GroupIdentifyApi("org", "wide", std::move(ops))});
  ASSERT_LT(4 * ObjectText(*Group("org", "wide")).size(), budget / 4);
  const size_t reads = store_->GetCalls(store::Table::kMeta);
  ApplyOk({GroupIdentifyApi("org", "wide", {{PropertyOpKind::kSet, "x", 1}})});
  EXPECT_EQ(store_->GetCalls(store::Table::kMeta), reads + 1);  // not kept: read again
  // A small group fits.
  ApplyOk({GroupIdentifyApi("org", "small", {{PropertyOpKind::kSet, "x", 1}})});
  const size_t after = store_->GetCalls(store::Table::kMeta);
  ApplyOk({GroupIdentifyApi("org", "small", {{PropertyOpKind::kSet, "x", 2}})});
  EXPECT_EQ(store_->GetCalls(store::Table::kMeta), after);
}

TEST_F(GroupTest, GroupsSurviveARestartAndAreEditedFromTheStoredRecord) {
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  Close();
  Open();
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  EXPECT_EQ(Group("org", "acme"), (object{{"n", 2}}));
}

TEST_F(GroupTest, ARefusedBatchLeavesItsGroupsAsTheyWereAndOtherBatchesApply) {
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})});
  ingestor_->Stop();
  auto results = ApplyAsOneGroup(
      *store_, clock_,
      {{GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 10}})},
       {GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 100}}),
        GroupIdentifyApi("org", "new", {{PropertyOpKind::kSet, "x", 1}}), Oversized("alice")},
       {GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1000}})}});
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(results[2].status.ok());
  EXPECT_EQ(Group("org", "acme"), (object{{"n", 1011}}));
  EXPECT_EQ(Group("org", "new"), std::nullopt);
}

TEST_F(GroupTest, AChangeToAGroupWhoseRecordDoesNotDecodeIsRefusedAndTheRecordKept) {
  store::WriteSet w;
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "bad"), "bad");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  ingestor_->Stop();
  auto results =
      ApplyAsOneGroup(*store_, clock_,
                      {{GroupIdentifyApi("org", "bad", {{PropertyOpKind::kSet, "x", 1}})},
                       {GroupIdentifyApi("org", "ok", {{PropertyOpKind::kSet, "x", 1}})}});
  // A 400 naming the event (an SDK drops only it), not an error its sender retries forever.
  EXPECT_EQ(results[0].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(results[0].failed_event, 0);
  EXPECT_EQ(results[0].invalid_field, EventField::kGroupProperties);
  EXPECT_NE(results[0].status.message().find("group org/bad"), std::string::npos);
  EXPECT_TRUE(results[1].status.ok());
  std::string value;
  ASSERT_TRUE(store_->Get(store::Table::kMeta, store::GroupKey("p", "org", "bad"), &value).ok());
  EXPECT_EQ(value, "bad");
  EXPECT_EQ(Group("org", "ok"), (object{{"x", 1}}));
}

TEST_F(GroupTest, AClearAllAloneReplacesADamagedGroupRecord) {
  store::WriteSet w;
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "bad"), "bad");
  w.Put(store::Table::kMeta, store::GroupKey("p", "org", "bad2"), "bad");
  ASSERT_TRUE(store_->Commit(w, false).ok());
  // A $clearAll with other operations is still a change of what the record held: refused.
  IngestResult r = Apply({GroupIdentifyApi(
      "org", "bad", {{PropertyOpKind::kClearAll, "", {}}, {PropertyOpKind::kSet, "x", 1}})});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  ApplyOk({GroupIdentifyApi("org", "bad", {{PropertyOpKind::kClearAll, "", {}}})});
  EXPECT_EQ(Group("org", "bad"), std::nullopt);  // an empty group has no record
  ApplyOk({GroupIdentifyApi("org", "bad", {{PropertyOpKind::kSet, "x", 1}})});
  EXPECT_EQ(Group("org", "bad"), (object{{"x", 1}}));
  // A repair in a batch that is refused later leaves the damaged record as it was.
  r = Apply(
      {GroupIdentifyApi("org", "bad2", {{PropertyOpKind::kClearAll, "", {}}}), Oversized("alice")});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  std::string value;
  ASSERT_TRUE(store_->Get(store::Table::kMeta, store::GroupKey("p", "org", "bad2"), &value).ok());
  EXPECT_EQ(value, "bad");
}

TEST_F(GroupTest, AnEventThatWouldOutgrowAGroupIsRefused) {
  json::array big;
  for (int i = 0; i < 1000; ++i) big.push_back(json::string(std::string(100, 'x')));
  std::vector<PropertyOp> ops;
  ops.reserve(12);
  for (int i = 0; i < 12; ++i)
    ops.push_back({PropertyOpKind::kSet, "big" + std::to_string(i), big});
  IngestResult r = Apply({GroupIdentifyApi("org", "acme", std::move(ops))});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.invalid_field, EventField::kGroupProperties);
  EXPECT_NE(r.status.message().find("properties of group org/acme"), std::string::npos);
  EXPECT_EQ(Group("org", "acme"), std::nullopt);
}

// ---- Group membership (setGroup, `groups` of $identify and POST /identify).

Event SetGroup(std::string user_id, std::string device_id, std::vector<GroupRef> groups,
               EventOrigin origin = EventOrigin::kIdentify) {
  Event e = SetProps(std::move(user_id), std::move(device_id), {});
  e.origin = origin;
  e.groups = std::move(groups);
  return e;
}

TEST_F(GroupTest, IdentifyGroupsSetTheUsersMembershipTypeByType) {
  ApplyOk({SetGroup("alice", "", {{"org", {"acme"}}, {"team", {"a", "b"}}})});
  EXPECT_EQ(UserRecords(1).at('g'), R"({"org":["acme"],"team":["a","b"]})");
  ApplyOk({SetGroup("alice", "", {{"team", {"c"}}}, EventOrigin::kIdentifyApi)});
  EXPECT_EQ(UserRecords(1).at('g'), R"({"org":["acme"],"team":["c"]})");
  ApplyOk({SetGroup("alice", "", {{"org", {}}, {"team", {}}})});
  EXPECT_FALSE(UserRecords(1).contains('g'));
}

TEST_F(GroupTest, GroupsOfOrdinaryEventsAndGroupIdentifiesAreNotMemberships) {
  Event click = Track("alice", "");
  click.groups = {{"org", {"acme"}}};  // the wire never fills it for them; the writer ignores it
  ApplyOk({click, GroupIdentify("alice", {{"org", {"acme"}}}, {{PropertyOpKind::kSet, "x", 1}})});
  EXPECT_FALSE(UserRecords(1).contains('g'));
}

TEST_F(GroupTest, AMergeKeepsTheIdentifiedUsersGroupsAndAddsTheAnonymousOnesOtherTypes) {
  ApplyOk({SetGroup("alice", "", {{"org", {"mine"}}})});
  ApplyOk({SetGroup("", "device-1", {{"org", {"theirs"}}, {"team", {"t"}}})});
  ApplyOk({Track("alice", "device-1")});  // the anonymous device merges into alice
  EXPECT_EQ(UserRecords(1).at('g'), R"({"org":["mine"],"team":["t"]})");
  EXPECT_TRUE(UserRecords(2).empty());
}

TEST_F(GroupTest, AMergeWithADamagedMembershipRecordAppliesAndKeepsWhatItCannotRead) {
  ReopenWithWriterCache(0);  // records are damaged behind the writer's back
  ApplyOk({SetGroup("alice", "", {{"org", {"mine"}}})});
  ApplyOk({SetGroup("", "device-1", {{"team", {"t"}}})});
  PutUserRecord(2, store::UserRecord::kGroups, "{damaged");
  // The anonymous user's damaged memberships count as none; bob's event in the batch applies.
  ApplyOk({Track("alice", "device-1"), SetProps("bob", "", {{"b", 1}})});
  EXPECT_EQ(UserRecords(1).at('g'), R"({"org":["mine"]})");
  EXPECT_TRUE(UserRecords(2).empty());
  // The identified user's damaged record is kept byte for byte; the merge itself applies.
  PutUserRecord(1, store::UserRecord::kGroups, "{damaged");
  ApplyOk({SetGroup("", "device-2", {{"team", {"t"}}}, EventOrigin::kIdentifyApi)});
  const uint64_t anon = Read("", "device-2").amplitude_id;
  ApplyOk({Track("alice", "device-2")});
  EXPECT_EQ(UserRecords(1).at('g'), "{damaged");
  EXPECT_TRUE(UserRecords(anon).empty());
  EXPECT_EQ(Read("", "device-2").amplitude_id, Read("alice").amplitude_id);
}

TEST_F(GroupTest, AnEventThatWouldPutTheUserInTooManyGroupTypesIsRefusedAndTheUserStaysWritable) {
  ApplyOk({SetGroup("alice", "", {{"t1", {"a"}}, {"t2", {"a"}}, {"t3", {"a"}}, {"t4", {"a"}}}),
           SetGroup("alice", "", {{"t5", {"a"}}})});
  const std::string five = R"({"t1":["a"],"t2":["a"],"t3":["a"],"t4":["a"],"t5":["a"]})";
  IngestResult r =
      Apply({SetProps("alice", "", {{"x", 1}}), SetGroup("alice", "", {{"t6", {"a"}}})});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.failed_event, 1);
  EXPECT_EQ(r.invalid_field, EventField::kGroups);
  EXPECT_EQ(UserRecords(1).at('g'), five);
  EXPECT_TRUE(Read("alice").properties.empty());
  // The user's other events, a change of a type it has, and a swap of types still apply.
  ApplyOk({SetProps("alice", "", {{"x", 1}}), SetGroup("alice", "", {{"t1", {"b", "c"}}}),
           SetGroup("alice", "", {{"t2", {}}, {"t6", {"a"}}})});
  EXPECT_EQ(UserRecords(1).at('g'),
            R"({"t1":["b","c"],"t3":["a"],"t4":["a"],"t5":["a"],"t6":["a"]})");
  EXPECT_EQ(Read("alice").properties, (object{{"x", 1}}));
}

TEST_F(GroupTest, AMergeStopsAtTheGroupTypeLimitInsteadOfFailing) {
  ApplyOk({SetGroup("alice", "", {{"t1", {"a"}}, {"t2", {"a"}}, {"t3", {"a"}}, {"t4", {"a"}}})});
  ApplyOk({SetGroup("", "device-1", {{"u1", {"b"}}, {"u2", {"b"}}, {"t1", {"b"}}})});
  ApplyOk({Track("alice", "device-1")});
  EXPECT_EQ(UserRecords(1).at('g'), R"({"t1":["a"],"t2":["a"],"t3":["a"],"t4":["a"],"u1":["b"]})");
  EXPECT_TRUE(UserRecords(2).empty());
}

TEST_F(GroupTest, ARefusedBatchLeavesTheMembershipAsItWas) {
  ApplyOk({SetGroup("alice", "", {{"org", {"acme"}}})});
  IngestResult r = Apply({SetGroup("alice", "", {{"org", {"other"}}}), Oversized("alice")});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(UserRecords(1).at('g'), R"({"org":["acme"]})");
  // Also for a user an earlier batch of the same commit group touched: the batch after the
  // refused one starts from the membership as it was.
  ingestor_->Stop();
  auto results = ApplyAsOneGroup(*store_, clock_,
                                 {{Track("alice", "")},
                                  {SetGroup("alice", "", {{"org", {"other"}}}), Oversized("alice")},
                                  {SetGroup("alice", "", {{"team", {"t"}}})}});
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(results[2].status.ok());
  EXPECT_EQ(UserRecords(1).at('g'), R"({"org":["acme"],"team":["t"]})");
}

TEST_F(GroupTest, ARefusedBatchRestoresTheGroupPropertiesItChangedKeyByKey) {
  ApplyOk({GroupIdentifyApi("org", "acme", {{PropertyOpKind::kSet, "keep", 1}})});
  ingestor_->Stop();
  auto results = ApplyAsOneGroup(
      *store_, clock_,
      {{GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 1}})},
       {GroupIdentifyApi("org", "acme",
                         {{PropertyOpKind::kClearAll, "", {}}, {PropertyOpKind::kSet, "x", 1}}),
        GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 5}}), Oversized("alice")},
       {GroupIdentifyApi("org", "acme", {{PropertyOpKind::kAdd, "n", 10}})}});
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(results[2].status.ok());
  EXPECT_EQ(Group("org", "acme"), (object{{"keep", 1}, {"n", 11}}));
}

}  // namespace
}  // namespace profiled::ingest
