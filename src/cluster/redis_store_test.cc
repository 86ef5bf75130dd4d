// RedisStore against a live Redis Cluster: 3 primaries and 3 replicas, password-protected,
// started once for the whole binary by scripts/redis-cluster.sh in a fresh directory and
// stopped at the end. The store contract's tests (store/store_conformance.h) run with two
// stores opened on the cluster as two nodes; the tests below are the cluster's own: lock
// waits, and a dead node's commit finished by the next writer. Each test writes its own
// project, so tests share the cluster without seeing each other's keys.
#include "cluster/redis_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis/key_slot.h"
#include "redis/local_cluster.h"
#include "store/keys.h"
#include "store/records.h"
#include "store/store_conformance.h"

namespace profiled::cluster {
namespace {

using store::Table;
using store::WriteSet;

redis::LocalCluster* cluster = nullptr;  // owned by GoogleTest

RedisStoreOptions Options() {
  RedisStoreOptions o;
  o.client.seeds = cluster->seeds();
  o.client.password = redis::kLocalClusterPassword;
  o.wait_replicas = 1;
  o.scan_page = 3;  // scans cross pages with few keys
  return o;
}

std::unique_ptr<RedisStore> OpenStore(RedisStoreOptions o = Options()) {
  auto r = RedisStore::Open(std::move(o));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r.value()) : nullptr;
}

class RedisUnderTest : public store::StoreUnderTest {
 public:
  RedisUnderTest() : a_(OpenStore()), b_(OpenStore()) {}
  store::Store& node() override { return *a_; }
  store::Store& other() override { return *b_; }
  std::unique_ptr<store::Store> Writer(bool other_node) override {
    return other_node ? b_->Writer() : a_->Writer();
  }

 private:
  std::unique_ptr<RedisStore> a_;
  std::unique_ptr<RedisStore> b_;
};

std::unique_ptr<store::StoreUnderTest> MakeRedis() { return std::make_unique<RedisUnderTest>(); }

}  // namespace
}  // namespace profiled::cluster

namespace profiled::store {
INSTANTIATE_TEST_SUITE_P(RedisCluster, StoreConformance,
                         ::testing::Values(&profiled::cluster::MakeRedis));
}  // namespace profiled::store

namespace profiled::cluster {
namespace {

std::string Project() {
  return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
}

TEST(RedisStore, AWriterWaitsForAnotherNodesLockAndGivesUpAfterTheLockWait) {
  std::string project = Project();
  auto a = OpenStore();
  RedisStoreOptions quick = Options();
  quick.lock_wait_ms = 300;
  auto b = OpenStore(quick);
  std::string key = store::ProfileKey(project, 1);
  auto wa = a->Writer();
  auto wb = b->Writer();
  std::string v;
  ASSERT_TRUE(wa->Get(Table::kProfiles, key, &v).IsNotFound());
  auto start = std::chrono::steady_clock::now();
  Status s = wb->Get(Table::kProfiles, key, &v);
  EXPECT_EQ(s.code(), ErrorCode::kAborted) << s.ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  wb->EndTransaction();
  // Plain reads never wait.
  EXPECT_TRUE(b->Get(Table::kProfiles, key, &v).IsNotFound());
  // A waiting writer gets the key once the holder commits, and sees its write.
  std::thread holder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    WriteSet w;
    w.Put(Table::kProfiles, key, "from a");
    EXPECT_TRUE(wa->Commit(w, true).ok());
  });
  auto waiting = b->Writer();
  ASSERT_TRUE(waiting->Get(Table::kProfiles, key, &v).ok());
  EXPECT_EQ(v, "from a");
  holder.join();
}

