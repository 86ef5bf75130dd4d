#include "recs/protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "core/temp_dir.h"
#include "recs/test_util.h"

namespace profiled::recs {
namespace {

// 60 users; user u has 3 + (u % 10) * 2 items (3 to 21), so some users are below 5.
Interactions VariedData() {
  std::vector<std::vector<int32_t>> users(60);
  for (int32_t u = 0; u < 60; ++u) {
    for (int32_t r = 0; r < 3 + (u % 10) * 2; ++r) users[u].push_back((u * 7 + r * 3) % 40);
  }
  return Interactions::FromUserItems(40, std::move(users)).value();
}

bool SameSplit(const EvalSplit& a, const EvalSplit& b) {
  if (a.users.size() != b.users.size() || a.item_of != b.item_of) return false;
  for (size_t e = 0; e < a.users.size(); ++e) {
    if (a.users[e].user != b.users[e].user || a.users[e].history != b.users[e].history ||
        a.users[e].held_out != b.users[e].held_out) {
      return false;
    }
  }
  return true;
}

TEST(HoldoutSplit, HoldsOutAFifthOfEachUserWithFiveOrMorePositives) {
  Interactions data = VariedData();
  EvalSplit split = MakeSplit(data, Protocol::kHoldout, 1);
  EXPECT_EQ(split.train.num_users(), data.num_users());
  EXPECT_EQ(split.train.num_items(), data.num_items());
  size_t eligible = 0;
  for (int32_t u = 0; u < data.num_users(); ++u) eligible += data.items_of(u).size() >= 5;
  ASSERT_EQ(split.users.size(), eligible);
  for (const EvalUser& user : split.users) {
    std::span<const int32_t> all = data.items_of(user.user);
    EXPECT_EQ(user.held_out.size(), all.size() / 5);
    // history and held_out partition the user's positives, and history is what trains.
    std::vector<int32_t> together = user.history;
    together.insert(together.end(), user.held_out.begin(), user.held_out.end());
    std::sort(together.begin(), together.end());
    EXPECT_EQ(together, std::vector<int32_t>(all.begin(), all.end()));
    std::span<const int32_t> trained = split.train.items_of(user.user);
    EXPECT_EQ(user.history, std::vector<int32_t>(trained.begin(), trained.end()));
  }
  // A user below five positives trains on everything and is not evaluated.
  EXPECT_EQ(split.train.items_of(0).size(), 3U);
}

TEST(HoldoutSplit, IsDeterministicForASeedAndVariesWithIt) {
  Interactions data = VariedData();
  EXPECT_TRUE(
      SameSplit(MakeSplit(data, Protocol::kHoldout, 42), MakeSplit(data, Protocol::kHoldout, 42)));
  EXPECT_FALSE(
      SameSplit(MakeSplit(data, Protocol::kHoldout, 42), MakeSplit(data, Protocol::kHoldout, 43)));
}

TEST(StrongSplit, HoldsOutAFifthOfTheUsersAndTrainsWithoutThem) {
  testing::ClusteredDataOptions o;
  o.users = 200;
  Interactions data = testing::ClusteredData(o);
  EvalSplit split = MakeSplit(data, Protocol::kStrong, 3);
  size_t eligible = 0;
  for (int32_t u = 0; u < data.num_users(); ++u) eligible += data.items_of(u).size() >= 5;
  const size_t held_users = eligible / 5;
  EXPECT_EQ(split.train.num_users(), data.num_users() - static_cast<int32_t>(held_users));
  EXPECT_LE(split.users.size(), held_users);
  EXPECT_GE(split.users.size(), held_users * 9 / 10);
  std::set<int32_t> evaluated;
  for (const EvalUser& user : split.users) {
    evaluated.insert(user.user);
    const size_t n = user.history.size() + user.held_out.size();
    EXPECT_EQ(user.held_out.size(), n / 5);  // the fold-in is the other ≈ 80 %
    for (int32_t i : user.history) {
      EXPECT_TRUE(std::find(user.held_out.begin(), user.held_out.end(), i) == user.held_out.end());
    }
  }
  EXPECT_EQ(evaluated.size(), split.users.size());
  // The item space holds only items some training user interacted with.
  for (int32_t i = 0; i < split.train.num_items(); ++i) {
    EXPECT_GT(split.train.item_counts()[static_cast<size_t>(i)], 0);
  }
  EXPECT_EQ(static_cast<int32_t>(split.item_of.size()), split.train.num_items());
}

TEST(StrongSplit, IsDeterministicForASeedAndVariesWithIt) {
  Interactions data = testing::ClusteredData({});
  EXPECT_TRUE(
      SameSplit(MakeSplit(data, Protocol::kStrong, 9), MakeSplit(data, Protocol::kStrong, 9)));
  EXPECT_FALSE(
      SameSplit(MakeSplit(data, Protocol::kStrong, 9), MakeSplit(data, Protocol::kStrong, 10)));
}

TEST(StrongSplit, DropsHeldOutUsersItemsThatNoTrainingUserHas) {
  // Item 5 belongs only to user 0; whenever user 0 is held out, item 5 is not in the space.
  std::vector<std::vector<int32_t>> users(10, std::vector<int32_t>{0, 1, 2, 3, 4});
  users[0].push_back(5);
  Interactions data = Interactions::FromUserItems(6, std::move(users)).value();
  for (uint64_t seed = 0; seed < 20; ++seed) {
    EvalSplit split = MakeSplit(data, Protocol::kStrong, seed);
    ASSERT_EQ(split.users.size(), 2U);
    bool user0_held = split.users[0].user == 0 || split.users[1].user == 0;
    EXPECT_EQ(split.train.num_items(), user0_held ? 5 : 6);
  }
}

TEST(WriteSplit, WritesTheTrainingPairsHistoriesAndHeldOutItems) {
  Interactions data = VariedData();
  EvalSplit split = MakeSplit(data, Protocol::kHoldout, 5);
  TempDir dir;
  ASSERT_TRUE(WriteSplit(split, 5, dir.path()).ok());
  auto lines = [&dir](const char* name) {
    std::ifstream in(dir.path() + "/" + name);
    std::string line;
    size_t count = 0;
    while (std::getline(in, line)) ++count;
    return count;
  };
  EXPECT_EQ(lines("train.tsv"), static_cast<size_t>(split.train.size()));
  size_t history = 0, held_out = 0;
  for (const EvalUser& u : split.users) {
    history += u.history.size();
    held_out += u.held_out.size();
  }
  EXPECT_EQ(lines("history.tsv"), history);
  EXPECT_EQ(lines("held_out.tsv"), held_out);
  std::ifstream meta(dir.path() + "/split.json");
  std::stringstream text;
  text << meta.rdbuf();
  EXPECT_NE(text.str().find("\"protocol\":\"holdout\",\"seed\":5"), std::string::npos);
}

TEST(Protocol, NamesRoundTrip) {
  EXPECT_EQ(ParseProtocol("holdout").value(), Protocol::kHoldout);
  EXPECT_EQ(ParseProtocol("strong").value(), Protocol::kStrong);
  EXPECT_FALSE(ParseProtocol("loo").ok());
}

}  // namespace
}  // namespace profiled::recs
