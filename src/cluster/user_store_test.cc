// UserStore against a live Redis Cluster: 3 primaries and 3 replicas, password-protected,
// started once for the whole binary by scripts/redis-cluster.sh in a fresh directory and
// stopped at the end. Each test writes its own project, so tests share the cluster without
// seeing each other's keys.
#include "cluster/user_store.h"

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/keys.h"
#include "core/temp_dir.h"
#include "redis/cluster_client.h"
#include "redis/key_slot.h"
#include "redis/local_cluster.h"

namespace profiled::cluster {

// For GoogleTest's messages: the enumerator's name, not its byte.
void PrintTo(CommitStatus status, std::ostream* out) {
  switch (status) {
    case CommitStatus::kCommitted: *out << "kCommitted"; return;
    case CommitStatus::kConflict: *out << "kConflict"; return;
    case CommitStatus::kDuplicate: *out << "kDuplicate"; return;
    case CommitStatus::kNotReplicated: *out << "kNotReplicated"; return;
    case CommitStatus::kDuplicateNotReplicated: *out << "kDuplicateNotReplicated"; return;
  }
}

namespace {

constexpr const char* kPassword = redis::kLocalClusterPassword;
constexpr int kNoWait = 0;

using redis::LocalCluster;

LocalCluster* cluster = nullptr;

std::unique_ptr<redis::ClusterClient> OpenClient() {
  redis::ClusterOptions options;
  options.seeds = cluster->seeds();
  options.password = kPassword;
  options.command_timeout_ms = 10000;  // generous: the machine is shared; WAIT below asks 5 s
  Result<std::unique_ptr<redis::ClusterClient>> client = redis::ClusterClient::Open(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

// A client, a store on it with few partitions (so that tests hit shared partition streams),
// and direct looks at the keys the store wrote.
class UserStoreTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kTestPartitions = 64;

  void SetUp() override {
    client_ = OpenClient();
    ASSERT_NE(client_, nullptr);
    Result<std::unique_ptr<UserStore>> store =
        UserStore::Open(*client_, UserStoreOptions{kTestPartitions});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // The project of this test: each test writes its own keys.
  static std::string Project() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  uint32_t PartitionOf(uint64_t id) const { return Partition(Project(), id, kTestPartitions); }

  StoredUser ReadOne(uint64_t id) {
    std::vector<Result<StoredUser>> users = store_->Read(Project(), {id});
    EXPECT_TRUE(users[0].ok()) << users[0].status().ToString();
    return users[0].ok() ? *users[0] : StoredUser{};
  }

  CommitOutcome CommitOne(const UserCommit& commit, int wait_replicas = kNoWait,
                          int wait_timeout_ms = 0) {
    std::vector<Result<CommitOutcome>> outcomes =
        store_->Commit({commit}, wait_replicas, wait_timeout_ms);
    EXPECT_TRUE(outcomes[0].ok()) << outcomes[0].status().ToString();
    return outcomes[0].ok() ? *outcomes[0] : CommitOutcome{CommitStatus::kConflict, 0, 0};
  }

  redis::Reply Raw(std::vector<std::string> args) {
    Result<redis::Reply> reply = client_->Execute({std::move(args), 1});
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    return reply.ok() ? *reply : redis::Reply::Error("not ok");
  }
  int64_t StreamLength(uint64_t id) {
    return Raw({"XLEN", EventStreamKey(PartitionOf(id), Project())}).integer;
  }
  bool DedupKeyExists(uint64_t id, const std::string& scope, const std::string& insert_id) {
    return Raw({"EXISTS", DedupKey(PartitionOf(id), Project(), scope, insert_id)}).integer == 1;
  }

  static UserCommit NewCommit(uint64_t id, uint64_t expected_version) {
    UserCommit commit;
    commit.project = Project();
    commit.amplitude_id = id;
    commit.expected_version = expected_version;
    return commit;
  }

  std::unique_ptr<redis::ClusterClient> client_;
  std::unique_ptr<UserStore> store_;
};

using Records = std::map<char, std::string>;

// The pid of the replica of the primary at `primary` (each shard has one), from the primary's
// INFO replication ("slave0:ip=...,port=<port>,...") and the node folders of the cluster; 0 when
// not found.
pid_t ReplicaPid(redis::ClusterClient& client, const std::string& primary) {
  Result<redis::Reply> info = client.RunOnNode(primary, {"INFO", "replication"});
  if (!info.ok() || info->is_error()) return 0;
  const std::string& text = info->str;
  size_t at = text.find("slave0:");
  if (at == std::string::npos) return 0;
  at = text.find("port=", at);
  if (at == std::string::npos) return 0;
  const std::string port = text.substr(at + 5, text.find(',', at) - at - 5);
  return cluster->PidOf("127.0.0.1:" + port);
}

// Stops a node with SIGSTOP for its lifetime, so that the cluster is whole again for the tests
// after, whatever the test asserted meanwhile.
class StoppedNode {
 public:
  explicit StoppedNode(pid_t pid) : pid_(pid), stopped_(::kill(pid, SIGSTOP) == 0) {}
  ~StoppedNode() {
    if (stopped_) (void)::kill(pid_, SIGCONT);
  }
  StoppedNode(const StoppedNode&) = delete;
  StoppedNode& operator=(const StoppedNode&) = delete;
  bool stopped() const { return stopped_; }

 private:
  pid_t pid_;
  bool stopped_;
};

TEST_F(UserStoreTest, ReadsAUserNeverWrittenAsVersionZeroWithoutRecords) {
  StoredUser user = ReadOne(42);
  EXPECT_EQ(user.version, 0u);
  EXPECT_TRUE(user.records.empty());
}

TEST_F(UserStoreTest, ReadsBackTheRecordsAndVersionOfEachCommit) {
  UserCommit first = NewCommit(7, 0);
  const std::string binary("\0\xff{}x", 5);
  first.set_records = {{'p', "profile"}, {'a', binary}};
  CommitOutcome outcome = CommitOne(first);
  EXPECT_EQ(outcome.status, CommitStatus::kCommitted);
  EXPECT_EQ(outcome.version, 1u);
  StoredUser user = ReadOne(7);
  EXPECT_EQ(user.version, 1u);
  EXPECT_EQ(user.records, (Records{{'p', "profile"}, {'a', binary}}));

  UserCommit second = NewCommit(7, 1);
  second.delete_records = {'a'};
  second.set_records = {{'p', "profile 2"}, {'s', "cohorts"}};
  outcome = CommitOne(second);
  EXPECT_EQ(outcome.status, CommitStatus::kCommitted);
  EXPECT_EQ(outcome.version, 2u);
  user = ReadOne(7);
  EXPECT_EQ(user.version, 2u);
  EXPECT_EQ(user.records, (Records{{'p', "profile 2"}, {'s', "cohorts"}}));
}

TEST_F(UserStoreTest, DeletesAWholeUserAndNeverReusesItsVersion) {
  UserCommit create = NewCommit(8, 0);
  create.set_records = {{'p', "profile"}, {'a', "aggregates"}};
  ASSERT_EQ(CommitOne(create).status, CommitStatus::kCommitted);
  UserCommit remove = NewCommit(8, 1);
  remove.delete_user = true;
  CommitOutcome outcome = CommitOne(remove);
  EXPECT_EQ(outcome.status, CommitStatus::kCommitted);
  EXPECT_EQ(outcome.version, 2u);
  StoredUser user = ReadOne(8);
  EXPECT_EQ(user.version, 2u);
  EXPECT_TRUE(user.records.empty());
  // A view from before the delete, or from before the user existed, never matches again.
  EXPECT_EQ(CommitOne(create).status, CommitStatus::kConflict);
  EXPECT_EQ(CommitOne(remove).status, CommitStatus::kConflict);
}

TEST_F(UserStoreTest, RefusesAStaleVersionAndChangesNothing) {
  UserCommit create = NewCommit(9, 0);
  create.set_records = {{'p', "first"}};
  ASSERT_EQ(CommitOne(create).status, CommitStatus::kCommitted);
  const int64_t stream_length = StreamLength(9);

  UserCommit stale = NewCommit(9, 0);
  stale.set_records = {{'p', "second"}, {'a', "aggregates"}};
  stale.delete_records = {'p'};
  stale.insert_ids = {{"ddevice", "insert-1"}};
  stale.dedup_window_ms = 60000;
  stale.events = {{1000, "event"}};
  CommitOutcome outcome = CommitOne(stale);
  EXPECT_EQ(outcome.status, CommitStatus::kConflict);
  EXPECT_EQ(outcome.version, 1u);  // the stored one

  StoredUser user = ReadOne(9);
  EXPECT_EQ(user.version, 1u);
  EXPECT_EQ(user.records, (Records{{'p', "first"}}));
  EXPECT_FALSE(DedupKeyExists(9, "ddevice", "insert-1"));
  EXPECT_EQ(StreamLength(9), stream_length);
}

TEST_F(UserStoreTest, RefusesAReSentInsertIdAndChangesNothing) {
  UserCommit first = NewCommit(10, 0);
  first.set_records = {{'p', "first"}};
  first.insert_ids = {{"ddevice", "insert-1"}};
  first.dedup_window_ms = 60000;
  first.events = {{1000, "event 1"}};
  ASSERT_EQ(CommitOne(first).status, CommitStatus::kCommitted);
  EXPECT_TRUE(DedupKeyExists(10, "ddevice", "insert-1"));
  const int64_t ttl =
      Raw({"PTTL", DedupKey(PartitionOf(10), Project(), "ddevice", "insert-1")}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 60000);
  const int64_t stream_length = StreamLength(10);

  UserCommit again = NewCommit(10, 1);
  again.set_records = {{'p', "second"}};
  again.insert_ids = {{"ddevice", "insert-2"}, {"ddevice", "insert-1"}};
  again.dedup_window_ms = 60000;
  again.events = {{2000, "event 2"}, {2000, "event 1"}};
  CommitOutcome outcome = CommitOne(again);
  EXPECT_EQ(outcome.status, CommitStatus::kDuplicate);
  EXPECT_EQ(outcome.duplicate, 1u);

  StoredUser user = ReadOne(10);
  EXPECT_EQ(user.version, 1u);
  EXPECT_EQ(user.records, (Records{{'p', "first"}}));
  EXPECT_FALSE(DedupKeyExists(10, "ddevice", "insert-2"));
  EXPECT_EQ(StreamLength(10), stream_length);
  // The same insert_id in another scope is another event.
  again.insert_ids = {{"dother-device", "insert-1"}};
  EXPECT_EQ(CommitOne(again).status, CommitStatus::kCommitted);
}

// The example: $add 1 a thousand times through each of two nodes gives 2000. Each
// thread is a node: its own client and store, read -> +1 -> commit at the version read, and
// read again on a conflict.
TEST_F(UserStoreTest, LosesNoUpdateWhenTwoClientsIncrementOneUser) {
  constexpr int kIncrements = 1000;
  constexpr uint64_t kUser = 11;
  const std::string project = Project();
  std::atomic<int> conflicts{0};
  std::atomic<int> failures{0};
  const auto increment = [&] {
    std::unique_ptr<redis::ClusterClient> client = OpenClient();
    if (client == nullptr) return;
    Result<std::unique_ptr<UserStore>> store =
        UserStore::Open(*client, UserStoreOptions{kTestPartitions});
    if (!store.ok()) return;
    for (int done = 0; done < kIncrements;) {
      std::vector<Result<StoredUser>> read = (*store)->Read(project, {kUser});
      if (!read[0].ok()) {
        ++failures;
        return;
      }
      auto counter = read[0]->records.find('c');
      int value = counter == read[0]->records.end() ? 0 : std::stoi(counter->second);
      UserCommit commit;
      commit.project = project;
      commit.amplitude_id = kUser;
      commit.expected_version = read[0]->version;
      commit.set_records = {{'c', std::to_string(value + 1)}};
      std::vector<Result<CommitOutcome>> outcome = (*store)->Commit({commit}, kNoWait, 0);
      if (!outcome[0].ok()) {
        ++failures;
        return;
      }
      if (outcome[0]->status == CommitStatus::kConflict) {
        ++conflicts;
      } else {
        ++done;
      }
    }
  };
  std::thread a(increment), b(increment);
  a.join();
  b.join();
  ASSERT_EQ(failures.load(), 0);
  StoredUser user = ReadOne(kUser);
  EXPECT_EQ(user.records['c'], std::to_string(2 * kIncrements))
      << "with " << conflicts.load() << " conflicts retried";
  EXPECT_EQ(user.version, 2u * kIncrements);
}

TEST_F(UserStoreTest, ReturnsPipelinedCommitsOfUsersOnEveryShardInCallerOrder) {
  constexpr uint64_t kUsers = 300;
  // Every third user exists already, so its commit below, made from a view of no user,
  // conflicts: the outcomes differ by position.
  std::vector<UserCommit> existing;
  for (uint64_t id = 0; id < kUsers; id += 3) {
    existing.push_back(NewCommit(id, 0));
    existing.back().set_records = {{'p', "old " + std::to_string(id)}};
  }
  for (const Result<CommitOutcome>& outcome : store_->Commit(existing, kNoWait, 0)) {
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    EXPECT_EQ(outcome->status, CommitStatus::kCommitted);
  }

  std::vector<UserCommit> commits;
  std::vector<uint64_t> ids;
  std::set<std::string> primaries;
  for (uint64_t id = 0; id < kUsers; ++id) {
    commits.push_back(NewCommit(id, 0));
    commits.back().set_records = {{'p', "new " + std::to_string(id)}};
    ids.push_back(id);
    primaries.insert(client_->PrimaryOf(redis::KeySlot(PartitionTag(PartitionOf(id)))));
  }
  EXPECT_EQ(primaries.size(), 3u);
  std::vector<Result<CommitOutcome>> outcomes = store_->Commit(commits, kNoWait, 0);
  ASSERT_EQ(outcomes.size(), kUsers);
  std::vector<Result<StoredUser>> users = store_->Read(Project(), ids);
  ASSERT_EQ(users.size(), kUsers);
  for (uint64_t id = 0; id < kUsers; ++id) {
    ASSERT_TRUE(outcomes[id].ok()) << outcomes[id].status().ToString();
    ASSERT_TRUE(users[id].ok()) << users[id].status().ToString();
    const bool existed = id % 3 == 0;
    EXPECT_EQ(outcomes[id]->status, existed ? CommitStatus::kConflict : CommitStatus::kCommitted)
        << "user " << id;
    EXPECT_EQ(outcomes[id]->version, 1u);
    EXPECT_EQ(users[id]->records['p'], (existed ? "old " : "new ") + std::to_string(id));
  }
}

TEST_F(UserStoreTest, AppendsEventsToTheUsersPartitionStreamInOrder) {
  constexpr uint64_t kUser = 12;
  UserCommit commit = NewCommit(kUser, 0);
  commit.events = {{1000, "a"}, {1000, "b"}, {1001, std::string("c\0\xff", 3)}};
  ASSERT_EQ(CommitOne(commit).status, CommitStatus::kCommitted);
  Result<std::vector<StoredEvent>> events =
      store_->ReadEvents(Project(), PartitionOf(kUser), {}, 10);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].bytes, "a");
  EXPECT_EQ((*events)[1].bytes, "b");
  EXPECT_EQ((*events)[2].bytes, std::string("c\0\xff", 3));
  EXPECT_EQ((*events)[0].ms, 1000);
  EXPECT_EQ((*events)[1].ms, 1000);
  EXPECT_GT((*events)[1].seq, (*events)[0].seq);
  EXPECT_EQ((*events)[2].ms, 1001);
  // Another partition's stream has none of them.
  const uint32_t other = (PartitionOf(kUser) + 1) % kTestPartitions;
  Result<std::vector<StoredEvent>> elsewhere = store_->ReadEvents(Project(), other, {}, 10);
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_TRUE(elsewhere->empty());
  // From a time on, and at most `limit`.
  constexpr uint64_t kLastSeq = std::numeric_limits<uint64_t>::max();
  Result<std::vector<StoredEvent>> later =
      store_->ReadEvents(Project(), PartitionOf(kUser), {1000, kLastSeq}, 10);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].ms, 1001);
  Result<std::vector<StoredEvent>> first = store_->ReadEvents(Project(), PartitionOf(kUser), {}, 1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].bytes, "a");
}