TEST(RedisStore, TwoWritersReadingTheSameKeysAtOnceQueueInsteadOfDeadlocking) {
  std::string project = Project();
  RedisStoreOptions o = Options();
  o.lock_wait_ms = 1000;
  auto a = OpenStore(o);
  auto b = OpenStore(o);
  std::vector<std::string> keys;
  keys.reserve(20);
  for (int i = 0; i < 20; ++i) keys.push_back(store::UserKey(project, "u" + std::to_string(i)));
  std::vector<std::string> reversed(keys.rbegin(), keys.rend());
  std::atomic<int> aborted{0};
  auto run = [&](RedisStore* s, const std::vector<std::string>& order) {
    auto writer = s->Writer();
    for (int round = 0; round < 20; ++round) {
      std::vector<std::string> values;
      std::vector<Status> statuses;
      Status st = writer->MultiGet(Table::kIdentity, order, &values, &statuses);
      if (st.code() == ErrorCode::kAborted) ++aborted;
      EXPECT_TRUE(st.ok() || st.code() == ErrorCode::kAborted) << st.ToString();
      writer->EndTransaction();
    }
  };
  std::thread ta(run, a.get(), keys);
  std::thread tb(run, b.get(), reversed);
  ta.join();
  tb.join();
  EXPECT_EQ(aborted, 0) << "writers that each held half of the keys and waited for the other";
}

TEST(RedisStore, AWriterReadingSeveralMetaKeysAtOnceLocksEachOfThem) {
  // The meta keys of a project share one Redis hash but each has its own lock: a MultiGet of
  // several (the writer reads a commit group's groups so) must take every one.
  std::string project = Project();
  auto a = OpenStore();
  RedisStoreOptions quick = Options();
  quick.lock_wait_ms = 200;
  auto b = OpenStore(quick);
  std::vector<std::string> keys{store::GroupKey(project, "org", "x"),
                                store::GroupKey(project, "org", "y"),
                                store::GroupKey(project, "team", "z")};
  auto wa = a->Writer();
  std::vector<std::string> values;
  std::vector<Status> statuses;
  ASSERT_TRUE(wa->MultiGet(Table::kMeta, keys, &values, &statuses).ok());
  for (const Status& s : statuses) EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  for (const std::string& key : keys) {
    auto wb = b->Writer();
    std::string v;
    EXPECT_EQ(wb->Get(Table::kMeta, key, &v).code(), ErrorCode::kAborted);
    wb->EndTransaction();
  }
  WriteSet w;
  for (const std::string& key : keys) w.Put(Table::kMeta, key, "v" + key.substr(key.size() - 1));
  ASSERT_TRUE(wa->Commit(w, true).ok());
  auto wb = b->Writer();
  ASSERT_TRUE(wb->MultiGet(Table::kMeta, keys, &values, &statuses).ok());
  EXPECT_EQ(values, (std::vector<std::string>{"vx", "vy", "vz"}));
}

TEST(RedisStore, TwoWritersReadingTheSameMetaKeysInOppositeOrdersQueue) {
  std::string project = Project();
  RedisStoreOptions o = Options();
  o.lock_wait_ms = 30'000;  // B waits for A however slow the machine
  auto a = OpenStore(o);
  auto b = OpenStore(o);
  std::vector<std::string> keys;
  keys.reserve(10);
  for (int i = 0; i < 10; ++i) keys.push_back(store::GroupKey(project, "org", std::to_string(i)));
  std::vector<std::string> reversed(keys.rbegin(), keys.rend());
  // A holds the locks of its MultiGet while B asks for the same keys in the opposite order.
  auto wa = a->Writer();
  std::vector<std::string> values;
  std::vector<Status> statuses;
  ASSERT_TRUE(wa->MultiGet(Table::kMeta, keys, &values, &statuses).ok());
  std::atomic<bool> b_done{false};
  Status b_status;
  std::vector<std::string> b_values;
  std::thread tb([&] {
    auto wb = b->Writer();
    std::vector<Status> b_statuses;
    b_status = wb->MultiGet(Table::kMeta, reversed, &b_values, &b_statuses);
    wb->EndTransaction();
    b_done = true;
  });
  // A moment for B to ask; B must still be waiting then (were any lock not taken, B would have
  // read the keys already and seen none of A's values below).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(b_done);
  WriteSet w;
  for (const std::string& key : keys) w.Put(Table::kMeta, key, "a" + key.substr(key.size() - 1));
  EXPECT_TRUE(wa->Commit(w, true).ok());
  wa->EndTransaction();
  tb.join();
  ASSERT_TRUE(b_status.ok()) << b_status.ToString();
  std::vector<std::string> expected;
  expected.reserve(reversed.size());
  for (const std::string& key : reversed) expected.push_back("a" + key.substr(key.size() - 1));
  EXPECT_EQ(b_values, expected) << "B read after A's commit, under the same locks";
}

