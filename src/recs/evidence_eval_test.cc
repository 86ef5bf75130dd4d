#include "recs/evidence_eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "recs/blend.h"
#include "recs/ials.h"
#include "recs/test_util.h"

namespace profiled::recs {
namespace {

// ClusteredData as a ratings file: each positive rated 4, 4.5 or 5; each user also rates four
// random items below 4 (1 to 3.5). External ids differ from the indices (user u is 100 + u,
// item i is 7·i + 3), and one item (id 2) is only ever rated low, so it is in no item space.
std::vector<Rating> ClusteredRatings(int32_t users = 160) {
  testing::ClusteredDataOptions o;
  o.users = users;
  const Interactions positives = testing::ClusteredData(o);
  std::mt19937_64 engine(11);
  std::vector<Rating> ratings;
  for (int32_t u = 0; u < positives.num_users(); ++u) {
    std::set<int32_t> rated;
    for (int32_t i : positives.items_of(u)) {
      ratings.push_back({100 + u, 7 * i + 3, 4 + 0.5 * static_cast<double>(engine() % 3), 0});
      rated.insert(i);
    }
    for (int k = 0; k < 4; ++k) {
      auto i = static_cast<int32_t>(engine() % static_cast<uint64_t>(positives.num_items()));
      if (!rated.insert(i).second) continue;
      ratings.push_back({100 + u, 7 * i + 3, 1 + 0.5 * static_cast<double>(engine() % 6), 0});
    }
    if (u % 5 == 0) ratings.push_back({100 + u, 2, 2.5, 0});
  }
  return ratings;
}

RatedSplit Rated(const std::vector<Rating>& ratings, Protocol protocol, uint64_t seed = 3) {
  Positives positives = PositivesOf(ratings, 4);
  return AttachRatings(MakeSplit(positives.data, protocol, seed), ratings, positives, 4);
}

EvidenceOptions Options(const std::vector<std::pair<std::string, std::string>>& params) {
  Result<EvidenceOptions> o = EvidenceOptionsFrom(params);
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return o.ok() ? *o : EvidenceOptions{};
}

TEST(AttachRatings, GivesEachRowEveryRatingInTheItemSpace) {
  const std::vector<Rating> ratings = ClusteredRatings();
  for (Protocol protocol : {Protocol::kHoldout, Protocol::kStrong}) {
    Positives positives = PositivesOf(ratings, 4);
    RatedSplit s = Rated(ratings, protocol);
    ASSERT_EQ(s.train_rated.size(), static_cast<size_t>(s.split.train.num_users()));
    ASSERT_EQ(s.user_rated.size(), s.split.users.size());
    // The expected lists, straight from the file.
    auto expected = [&](int32_t user) {
      std::vector<std::pair<int32_t, float>> out;
      for (const Rating& r : ratings) {
        if (r.user != positives.user_ids[static_cast<size_t>(user)]) continue;
        for (size_t k = 0; k < s.split.item_of.size(); ++k) {
          if (positives.item_ids[static_cast<size_t>(s.split.item_of[k])] == r.item) {
            out.emplace_back(static_cast<int32_t>(k), static_cast<float>(r.rating));
          }
        }
      }
      std::sort(out.begin(), out.end());
      return out;
    };
    auto pairs = [](const std::vector<RatedItem>& rated) {
      std::vector<std::pair<int32_t, float>> out;
      out.reserve(rated.size());
      for (const RatedItem& r : rated) out.emplace_back(r.item, r.rating);
      return out;
    };
    size_t low = 0;
    for (int32_t r = 0; r < s.split.train.num_users(); ++r) {
      const auto& rated = s.train_rated[static_cast<size_t>(r)];
      EXPECT_EQ(pairs(rated), expected(s.split.train_user[static_cast<size_t>(r)]));
      for (const RatedItem& item : rated) low += item.rating < 4 ? 1 : 0;
      // Every training positive of the row is among its ratings, rated 4 or more.
      for (int32_t i : s.split.train.items_of(r)) {
        auto it = std::find_if(rated.begin(), rated.end(),
                               [i](const RatedItem& x) { return x.item == i; });
        ASSERT_NE(it, rated.end());
        EXPECT_GE(it->rating, 4);
      }
    }
    EXPECT_GT(low, 100U);  // sub-threshold ratings are there
    for (size_t e = 0; e < s.split.users.size(); ++e) {
      EXPECT_EQ(pairs(s.user_rated[e]), expected(s.split.users[e].user));
    }
  }
}

TEST(EvidenceOptionsFrom, ReadsItsParametersAndRefusesOthers) {
  EvidenceOptions o = Options({{"lambda", "200"},
                               {"emphasis", "0.5"},
                               {"rating_weight", "0.25"},
                               {"high_weight", "0.5"},
                               {"low_weight", "0.125"},
                               {"popularity_exponent", "0.2"},
                               {"ials_weight", "0.35"},
                               {"ials_lambda", "0.03"},
                               {"factors", "16"},
                               {"ials_confidence", "0.75"}});
  EXPECT_EQ(o.ease.lambda, 200);
  EXPECT_EQ(o.ease.emphasis, 0.5);
  EXPECT_EQ(o.rating_weight, 0.25);
  EXPECT_EQ(o.high_weight, 0.5);
  EXPECT_EQ(o.low_weight, 0.125);
  EXPECT_EQ(o.ease.popularity_exponent, 0.2);
  EXPECT_EQ(o.ials_weight, 0.35);
  EXPECT_EQ(o.ials.lambda, 0.03);
  EXPECT_EQ(o.ials.factors, 16);
  EXPECT_EQ(o.ials_confidence, 0.75);
  EvidenceOptions d = Options({});  // plain EASE λ = 300, iALS unused (64 factors if used)
  EXPECT_EQ(d.ease.lambda, 300);
  EXPECT_EQ(d.ease.popularity_exponent, 0);
  EXPECT_EQ(d.ials_weight, 0);
  EXPECT_EQ(d.ials.factors, 64);
  EXPECT_EQ(d.rating_weight + d.high_weight + d.low_weight + d.ease.emphasis, 0);
  for (const auto& bad : std::vector<std::pair<std::string, std::string>>{{"lambda", "0"},
                                                                          {"lambda", "x"},
                                                                          {"emphasis", "-1"},
                                                                          {"low_weight", "101"},
                                                                          {"ials_weight", "1.5"},
                                                                          {"ease_lambda", "300"},
                                                                          {"max_items", "10"},
                                                                          {"neighbours", "5"},
                                                                          {"", "1"}}) {
    Result<EvidenceOptions> r = EvidenceOptionsFrom({bad});
    EXPECT_FALSE(r.ok()) << bad.first << "=" << bad.second;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(bad.first.empty() ? "no parameter \"\"" : bad.first),
                std::string::npos)
          << r.status().message();
    }
  }
}