// A reader pages by id: more events of one ms than fit in a page are all read, each once.
TEST_F(UserStoreTest, PagesThroughMoreEventsOfOneMsThanOnePageHolds) {
  constexpr uint64_t kUser = 15;
  constexpr int kEvents = 25;
  UserCommit commit = NewCommit(kUser, 0);
  for (int i = 0; i < kEvents; ++i) commit.events.push_back({7000, std::to_string(i)});
  ASSERT_EQ(CommitOne(commit).status, CommitStatus::kCommitted);
  std::vector<std::string> read;
  std::vector<size_t> page_sizes;
  EventPosition after;
  for (int page = 0; page < 10; ++page) {
    Result<std::vector<StoredEvent>> events =
        store_->ReadEvents(Project(), PartitionOf(kUser), after, 10);
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    page_sizes.push_back(events->size());
    if (events->empty()) break;
    for (const StoredEvent& event : *events) {
      EXPECT_EQ(event.ms, 7000);
      read.push_back(event.bytes);
    }
    after = {events->back().ms, events->back().seq};
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5, 0}));
  ASSERT_EQ(read.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(read[i], std::to_string(i));
}

TEST_F(UserStoreTest, CommitsAnEventOlderThanTheStreamsLastOne) {
  constexpr uint64_t kUser = 13;
  UserCommit commit = NewCommit(kUser, 0);
  commit.events = {{5000, "now"}};
  ASSERT_EQ(CommitOne(commit).status, CommitStatus::kCommitted);
  // The clock went back: the commit still applies, and the event goes after the last one.
  UserCommit older = NewCommit(kUser, 1);
  older.set_records = {{'p', "after the clock went back"}};
  older.events = {{4000, "earlier clock"}};
  CommitOutcome outcome = CommitOne(older);
  EXPECT_EQ(outcome.status, CommitStatus::kCommitted);
  EXPECT_EQ(ReadOne(kUser).records['p'], "after the clock went back");
  Result<std::vector<StoredEvent>> events =
      store_->ReadEvents(Project(), PartitionOf(kUser), {}, 10);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].bytes, "earlier clock");
  EXPECT_EQ((*events)[1].ms, 5000);
  EXPECT_GT((*events)[1].seq, (*events)[0].seq);
}

