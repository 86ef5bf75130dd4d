// LocalCluster (tests only): a GoogleTest environment that starts a local Redis Cluster of
// 3 primaries and 3 replicas with scripts/redis-cluster.sh in a fresh directory before a test
// binary's first test, with the password kLocalClusterPassword, and stops it after the last;
// and the helpers of the tests that reshard it (MoveSlot).
// The test target defines PROFILED_REDIS_CLUSTER_SCRIPT (the script's path). Register one per
// binary with ::testing::AddGlobalTestEnvironment. Not thread-safe: SetUp and TearDown run
// when no test does.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/temp_dir.h"
#include "redis/cluster_client.h"
#include "redis/key_slot.h"

namespace profiled::redis {

inline constexpr char kLocalClusterPassword[] = "profiled-test-secret";

class LocalCluster : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>();
    std::string start = std::string(PROFILED_REDIS_CLUSTER_SCRIPT) + " start " + dir_->path() +
                        " --password " + kLocalClusterPassword + " --owner " +
                        std::to_string(::getpid()) + " >/dev/null";
    // std::system is not thread-safe; the environment starts and stops when no test runs.
    ASSERT_EQ(std::system(start.c_str()), 0)  // NOLINT(concurrency-mt-unsafe)
        << "could not start a cluster: " << start;
    std::ifstream nodes(dir_->path() + "/nodes.txt");
    for (std::string line; std::getline(nodes, line);) seeds_.push_back(line);
    ASSERT_EQ(seeds_.size(), 6u);
  }

  void TearDown() override {
    std::string stop = std::string(PROFILED_REDIS_CLUSTER_SCRIPT) + " stop " + dir_->path();
    EXPECT_EQ(std::system(stop.c_str()), 0);  // NOLINT(concurrency-mt-unsafe)
    dir_.reset();
  }

  // host:port of every node, primaries and replicas.
  const std::vector<std::string>& seeds() const { return seeds_; }

  // The pid of the node at `address` (host:port), from the pid file of its folder; 0 when
  // unknown.
  int PidOf(const std::string& address) const {
    for (int i = 1; i <= 6; ++i) {
      std::string node_dir = dir_->path() + "/node-" + std::to_string(i);
      std::ifstream port_file(node_dir + "/port");
      std::string port;
      port_file >> port;
      if ("127.0.0.1:" + port != address) continue;
      std::ifstream pid_file(node_dir + "/redis.pid");
      int pid = 0;
      pid_file >> pid;
      return pid;
    }
    return 0;
  }

 private:
  std::unique_ptr<TempDir> dir_;
  std::vector<std::string> seeds_;
};

// A command's reply, which must be neither a failure nor an error reply (a test failure else).
inline std::string Must(Result<Reply> reply) {
  EXPECT_TRUE(reply.ok()) << reply.status().ToString();
  if (!reply.ok()) return {};
  EXPECT_FALSE(reply->is_error()) << reply->ToString();
  return reply->str;
}

// The primaries of `client`'s map.
inline std::vector<std::string> Primaries(ClusterClient& client) {
  std::set<std::string> primaries;
  for (int slot = 0; slot < kSlotCount; slot += 128) primaries.insert(client.PrimaryOf(slot));
  return {primaries.begin(), primaries.end()};
}

// Some primary other than `other`.
inline std::string AnotherPrimary(ClusterClient& client, const std::string& other) {
  for (const std::string& primary : Primaries(client)) {
    if (primary != other) return primary;
  }
  return "";
}

// Moves every key of `slot` from `source` to `target` and gives the slot to `target` on every
// primary, the way redis-cli --cluster reshard does: IMPORTING, MIGRATING, MIGRATE, SETSLOT NODE.
// With finish = false, stops once the slot is marked migrating (a migration under way).
inline void MoveSlot(ClusterClient& admin, int slot, const std::string& source,
                     const std::string& target, bool finish = true) {
  std::string s = std::to_string(slot);
  std::string source_id = Must(admin.RunOnNode(source, {"CLUSTER", "MYID"}));
  std::string target_id = Must(admin.RunOnNode(target, {"CLUSTER", "MYID"}));
  Must(admin.RunOnNode(target, {"CLUSTER", "SETSLOT", s, "IMPORTING", source_id}));
  Must(admin.RunOnNode(source, {"CLUSTER", "SETSLOT", s, "MIGRATING", target_id}));
  if (!finish) return;
  Result<Reply> keys = admin.RunOnNode(source, {"CLUSTER", "GETKEYSINSLOT", s, "1000"});
  ASSERT_TRUE(keys.ok());
  if (!keys->elements.empty()) {
    std::string host = target.substr(0, target.rfind(':'));
    std::string port = target.substr(target.rfind(':') + 1);
    std::vector<std::string> migrate = {
        "MIGRATE", host, port, "", "0", "10000", "AUTH", kLocalClusterPassword, "KEYS"};
    for (const Reply& key : keys->elements) migrate.push_back(key.str);
    Must(admin.RunOnNode(source, migrate));
  }
  for (const std::string& primary : Primaries(admin)) {
    Must(admin.RunOnNode(primary, {"CLUSTER", "SETSLOT", s, "NODE", target_id}));
  }
}

}  // namespace profiled::redis