TEST(EvaluateEvidence, WithItsDefaultsIsPlainEase) {
  const std::vector<Rating> ratings = ClusteredRatings();
  const std::vector<size_t> ks = {10, 20};
  for (Protocol protocol : {Protocol::kHoldout, Protocol::kStrong}) {
    RatedSplit s = Rated(ratings, protocol);
    Result<EvalReport> evidence = EvaluateEvidence(s, Options({}), ks);
    ModelOptions ease;
    ease.kind = ModelKind::kEase;
    Result<EvalReport> plain = Evaluate(s.split, ease, ks);
    ASSERT_TRUE(evidence.ok()) << evidence.status().ToString();
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(evidence->users, plain->users);
    for (size_t c = 0; c < ks.size(); ++c) {
      EXPECT_NEAR(evidence->cutoffs[c].ndcg, plain->cutoffs[c].ndcg, 1e-9);
      EXPECT_NEAR(evidence->cutoffs[c].recall, plain->cutoffs[c].recall, 1e-9);
    }
  }
}

// The whole ranking of every evaluated user, as EvaluateEvidence makes it and as the documented
// weights give it through the models directly.
TEST(EvaluateEvidence, WeighsEachRatingAsDocumented) {
  const std::vector<Rating> ratings = ClusteredRatings(60);
  for (Protocol protocol : {Protocol::kHoldout, Protocol::kStrong}) {
    RatedSplit s = Rated(ratings, protocol);
    const int32_t m = s.split.train.num_items();
    const std::vector<size_t> ks = {static_cast<size_t>(m)};
    EvidenceOptions o = Options({{"rating_weight", "0.5"},
                                 {"high_weight", "0.25"},
                                 {"low_weight", "0.75"},
                                 {"popularity_exponent", "0.3"},
                                 {"ials_weight", "0.4"},
                                 {"factors", "4"},
                                 {"ials_confidence", "0.6"}});
    Result<EvalReport> report = EvaluateEvidence(s, o, ks);
    ASSERT_TRUE(report.ok()) << report.status().ToString();

    // The weights by hand: positives kept 1 + r(v − 4), others below 4: 0.25 from 3, 0.75 below.
    auto weigh = [&](const std::vector<RatedItem>& rated, std::span<const int32_t> kept,
                     std::vector<WeightedItem>* evidence, std::vector<WeightedItem>* confident) {
      for (const RatedItem& r : rated) {
        bool is_kept = std::find(kept.begin(), kept.end(), r.item) != kept.end();
        if (is_kept) {
          evidence->push_back({r.item, static_cast<float>(1 + 0.5 * (r.rating - 4))});
          confident->push_back({r.item, static_cast<float>(1 + 0.6 * (r.rating - 4))});
        } else if (r.rating < 4) {
          evidence->push_back({r.item, r.rating >= 3 ? 0.25F : 0.75F});
        }
      }
    };
    std::vector<std::vector<WeightedItem>> inputs;
    std::vector<std::vector<float>> confidences;
    for (int32_t r = 0; r < s.split.train.num_users(); ++r) {
      std::vector<WeightedItem> evidence;
      std::vector<WeightedItem> confident;
      weigh(s.train_rated[static_cast<size_t>(r)], s.split.train.items_of(r), &evidence,
            &confident);
      inputs.push_back(evidence);
      confidences.emplace_back();
      for (const WeightedItem& c : confident) confidences.back().push_back(c.weight);
    }
    EvidenceEaseOptions eo;
    eo.popularity_exponent = 0.3;
    auto ease = EvidenceEaseModel::Train(s.split.train, inputs, eo);
    ASSERT_TRUE(ease.ok()) << ease.status().ToString();
    auto ials = IalsModel::Train(s.split.train, o.ials, confidences);
    ASSERT_TRUE(ials.ok()) << ials.status().ToString();
    EvalReport expected = EvaluateScores(
        s.split,
        [&](size_t e, std::span<float> scores) {
          std::vector<WeightedItem> evidence;
          std::vector<WeightedItem> confident;
          weigh(s.user_rated[e], s.split.users[e].history, &evidence, &confident);
          std::vector<uint8_t> seen(static_cast<size_t>(m), 0);
          for (int32_t i : s.split.users[e].history) seen[static_cast<size_t>(i)] = 1;
          std::vector<float> other(static_cast<size_t>(m));
          (*ease)->Score(evidence, scores);
          (*ials)->ScoreWeighted(confident, other);
          Standardise(scores, seen);
          Standardise(other, seen);
          for (size_t j = 0; j < scores.size(); ++j) scores[j] = 0.6F * scores[j] + 0.4F * other[j];
        },
        ks);
    EXPECT_EQ(report->rankings, expected.rankings) << ProtocolName(protocol);
    EXPECT_NEAR(report->cutoffs[0].ndcg, expected.cutoffs[0].ndcg, 1e-12);
  }
}

