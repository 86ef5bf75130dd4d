#include "ingest/ingestor.h"

#include "ingest/test_util.h"
#include "store/keys.h"

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
  std::vector<std::promise<IngestResult>> done(50);
  for (int i = 0; i < 50; ++i) {
    ingestor_->Submit(IngestBatch{"p", {SetProps("user-" + std::to_string(i), "", {{"i", i}})}},
                      [&done, i](IngestResult r) { done[i].set_value(std::move(r)); });
  }
  for (auto& d : done) ASSERT_TRUE(d.get_future().get().status.ok());
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
  for (auto& d : done) results.push_back(d.get_future().get());
  ingestor.Stop();
  return results;
}

// An event whose $set would grow the user's properties past kMaxPropertiesBytes.
Event Oversized(std::string user_id) {
  json::array big;
  for (int i = 0; i < 1000; ++i) big.push_back(json::string(std::string(100, 'x')));
  std::vector<PropertyOp> ops;
  for (int i = 0; i < 12; ++i)
    ops.push_back({PropertyOpKind::kSet, "big" + std::to_string(i), big});
  Event e = WithOps(Track(std::move(user_id), "", "$identify"), std::move(ops));
  e.origin = EventOrigin::kIdentify;
  return e;
}

TEST_F(IngestorTest, AnEventThatWouldOutgrowTheProfileRefusesOnlyItsOwnBatch) {
  ApplyOk({SetProps("alice", "", {{"a", 1}})});
  ingestor_->Stop();
  auto results = ApplyAsOneGroup(*store_, clock_,
                                 {{SetProps("bob", "", {{"b", 1}})},
                                  {SetProps("alice", "", {{"c", 2}}), Oversized("alice")},
                                  {SetProps("carol", "", {{"c", 3}})}});
  EXPECT_TRUE(results[0].status.ok());
  EXPECT_EQ(results[1].status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(results[1].failed_event, 1);
  EXPECT_EQ(results[1].accepted, 0u);
  EXPECT_NE(results[1].status.message().find("over the limit"), std::string::npos);
  EXPECT_TRUE(results[2].status.ok());
  // Nothing of the refused batch, not even its first event, was applied.
  EXPECT_EQ(Read("alice").properties, (object{{"a", 1}}));
  EXPECT_EQ(Read("bob").properties, (object{{"b", 1}}));
  EXPECT_EQ(Read("carol").properties, (object{{"c", 3}}));
  EXPECT_EQ(Read("carol").amplitude_id, 3u);  // ids handed out during the refused pass are reused
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

}  // namespace
}  // namespace profiled::ingest