TEST_F(UserStoreTest, TrimsTheEventsBeforeATime) {
  constexpr uint64_t kUser = 14;
  UserCommit commit = NewCommit(kUser, 0);
  commit.events = {{1000, "a"}, {2000, "b"}, {3000, "c"}};
  ASSERT_EQ(CommitOne(commit).status, CommitStatus::kCommitted);
  Result<int64_t> trimmed = store_->TrimEvents(Project(), PartitionOf(kUser), 3000);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status().ToString();
  EXPECT_EQ(*trimmed, 2);
  Result<std::vector<StoredEvent>> events =
      store_->ReadEvents(Project(), PartitionOf(kUser), {}, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].bytes, "c");
  // A later event still goes after the trimmed ones, and an older one after the last.
  UserCommit next = NewCommit(kUser, 1);
  next.events = {{500, "d"}};
  ASSERT_EQ(CommitOne(next).status, CommitStatus::kCommitted);
  events = store_->ReadEvents(Project(), PartitionOf(kUser), {}, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].bytes, "d");
}

TEST_F(UserStoreTest, ReportsCommittedWhenTheReplicasHoldTheWrites) {
  std::vector<UserCommit> commits;
  for (uint64_t id = 100; id < 130; ++id) {
    commits.push_back(NewCommit(id, 0));
    commits.back().set_records = {{'p', "replicated"}};
  }
  for (const Result<CommitOutcome>& outcome : store_->Commit(commits, 1, 5000)) {
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    EXPECT_EQ(outcome->status, CommitStatus::kCommitted);
    EXPECT_EQ(outcome->version, 1u);
  }
}