TEST(EvidenceFold, HoldoutHoldsOutTheShareOfEveryRow) {
  RatedSplit s = Rated(ClusteredRatings(), Protocol::kHoldout);
  RatedSplit fold = EvidenceFold(s, 3, 0, 0.1);
  const Interactions& train = s.split.train;
  ASSERT_EQ(fold.split.train.num_users(), train.num_users());
  EXPECT_EQ(fold.split.train.num_items(), train.num_items());
  size_t evaluated = 0;
  for (int32_t r = 0; r < train.num_users(); ++r) {
    const size_t n = train.items_of(r).size();
    EXPECT_EQ(fold.split.train.items_of(r).size(), n - n / 10) << r;
    EXPECT_EQ(fold.train_rated[static_cast<size_t>(r)], s.train_rated[static_cast<size_t>(r)]);
    evaluated += n >= 10 ? 1 : 0;
  }
  ASSERT_EQ(fold.split.users.size(), evaluated);
  for (size_t e = 0; e < fold.split.users.size(); ++e) {
    const EvalUser& user = fold.split.users[e];
    std::span<const int32_t> all = train.items_of(user.user);
    EXPECT_EQ(user.held_out.size(), all.size() / 10);
    std::vector<int32_t> both = user.history;
    both.insert(both.end(), user.held_out.begin(), user.held_out.end());
    std::sort(both.begin(), both.end());
    EXPECT_TRUE(std::equal(both.begin(), both.end(), all.begin(), all.end()));
    std::span<const int32_t> row = fold.split.train.items_of(user.user);
    EXPECT_TRUE(std::equal(row.begin(), row.end(), user.history.begin(), user.history.end()));
    EXPECT_EQ(fold.user_rated[e], s.train_rated[static_cast<size_t>(user.user)]);
  }
  // Other folds draw otherwise.
  RatedSplit other = EvidenceFold(s, 3, 1, 0.1);
  EXPECT_NE(other.split.users[0].held_out, fold.split.users[0].held_out);
}