TEST(RedisStore, ACommitWhoseNodeDiedAfterItsIntentIsFinishedByTheNextWriter) {
  std::string project = Project();
  RedisStoreOptions dying = Options();
  dying.testing_stop_after_intent = true;
  auto a = OpenStore(dying);
  auto b = OpenStore();
  std::string profile = store::ProfileKey(project, 5);
  std::string identity = store::UserKey(project, "alice");
  std::string event = store::EventKey(project, 1000, 1);
  {
    auto wa = a->Writer();
    std::string v;
    ASSERT_TRUE(wa->Get(Table::kProfiles, profile, &v).IsNotFound());
    WriteSet w;
    w.Put(Table::kProfiles, profile, "p");
    w.Put(Table::kIdentity, identity, store::EncodeId(5));
    w.Put(Table::kEvents, event, "e");
    EXPECT_EQ(wa->Commit(w, true).code(), ErrorCode::kIoError);
  }
  a->StopLeaseForTesting();  // the node is dead, its locks taken, its commit not applied
  std::string v;
  EXPECT_TRUE(b->Get(Table::kProfiles, profile, &v).IsNotFound()) << "readers do not wait";
  auto wb = b->Writer();
  ASSERT_TRUE(wb->Get(Table::kProfiles, profile, &v).ok());
  EXPECT_EQ(v, "p") << "the dead node's commit, finished for the key taken over";
  EXPECT_TRUE(b->Get(Table::kEvents, event, &v).ok()) << "and its events with it";
  ASSERT_TRUE(wb->Get(Table::kIdentity, identity, &v).ok());
  EXPECT_EQ(v, store::EncodeId(5));
  wb->EndTransaction();
  std::vector<std::string> users;
  std::string prefix = store::ProjectPrefix(project);
  ASSERT_TRUE(b->Scan(Table::kProfiles, prefix, store::PrefixEnd(prefix),
                      [&](std::string_view k, std::string_view) {
                        users.emplace_back(k);
                        return true;
                      })
                  .ok());
  EXPECT_EQ(users, std::vector<std::string>{profile}) << "the finished commit's user is indexed";
  // Another writer gets the keys now, without waiting.
  auto wc = b->Writer();
  EXPECT_TRUE(wc->Get(Table::kIdentity, identity, &v).ok());
}

TEST(RedisStore, ANodeTakenForDeadBeforeItsIntentCommitsNothing) {
  std::string project = Project();
  auto a = OpenStore();
  auto b = OpenStore();
  std::string p1 = store::ProfileKey(project, 1);
  std::string p2 = store::ProfileKey(project, 2);
  auto wa = a->Writer();
  std::string v;
  ASSERT_TRUE(wa->Get(Table::kProfiles, p1, &v).IsNotFound());
  ASSERT_TRUE(wa->Get(Table::kProfiles, p2, &v).IsNotFound());
  a->StopLeaseForTesting();  // a stall: its lease lapses while it still thinks it fresh
  auto wb = b->Writer();
  ASSERT_TRUE(wb->Get(Table::kProfiles, p2, &v).IsNotFound());
  WriteSet wbw;
  wbw.Put(Table::kProfiles, p2, "b");
  ASSERT_TRUE(wb->Commit(wbw, true).ok());
  // A wakes up and commits what it computed from its stale reads: refused, nothing applied.
  WriteSet waw;
  waw.Put(Table::kProfiles, p1, "a");
  waw.Put(Table::kProfiles, p2, "a");
  Status s = wa->Commit(waw, true);
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable) << s.ToString();
  EXPECT_TRUE(b->Get(Table::kProfiles, p1, &v).IsNotFound()) << "a half of A's commit";
  ASSERT_TRUE(b->Get(Table::kProfiles, p2, &v).ok());
  EXPECT_EQ(v, "b");
}