TEST_F(UserStoreTest, ReportsNotReplicatedWhenTooFewReplicasAcknowledge) {
  std::vector<UserCommit> commits;
  std::vector<uint64_t> ids;
  for (uint64_t id = 100; id < 130; ++id) {
    commits.push_back(NewCommit(id, 0));
    commits.back().set_records = {{'p', "on the primary"}};
    ids.push_back(id);
  }
  // Each shard has one replica: five never acknowledge.
  for (const Result<CommitOutcome>& outcome : store_->Commit(commits, 5, 100)) {
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    EXPECT_EQ(outcome->status, CommitStatus::kNotReplicated);
    EXPECT_EQ(outcome->version, 1u);
  }
  for (const Result<StoredUser>& user : store_->Read(Project(), ids)) {
    ASSERT_TRUE(user.ok());
    EXPECT_EQ(user->version, 1u);
    EXPECT_EQ(user->records.at('p'), "on the primary");
  }
}

// The retry of a commit that applied but did not reach a replica must not be acknowledged as a
// duplicate: the first write may still be on the primary only. The retry runs on this client's
// connection (which wrote the commit) and on a fresh client's (which wrote nothing before).
TEST_F(UserStoreTest, ReportsACommitAndItsDuplicateRetryNotReplicatedWhileTheReplicaIsStopped) {
  constexpr uint64_t kUser = 200;
  const std::string primary = client_->PrimaryOf(redis::KeySlot(PartitionTag(PartitionOf(kUser))));
  const pid_t replica = ReplicaPid(*client_, primary);
  ASSERT_GT(replica, 0) << "no replica found for " << primary;
  UserCommit commit = NewCommit(kUser, 0);
  commit.set_records = {{'p', "on the primary"}};
  commit.insert_ids = {{"ddevice", "insert-1"}};
  commit.dedup_window_ms = 60000;
  {
    StoppedNode stopped(replica);
    ASSERT_TRUE(stopped.stopped());
    CommitOutcome first = CommitOne(commit, 1, 200);
    EXPECT_EQ(first.status, CommitStatus::kNotReplicated);
    EXPECT_EQ(first.version, 1u);
    commit.expected_version = ReadOne(kUser).version;  // a retry re-reads first, at the primary
    ASSERT_EQ(commit.expected_version, 1u);
    CommitOutcome retry = CommitOne(commit, 1, 200);
    EXPECT_EQ(retry.status, CommitStatus::kDuplicateNotReplicated);
    EXPECT_EQ(retry.duplicate, 0u);

    std::unique_ptr<redis::ClusterClient> fresh_client = OpenClient();
    ASSERT_NE(fresh_client, nullptr);
    Result<std::unique_ptr<UserStore>> fresh_store =
        UserStore::Open(*fresh_client, UserStoreOptions{kTestPartitions});
    ASSERT_TRUE(fresh_store.ok()) << fresh_store.status().ToString();
    std::vector<Result<CommitOutcome>> fresh = (*fresh_store)->Commit({commit}, 1, 200);
    ASSERT_TRUE(fresh[0].ok()) << fresh[0].status().ToString();
    EXPECT_EQ(fresh[0]->status, CommitStatus::kDuplicateNotReplicated);
  }
  // The replica runs again and catches up: the retry is a duplicate, replicated.
  CommitOutcome resumed = CommitOne(commit, 1, 5000);
  EXPECT_EQ(resumed.status, CommitStatus::kDuplicate);
  EXPECT_EQ(resumed.version, 1u);  // the commit's expected version
  StoredUser user = ReadOne(kUser);
  EXPECT_EQ(user.version, 1u);
  EXPECT_EQ(user.records, (Records{{'p', "on the primary"}}));
}