TEST(EvidenceFold, StrongHoldsOutTheShareOfTheRows) {
  RatedSplit s = Rated(ClusteredRatings(), Protocol::kStrong);
  RatedSplit fold = EvidenceFold(s, 3, 0, 0.1);
  const Interactions& train = s.split.train;
  size_t eligible = 0;
  for (int32_t r = 0; r < train.num_users(); ++r) eligible += train.items_of(r).size() >= 5;
  ASSERT_EQ(fold.split.users.size(), eligible / 10);
  EXPECT_EQ(fold.split.train.num_users(), train.num_users() - static_cast<int32_t>(eligible / 10));
  std::set<int32_t> held_rows;
  for (const EvalUser& user : fold.split.users) {
    held_rows.insert(user.user);
    EXPECT_EQ(user.held_out.size(), train.items_of(user.user).size() / 5);
  }
  for (size_t e = 0; e < fold.split.users.size(); ++e) {
    EXPECT_EQ(fold.user_rated[e], s.train_rated[static_cast<size_t>(fold.split.users[e].user)]);
  }
  for (int32_t r = 0; r < fold.split.train.num_users(); ++r) {
    const int32_t parent_row = fold.split.train_user[static_cast<size_t>(r)];
    EXPECT_EQ(held_rows.count(parent_row), 0U);
    EXPECT_EQ(fold.train_rated[static_cast<size_t>(r)],
              s.train_rated[static_cast<size_t>(parent_row)]);
    std::span<const int32_t> a = fold.split.train.items_of(r);
    std::span<const int32_t> b = train.items_of(parent_row);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }
}

TEST(SelectEvidence, NeverSeesTheTestItems) {
  const std::vector<Rating> ratings = ClusteredRatings();
  Result<std::vector<EvidenceCandidate>> grid =
      ExpandEvidenceGrid({{"rating_weight", {"0.5"}},
                          {"low_weight", {"0", "0.5"}},
                          {"popularity_exponent", {"0", "0.3"}}});
  ASSERT_TRUE(grid.ok());
  ASSERT_EQ(grid->size(), 4U);
  for (Protocol protocol : {Protocol::kHoldout, Protocol::kStrong}) {
    RatedSplit s = Rated(ratings, protocol);
    Result<Selection> a = SelectEvidence(s, 3, *grid, 2, 0.2);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_GT(a->validation_users, 0U);
    // Without the test items' ratings (under holdout they are the training rows' too), with
    // other test items and without the test users' ratings: the same selection.
    if (protocol == Protocol::kHoldout) {
      for (const EvalUser& user : s.split.users) {
        auto& rated = s.train_rated[static_cast<size_t>(user.user)];
        std::erase_if(rated, [&user](const RatedItem& r) {
          return std::binary_search(user.held_out.begin(), user.held_out.end(), r.item);
        });
      }
    }
    for (EvalUser& user : s.split.users) user.held_out = {0};
    for (auto& rated : s.user_rated) rated.clear();
    Result<Selection> b = SelectEvidence(s, 3, *grid, 2, 0.2);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->validation_ndcg, b->validation_ndcg);
    EXPECT_EQ(a->chosen, b->chosen);
    // The candidates differ, and the winner is the best.
    EXPECT_NE(a->validation_ndcg[0], a->validation_ndcg[1]);
    EXPECT_EQ(*std::max_element(a->validation_ndcg.begin(), a->validation_ndcg.end()),
              a->validation_ndcg[a->chosen]);
  }
  RatedSplit s = Rated(ratings, Protocol::kHoldout);
  EXPECT_FALSE(SelectEvidence(s, 3, {}, 2, 0.1).ok());
  EXPECT_FALSE(SelectEvidence(s, 3, *grid, 0, 0.1).ok());
  EXPECT_FALSE(SelectEvidence(s, 3, *grid, 1, 0).ok());
  EXPECT_FALSE(SelectEvidence(s, 3, *grid, 1, 0.6).ok());
}