TEST(RedisStore, ALockOfADeadNodeWithoutAnIntentIsSimplyTakenOver) {
  std::string project = Project();
  auto a = OpenStore();
  auto b = OpenStore();
  std::string key = store::DeviceKey(project, "d1");
  auto wa = a->Writer();
  std::string v;
  ASSERT_TRUE(wa->Get(Table::kIdentity, key, &v).IsNotFound());
  a->StopLeaseForTesting();  // dies holding the lock, before any commit
  auto wb = b->Writer();
  EXPECT_TRUE(wb->Get(Table::kIdentity, key, &v).IsNotFound());
  WriteSet w;
  w.Put(Table::kIdentity, key, "b's");
  ASSERT_TRUE(wb->Commit(w, true).ok());
  ASSERT_TRUE(a->Get(Table::kIdentity, key, &v).ok());
  EXPECT_EQ(v, "b's");
}

TEST(RedisStore, AUserScanMergesManyPagesOfEveryPartitionInKeyOrder) {
  std::string project = Project();
  RedisStoreOptions o = Options();
  o.partitions = 8;  // ~40 users per partition: many pages each
  auto a = OpenStore(o);
  auto b = OpenStore(o);
  std::vector<std::string> want;
  WriteSet w;
  for (uint64_t id = 1; id <= 300; ++id) {
    for (auto r : {store::UserRecord::kAggregates, store::UserRecord::kProfile}) {
      want.push_back(store::UserRecordKey(project, id * 977, r));
      w.Put(Table::kProfiles, want.back(), "v");
    }
  }
  ASSERT_TRUE(a->Commit(w, true).ok());
  std::sort(want.begin(), want.end());
  std::vector<std::string> seen;
  std::string prefix = store::ProjectPrefix(project);
  ASSERT_TRUE(b->Scan(Table::kProfiles, prefix, store::PrefixEnd(prefix),
                      [&](std::string_view k, std::string_view) {
                        seen.emplace_back(k);
                        return true;
                      })
                  .ok());
  EXPECT_EQ(seen, want);
}