TEST_F(UserStoreTest, CommitsAfterEveryNodeForgotTheScript) {
  for (const std::string& node : cluster->seeds()) {
    Result<redis::Reply> flushed = client_->RunOnNode(node, {"SCRIPT", "FLUSH"});
    ASSERT_TRUE(flushed.ok()) << flushed.status().ToString();
    ASSERT_FALSE(flushed->is_error()) << flushed->ToString();
  }
  std::vector<UserCommit> commits;
  for (uint64_t id = 0; id < 30; ++id) {
    commits.push_back(NewCommit(id, 0));
    commits.back().set_records = {{'p', "after the flush"}};
  }
  for (int round = 0; round < 2; ++round) {  // loaded again, then cached
    for (const Result<CommitOutcome>& outcome : store_->Commit(commits, 1, 5000)) {
      ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
      EXPECT_EQ(outcome->status, CommitStatus::kCommitted);
      EXPECT_EQ(outcome->version, static_cast<uint64_t>(round + 1));
    }
    for (UserCommit& commit : commits) ++commit.expected_version;
  }
}

// SET ... PX refuses a window whose end is past what Redis can hold; were it sent, the script
// would stop at the SET with the records already written. A window is bounded, and the commit
// refused whole, before anything is sent.
TEST_F(UserStoreTest, RefusesAnOversizedDedupWindowAndWritesNothing) {
  for (int64_t window : {kMaxDedupWindowMs + 1, std::numeric_limits<int64_t>::max()}) {
    UserCommit commit = NewCommit(20, 0);
    commit.set_records = {{'p', "half"}};
    commit.insert_ids = {{"ddevice", "insert-" + std::to_string(window)}};
    commit.dedup_window_ms = window;
    commit.events = {{1000, "event"}};
    std::vector<Result<CommitOutcome>> outcomes = store_->Commit({commit}, kNoWait, 0);
    EXPECT_EQ(outcomes[0].status().code(), ErrorCode::kInvalidArgument) << window;
    StoredUser user = ReadOne(20);
    EXPECT_EQ(user.version, 0u) << window;
    EXPECT_TRUE(user.records.empty()) << window;
    EXPECT_EQ(StreamLength(20), 0) << window;
  }
  UserCommit longest = NewCommit(20, 0);
  longest.insert_ids = {{"ddevice", "insert-longest"}};
  longest.dedup_window_ms = kMaxDedupWindowMs;
  EXPECT_EQ(CommitOne(longest).status, CommitStatus::kCommitted);
}