// A fold's score of a candidate is what EvaluateEvidence measures on that fold.
TEST(SelectEvidence, ScoresACandidateAsEvaluateEvidenceDoesOnEachFold) {
  RatedSplit s = Rated(ClusteredRatings(), Protocol::kHoldout);
  Result<std::vector<EvidenceCandidate>> grid = ExpandEvidenceGrid({{"high_weight", {"0.5"}},
                                                                    {"low_weight", {"0.25"}},
                                                                    {"ials_weight", {"0", "0.5"}},
                                                                    {"factors", {"8"}}});
  ASSERT_TRUE(grid.ok());
  Result<Selection> selection = SelectEvidence(s, 5, *grid, 2, 0.1);
  ASSERT_TRUE(selection.ok());
  const std::vector<size_t> ks = {10};
  for (size_t c = 0; c < grid->size(); ++c) {
    double mean = 0;
    for (int32_t f = 0; f < 2; ++f) {
      Result<EvalReport> r = EvaluateEvidence(EvidenceFold(s, 5, f, 0.1), (*grid)[c].options, ks);
      ASSERT_TRUE(r.ok());
      mean += r->cutoffs[0].ndcg / 2;
    }
    EXPECT_NEAR(selection->validation_ndcg[c], mean, 1e-12) << c;
  }
}

TEST(SelectEvidence, BreaksATieForTheEarlierCandidate) {
  RatedSplit s = Rated(ClusteredRatings(), Protocol::kHoldout);
  Result<std::vector<EvidenceCandidate>> grid =
      ExpandEvidenceGrid({{"low_weight", {"0.5", "0.5"}}});
  ASSERT_TRUE(grid.ok());
  Result<Selection> selection = SelectEvidence(s, 3, *grid, 1, 0.1);
  ASSERT_TRUE(selection.ok());
  EXPECT_EQ(selection->validation_ndcg[0], selection->validation_ndcg[1]);
  EXPECT_EQ(selection->chosen, 0U);
}

// A pair rated twice is a positive when either rating is (PositivesOf); its evidence must use
// that rating, not a later low one.
TEST(AttachRatings, KeepsThePairsHighestRating) {
  std::vector<Rating> ratings = ClusteredRatings(20);
  const Rating first = ratings.front();  // a positive (ClusteredRatings lists them first)
  ASSERT_GE(first.rating, 4);
  ratings.push_back({first.user, first.item, 1.0, 0});
  RatedSplit s = Rated(ratings, Protocol::kHoldout);
  Positives positives = PositivesOf(ratings, 4);
  ASSERT_EQ(positives.user_ids[0], first.user);
  const auto item = static_cast<int32_t>(
      std::lower_bound(positives.item_ids.begin(), positives.item_ids.end(), first.item) -
      positives.item_ids.begin());
  const std::vector<RatedItem>& rated = s.train_rated[0];
  ASSERT_EQ(std::count_if(rated.begin(), rated.end(),
                          [item](const RatedItem& r) { return r.item == item; }),
            1);
  EXPECT_EQ(std::find_if(rated.begin(), rated.end(),
                         [item](const RatedItem& r) { return r.item == item; })
                ->rating,
            static_cast<float>(first.rating));
}

}  // namespace
}  // namespace profiled::recs