TEST(RedisStore, RefusesAUserScanBeyondOneProject) {
  std::string prefix = store::ProjectPrefix(Project());
  auto a = OpenStore();
  auto none = [](std::string_view, std::string_view) { return true; };
  EXPECT_EQ(a->Scan(Table::kProfiles, prefix, store::PrefixEnd(prefix) + "x", none).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(a->Scan(Table::kProfiles, "", "\xff", none).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(a->Scan(Table::kIdentity, prefix, store::PrefixEnd(prefix), none).code(),
            ErrorCode::kInternal)
      << "identity scans stay refused";
}

// Reads on an event loop (NewAsyncReads) give what MultiGet gives, for the reads they take.
TEST(RedisStore, ReadsOnALoopAnswerAsMultiGetDoesAndLeaveTheRestToIt) {
  std::string project = Project();
  auto a = OpenStore();
  auto b = OpenStore();
  WriteSet w;
  const std::string profile = store::UserRecordKey(project, 7, store::UserRecord::kProfile);
  const std::string aggregates = store::UserRecordKey(project, 7, store::UserRecord::kAggregates);
  const std::string cohorts = store::UserRecordKey(project, 7, store::UserRecord::kStaticCohorts);
  w.Put(Table::kProfiles, profile, std::string("p\0\xff", 3));
  w.Put(Table::kProfiles, aggregates, "a");
  w.Put(Table::kIdentity, store::UserKey(project, "u7"), store::EncodeId(7));
  ASSERT_TRUE(a->Commit(w, true).ok());

  boost::asio::io_context loop;
  std::unique_ptr<store::AsyncReads> reads = b->NewAsyncReads(loop);
  ASSERT_NE(reads, nullptr);
  struct Answer {
    Status s;
    std::vector<std::string> values;
    std::vector<Status> statuses;
  };
  // One user's records (one absent), the identity of a user_id, one never written: each one
  // command, the last two perhaps on another node (answers come in any order).
  std::vector<std::vector<std::string>> asked = {{profile, aggregates, cohorts},
                                                 {store::UserKey(project, "u7")},
                                                 {store::UserKey(project, "nobody")}};
  std::vector<Answer> answers(asked.size());
  size_t answered = 0;
  for (size_t i = 0; i < asked.size(); ++i) {
    Table table = i == 0 ? Table::kProfiles : Table::kIdentity;
    ASSERT_TRUE(reads->MultiGet(
        table, asked[i],
        [&, i](const Status& s, std::vector<std::string>& values, std::vector<Status>& statuses) {
          answers[i] = {s, values, statuses};
          ++answered;
        }));
  }
  EXPECT_EQ(answered, 0u) << "answered inside MultiGet";
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (answered < asked.size() && std::chrono::steady_clock::now() < until) {
    loop.restart();
    loop.run_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(answered, asked.size());
  for (size_t i = 0; i < asked.size(); ++i) {
    Table table = i == 0 ? Table::kProfiles : Table::kIdentity;
    std::vector<std::string> values;
    std::vector<Status> statuses;
    ASSERT_TRUE(a->MultiGet(table, asked[i], &values, &statuses).ok());
    ASSERT_TRUE(answers[i].s.ok()) << i << ": " << answers[i].s.ToString();
    EXPECT_EQ(answers[i].values, values) << i;
    ASSERT_EQ(answers[i].statuses.size(), statuses.size()) << i;
    for (size_t k = 0; k < statuses.size(); ++k) {
      EXPECT_EQ(answers[i].statuses[k].code(), statuses[k].code()) << i << "/" << k;
    }
  }
  EXPECT_TRUE(answers[0].statuses[2].IsNotFound());
  EXPECT_TRUE(answers[2].statuses[0].IsNotFound());

  // More than one Redis key (two users, or two tables' worth), or events: not this way.
  auto never = [](const Status&, std::vector<std::string>&, std::vector<Status>&) {
    ADD_FAILURE() << "answered a read it refused";
  };
  EXPECT_FALSE(reads->MultiGet(
      Table::kProfiles, {profile, store::UserRecordKey(project, 8, store::UserRecord::kProfile)},
      never));
  EXPECT_FALSE(reads->MultiGet(
      Table::kIdentity, {store::UserKey(project, "u7"), store::UserKey(project, "u8")}, never));
  EXPECT_FALSE(reads->MultiGet(Table::kEvents, {store::ProjectPrefix(project) + "x"}, never));
  EXPECT_FALSE(reads->MultiGet(Table::kProfiles, {"not a user key"}, never));
  reads.reset();  // before the loop, as the server does
}

// A read on the loop that meets a redirect (here MOVED: the slot moved since the store loaded
// its map) fails instead of answering NotFound, so the blocking path, which follows it, has
// the last word.
TEST(RedisStore, AReadOnALoopThatIsRedirectedFailsRatherThanFindingNothing) {
  std::string project = Project();
  auto a = OpenStore();
  const std::string key = store::UserKey(project, "moved");
  WriteSet w;
  w.Put(Table::kIdentity, key, store::EncodeId(9));
  ASSERT_TRUE(a->Commit(w, true).ok());
  auto admin = redis::ClusterClient::Open(Options().client);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  // The slot of the key's Redis string: the one whose owner changes.
  std::vector<std::string> keys = {key};
  boost::asio::io_context loop;
  std::unique_ptr<store::AsyncReads> reads = a->NewAsyncReads(loop);
  auto read_once = [&](Status* s, std::vector<Status>* statuses) {
    bool answered = false;
    if (!reads->MultiGet(
            Table::kIdentity, keys,
            [&](const Status& status, std::vector<std::string>&, std::vector<Status>& each) {
              *s = status;
              *statuses = each;
              answered = true;
            })) {
      return false;
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!answered && std::chrono::steady_clock::now() < until) {
      loop.restart();
      loop.run_for(std::chrono::milliseconds(5));
    }
    return answered;
  };
  Status s;
  std::vector<Status> statuses;
  ASSERT_TRUE(read_once(&s, &statuses));
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(statuses[0].ok());
  // The Redis key that holds it (this test's project is in its name), and so its slot.
  std::string redis_key;
  for (const std::string& primary : redis::Primaries(**admin)) {
    Result<redis::Reply> found = (*admin)->RunOnNode(primary, {"KEYS", "*" + project + "*moved*"});
    ASSERT_TRUE(found.ok());
    for (const redis::Reply& k : found->elements) redis_key = k.str;
  }
  ASSERT_FALSE(redis_key.empty());
  const uint16_t slot = redis::KeySlot(redis_key);
  const std::string owner = (*admin)->PrimaryOf(slot);
  redis::MoveSlot(**admin, slot, owner, redis::AnotherPrimary(**admin, owner));
  ASSERT_TRUE(read_once(&s, &statuses));
  EXPECT_FALSE(s.ok()) << "a MOVED answered as a read";
  std::string value;
  EXPECT_TRUE(a->Get(Table::kIdentity, key, &value).ok()) << "the blocking read follows it";
  reads.reset();
}

TEST(RedisStore, RefusesToStartWhenANodeMayEvictKeys) {
  RedisStoreOptions o = Options();
  auto admin = redis::ClusterClient::Open(o.client);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  // The last of the six nodes the cluster script started: a replica (redis-cli --cluster create
  // makes the last three replicas), whose policy matters once it is promoted. CLUSTER SLOTS
  // may not list it yet; CLUSTER NODES does.
  const std::string replica = cluster->seeds().back();
  auto set_policy = [&](const std::string& policy) {
    Result<redis::Reply> r =
        (*admin)->RunOnNode(replica, {"CONFIG", "SET", "maxmemory-policy", policy});
    return r.ok() && !r->is_error();
  };
  {
    ASSERT_TRUE(set_policy("allkeys-lru"));
    struct Restore {
      std::function<bool(const std::string&)> set;
      ~Restore() { EXPECT_TRUE(set("noeviction")) << "the replica's policy was not restored"; }
    } restore{set_policy};
    auto refused = RedisStore::Open(o);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find(replica + " runs with maxmemory-policy allkeys-lru"),
              std::string::npos)
        << refused.status().message();
  }
  EXPECT_NE(OpenStore(o), nullptr);
}

TEST(RedisStore, IsHealthyWhileItsLeaseIsFreshAndSaysWhyNotOnceItIsNot) {
  RedisStoreOptions o = Options();
  o.lease_ms = 200;
  auto a = OpenStore(o);
  EXPECT_TRUE(a->Health().ok()) << a->Health().ToString();
  a->StopLeaseForTesting();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  Status s = a->Health();
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.message().find("lease"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace profiled::cluster

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  profiled::cluster::cluster = new profiled::redis::LocalCluster;
  ::testing::AddGlobalTestEnvironment(profiled::cluster::cluster);
  return RUN_ALL_TESTS();
}
