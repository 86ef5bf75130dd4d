// LocalCluster (tests only): a GoogleTest environment that starts a local Redis Cluster of
// 3 primaries and 3 replicas with scripts/redis-cluster.sh in a fresh directory before a test
// binary's first test, with the password kLocalClusterPassword, and stops it after the last.
// The test target defines PROFILED_REDIS_CLUSTER_SCRIPT (the script's path). Register one per
// binary with ::testing::AddGlobalTestEnvironment. Not thread-safe: SetUp and TearDown run
// when no test does.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/temp_dir.h"

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

}  // namespace profiled::redis