TEST_F(UserStoreTest, RefusesACommitItCannotRunAndRunsTheOthers) {
  UserCommit no_window = NewCommit(1, 0);
  no_window.insert_ids = {{"ddevice", "insert"}};
  UserCommit negative_time = NewCommit(2, 0);
  negative_time.events = {{-1, "event"}};
  UserCommit fine = NewCommit(3, 0);
  std::vector<Result<CommitOutcome>> outcomes =
      store_->Commit({no_window, negative_time, fine}, kNoWait, 0);
  EXPECT_EQ(outcomes[0].status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(outcomes[1].status().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(outcomes[2].ok());
  EXPECT_EQ(outcomes[2]->status, CommitStatus::kCommitted);
  EXPECT_EQ(ReadOne(1).version, 0u);
  EXPECT_EQ(ReadOne(2).version, 0u);
  // WAIT without a timeout would block past the client's own timeout.
  UserCommit later = NewCommit(4, 0);
  outcomes = store_->Commit({later}, 1, 0);
  EXPECT_EQ(outcomes[0].status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ReadOne(4).version, 0u);
}

}  // namespace
}  // namespace profiled::cluster

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // GoogleTest owns and deletes the environment.
  profiled::cluster::cluster = new profiled::cluster::LocalCluster;
  ::testing::AddGlobalTestEnvironment(profiled::cluster::cluster);
  return RUN_ALL_TESTS();
}
