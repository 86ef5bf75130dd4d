#include "recs/serving.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "recs/model_shelf.h"
#include "recs/test_util.h"

namespace profiled::recs {
namespace {

using testing::ClusteredData;
using testing::ClusteredDataOptions;
using testing::ClusterItem;
using testing::kBlockbusters;

std::string Key(int32_t item) { return "item-" + std::to_string(item); }

// ClusteredData as a TrainingSet: user u is id 1000 + u, item i is Key(i).
TrainingSet ClusteredSet(const ClusteredDataOptions& o) {
  Interactions data = ClusteredData(o);
  TrainingSet set;
  for (int32_t u = 0; u < data.num_users(); ++u) {
    for (int32_t i : data.items_of(u)) set.Add(1000 + static_cast<uint64_t>(u), Key(i));
  }
  return set;
}

std::shared_ptr<const ServingModel> Train(ModelKind kind, const TrainingSet& set) {
  ModelOptions options;
  options.kind = kind;
  options.lambda = 10;
  Result<std::shared_ptr<const ServingModel>> model = TrainServingModel(options, set, 123);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? *model : nullptr;
}

Served MustServe(const ServingModel& model, const ServeRequest& request) {
  Served out;
  Status s = Serve(model, request, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::set<std::string> distinct(out.items.begin(), out.items.end());
  EXPECT_EQ(distinct.size(), out.items.size()) << "repeated item";
  return out;
}

class ServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = ClusteredSet({});
    ease_ = Train(ModelKind::kEase, set_);
    ASSERT_NE(ease_, nullptr);
  }
  TrainingSet set_;
  std::shared_ptr<const ServingModel> ease_;
};

TEST(InControl, PutsTheStatedShareInControlWithinBinomialBounds) {
  constexpr int kIds = 100'000;
  for (double percentage : {10.0, 2.5, 50.0}) {
    int in = 0;
    for (uint64_t id = 1; id <= kIds; ++id) in += InControl(id, "r1", percentage) ? 1 : 0;
    const double p = percentage / 100;
    const double mean = kIds * p;
    const double sd = std::sqrt(kIds * p * (1 - p));
    EXPECT_NEAR(in, mean, 5 * sd) << percentage;
  }
}

TEST(InControl, ZeroAndHundredPercentAreExact) {
  for (uint64_t id = 0; id < 100'000; ++id) {
    ASSERT_FALSE(InControl(id, "r1", 0));
    ASSERT_TRUE(InControl(id, "r1", 100));
  }
}

TEST(InControl, DifferentControlKeysDrawIndependentGroups) {
  // At 10 % each, the two groups overlap in about 1 % of the users if independent.
  constexpr int kIds = 100'000;
  int both = 0;
  for (uint64_t id = 1; id <= kIds; ++id) {
    both += InControl(id, "r1", 10) && InControl(id, "r2", 10) ? 1 : 0;
  }
  EXPECT_NEAR(both, 1000, 5 * std::sqrt(kIds * 0.01 * 0.99));
}

TEST(InControl, IsAFixedFunctionOfIdAndKey) {
  // Pinned: the assignment must not change between builds (docs/RECS.md gives the hash).
  std::string bits;
  for (uint64_t id = 1; id <= 32; ++id) bits += InControl(id, "r1", 50) ? '1' : '0';
  EXPECT_EQ(bits, "10100100000111100010101100010111");  // also from a Python reimplementation
}

TEST(TrainServingModel, IndexesItemsMostPopularFirstAndCountsDistinctPairs) {
  TrainingSet set;
  set.Add(1, "b");
  set.Add(1, "b");  // a repeat counts once
  set.Add(1, "c");
  set.Add(2, "c");
  set.Add(2, "a");
  set.Add(3, "c");
  EXPECT_EQ(set.size(), 6U);
  std::shared_ptr<const ServingModel> model = Train(ModelKind::kPopular, set);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->items, (std::vector<std::string>{"c", "a", "b"}));  // 3 users, then a < b
  EXPECT_EQ(model->by_popularity, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(model->users, 3);
  EXPECT_EQ(model->interactions, 5);
  EXPECT_EQ(model->trained_at_ms, 123);
  EXPECT_EQ(model->Find("a"), 1);
  EXPECT_EQ(model->Find("zz"), -1);
  EXPECT_EQ(model->requested, ModelKind::kPopular);
  EXPECT_EQ(model->used, ModelKind::kPopular);
  EXPECT_TRUE(model->note.empty());
}

TEST(TrainServingModel, EaseAboveTheDenseLimitFallsBackToItemKnnAndSaysSo) {
  TrainingSet set = ClusteredSet({});
  ModelOptions options;
  options.kind = ModelKind::kEase;
  options.max_dense_items = 20;
  Result<std::shared_ptr<const ServingModel>> model = TrainServingModel(options, set, 0);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->requested, ModelKind::kEase);
  EXPECT_EQ((*model)->used, ModelKind::kItemKnn);
  EXPECT_EQ((*model)->model->kind(), ModelKind::kItemKnn);
  EXPECT_EQ((*model)->note, "ease needs 51 items > max_dense_items 20: serving itemknn");
}

TEST(TrainServingModel, EaseOverTheMemoryBudgetFallsBackToItemKnnAndSaysSo) {
  TrainingSet set = ClusteredSet({});
  ModelOptions options;
  options.kind = ModelKind::kEase;
  const std::shared_ptr<const ServingModel> fits = Train(ModelKind::kEase, set);
  const uint64_t need = EaseTrainingBytes(static_cast<int64_t>(fits->items.size()), fits->users);
  const auto users = static_cast<uint64_t>(fits->users);
  constexpr uint64_t kItems = 51;
  EXPECT_EQ(need, 8 * kItems * kItems + (users < kItems ? 8 * users * kItems : 0));
  Result<std::shared_ptr<const ServingModel>> exact = TrainServingModel(options, set, 0, need);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ((*exact)->used, ModelKind::kEase);  // exactly the budget fits
  EXPECT_GE((*exact)->memory_bytes, 4 * kItems * kItems);
  Result<std::shared_ptr<const ServingModel>> over = TrainServingModel(options, set, 0, need - 1);
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_EQ((*over)->requested, ModelKind::kEase);
  EXPECT_EQ((*over)->used, ModelKind::kItemKnn);
  EXPECT_EQ((*over)->model->kind(), ModelKind::kItemKnn);
  EXPECT_EQ((*over)->note,
            "ease over 51 items needs about 1 MiB to train, more than the 0 MiB "
            "left of recs.max_memory_mb: serving itemknn");
  // itemknn keeps at most 50 neighbours of each of 51 items: 8 bytes each, and the keys.
  EXPECT_GE((*over)->memory_bytes, 8 * kItems * (kItems - 1));
  EXPECT_LT((*over)->memory_bytes, 8 * kItems * (kItems - 1) + kItems * 100);
}

TEST(TrainServingModel, RefusesTheModelsOfEvalOnly) {
  TrainingSet set = ClusteredSet({});
  for (ModelKind kind : {ModelKind::kIals, ModelKind::kBlend}) {
    EXPECT_FALSE(Servable(kind));
    ModelOptions options = DefaultModelOptions(kind);
    Result<std::shared_ptr<const ServingModel>> model = TrainServingModel(options, set, 0);
    EXPECT_EQ(model.status().code(), ErrorCode::kInvalidArgument) << ModelName(kind);
  }
  for (ModelKind kind : {ModelKind::kPopular, ModelKind::kItemKnn, ModelKind::kEase}) {
    EXPECT_TRUE(Servable(kind)) << ModelName(kind);
  }
}

TEST(TrainServingModel, AnEmptySetGivesAModelThatServesNothing) {
  for (ModelKind kind : {ModelKind::kPopular, ModelKind::kItemKnn, ModelKind::kEase}) {
    std::shared_ptr<const ServingModel> model = Train(kind, TrainingSet());
    ASSERT_NE(model, nullptr);
    EXPECT_TRUE(MustServe(*model, {}).items.empty());
  }
}

TEST_F(ServingTest, RanksTheUsersUnseenClusterItemsFirst) {
  // A user of cluster 2 who saw its first 6 items: the other 6 of cluster 2 must come first
  // (blockbusters are the most popular items, so popularity alone would rank them first).
  ClusteredDataOptions o;
  std::vector<std::string> keys;
  keys.reserve(6);
  for (int32_t r = 0; r < 6; ++r) keys.push_back(Key(ClusterItem(o, 2, r)));
  std::vector<std::string_view> history(keys.begin(), keys.end());
  for (ModelKind kind : {ModelKind::kEase, ModelKind::kItemKnn}) {
    std::shared_ptr<const ServingModel> model = Train(kind, set_);
    ServeRequest request;
    request.history = history;
    request.limit = 6;
    Served served = MustServe(*model, request);
    EXPECT_FALSE(served.is_control);
    EXPECT_FALSE(served.random);
    std::set<std::string> expected;
    for (int32_t r = 6; r < 12; ++r) expected.insert(Key(ClusterItem(o, 2, r)));
    EXPECT_EQ(std::set<std::string>(served.items.begin(), served.items.end()), expected)
        << ModelName(kind);
  }
}

TEST_F(ServingTest, WithoutAKnownHistoryItemServesPopularityOrder) {
  std::vector<std::string_view> unknown_history = {"never-seen"};
  for (std::span<const std::string_view> history :
       {std::span<const std::string_view>(), std::span<const std::string_view>(unknown_history)}) {
    ServeRequest request;
    request.history = history;
    request.limit = 5;
    Served served = MustServe(*ease_, request);
    EXPECT_EQ(served.items,
              std::vector<std::string>(ease_->items.begin(), ease_->items.begin() + 5));
    for (int32_t b = 0; b < kBlockbusters; ++b) {
      EXPECT_NE(std::find(served.items.begin(), served.items.end(), Key(b)), served.items.end());
    }
  }
}

TEST_F(ServingTest, CandidatesAreTheTopNMostPopular) {
  ServeRequest request;
  request.candidates_top_n = 4;
  request.limit = 10;
  std::vector<std::string> excluded = {ease_->items[1]};
  request.exclude_items = excluded;
  Served served = MustServe(*ease_, request);
  EXPECT_EQ(served.items,
            (std::vector<std::string>{ease_->items[0], ease_->items[2], ease_->items[3]}));
  request.override = ServeRequest::Override::kRandom;
  served = MustServe(*ease_, request);
  EXPECT_EQ(std::set<std::string>(served.items.begin(), served.items.end()),
            (std::set<std::string>{ease_->items[0], ease_->items[2], ease_->items[3]}));
}

TEST_F(ServingTest, ControlUsersAreServedAtRandomAndTheRestByTheModel) {
  int control = 0;
  for (uint64_t id = 1; id <= 2000; ++id) {
    ServeRequest request;
    request.amplitude_id = id;
    request.rec_id = "r1";
    request.control_percentage = 30;
    Served served = MustServe(*ease_, request);
    EXPECT_EQ(served.is_control, InControl(id, "r1", 30));
    EXPECT_EQ(served.random, served.is_control);
    control += served.is_control ? 1 : 0;
  }
  EXPECT_GT(control, 450);
  EXPECT_LT(control, 750);
}

TEST_F(ServingTest, TheControlGroupOfAnotherRecIsUsedWhenGiven) {
  for (uint64_t id = 1; id <= 500; ++id) {
    ServeRequest request;
    request.amplitude_id = id;
    request.rec_id = "r2";
    request.control_key = "r1";
    request.control_percentage = 50;
    EXPECT_EQ(MustServe(*ease_, request).is_control, InControl(id, "r1", 50));
  }
}

TEST_F(ServingTest, OverridesDecideForOneRead) {
  ServeRequest request;
  request.amplitude_id = 42;
  request.rec_id = "r1";
  request.control_percentage = 100;
  request.override = ServeRequest::Override::kModel;
  Served model = MustServe(*ease_, request);
  EXPECT_FALSE(model.is_control);
  EXPECT_FALSE(model.random);
  EXPECT_EQ(model.items[0], ease_->items[0]);  // popularity order, no history

  request.control_percentage = 0;
  request.override = ServeRequest::Override::kRandom;
  Served random = MustServe(*ease_, request);
  EXPECT_TRUE(random.is_control);
  EXPECT_TRUE(random.random);
  EXPECT_EQ(random.items.size(), 10U);
  EXPECT_NE(random.items, model.items);
}

TEST_F(ServingTest, AnswersAreStableAcrossCalls) {
  ClusteredDataOptions o;
  std::vector<std::string> keys = {Key(ClusterItem(o, 1, 0)), Key(ClusterItem(o, 1, 3))};
  std::vector<std::string_view> history(keys.begin(), keys.end());
  for (auto override : {ServeRequest::Override::kModel, ServeRequest::Override::kRandom}) {
    ServeRequest request;
    request.amplitude_id = 7;
    request.rec_id = "r1";
    request.history = history;
    request.override = override;
    request.day = 19'000;
    Served first = MustServe(*ease_, request);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(MustServe(*ease_, request).items, first.items);
  }
}

TEST_F(ServingTest, RandomPicksAreStableWithinADayAndChangeAcrossDaysAndUsers) {
  ServeRequest request;
  request.rec_id = "r1";
  request.override = ServeRequest::Override::kRandom;
  int changed_day = 0;
  int changed_user = 0;
  for (uint64_t id = 1; id <= 50; ++id) {
    request.amplitude_id = id;
    request.day = 19'000;
    Served today = MustServe(*ease_, request);
    EXPECT_EQ(MustServe(*ease_, request).items, today.items);
    request.day = 19'001;
    changed_day += MustServe(*ease_, request).items != today.items ? 1 : 0;
    request.amplitude_id = id + 1000;
    request.day = 19'000;
    changed_user += MustServe(*ease_, request).items != today.items ? 1 : 0;
  }
  EXPECT_EQ(changed_day, 50);  // 10 of 51 items: two equal draws are vanishingly unlikely
  EXPECT_EQ(changed_user, 50);
}

TEST(Serve, RandomPicksAreAFixedFunctionOfIdRecAndDay) {
  // Pinned, and computed again by a Python reimplementation of docs/RECS.md's steps 1 and 4.
  std::shared_ptr<const ServingModel> empty = Train(ModelKind::kPopular, TrainingSet());
  std::vector<std::string> list = {"a", "b", "c", "d", "e", "f", "g", "h"};
  ServeRequest request;
  request.rec_id = "r1";
  request.override = ServeRequest::Override::kRandom;
  request.candidate_items = list;
  request.limit = 5;
  auto pick = [&](uint64_t id, int64_t day) {
    request.amplitude_id = id;
    request.day = day;
    return MustServe(*empty, request).items;
  };
  EXPECT_EQ(pick(1, 20'000), (std::vector<std::string>{"c", "d", "b", "e", "h"}));
  EXPECT_EQ(pick(2, 20'000), (std::vector<std::string>{"a", "e", "b", "d", "f"}));
  EXPECT_EQ(pick(1, -3), (std::vector<std::string>{"c", "e", "f", "d", "b"}));
}

TEST_F(ServingTest, ExcludedItemsNeverAppear) {
  std::vector<std::string> excluded = {ease_->items[0], ease_->items[5], Key(20), "not-an-item"};
  for (uint64_t id = 1; id <= 200; ++id) {
    ServeRequest request;
    request.amplitude_id = id;
    request.rec_id = "r1";
    request.control_percentage = 50;
    request.limit = 100;
    request.exclude_items = excluded;
    Served served = MustServe(*ease_, request);
    EXPECT_EQ(served.items.size(), ease_->items.size() - 3);
    for (const std::string& e : excluded) {
      EXPECT_EQ(std::find(served.items.begin(), served.items.end(), e), served.items.end()) << e;
    }
  }
}

TEST_F(ServingTest, SeenItemsAreDroppedOnlyWithExcludeSeen) {
  std::vector<std::string_view> history = {ease_->items[0], ease_->items[1]};
  std::shared_ptr<const ServingModel> popular = Train(ModelKind::kPopular, set_);
  ServeRequest request;
  request.history = history;
  request.limit = 100;
  for (auto override : {ServeRequest::Override::kModel, ServeRequest::Override::kRandom}) {
    request.override = override;
    request.exclude_seen = true;
    Served served = MustServe(*popular, request);
    EXPECT_EQ(served.items.size(), popular->items.size() - 2);
    for (std::string_view seen : history) {
      EXPECT_EQ(std::find(served.items.begin(), served.items.end(), seen), served.items.end());
    }
    request.exclude_seen = false;
    served = MustServe(*popular, request);
    EXPECT_EQ(served.items.size(), popular->items.size());
  }
  request.override = ServeRequest::Override::kModel;
  EXPECT_EQ(MustServe(*popular, request).items[0], ease_->items[0]);
}

TEST_F(ServingTest, AFixedListRanksKnownItemsFirstThenUnknownOnesInListOrder) {
  ClusteredDataOptions o;
  std::vector<std::string> keys = {Key(ClusterItem(o, 0, 0)), Key(ClusterItem(o, 0, 1))};
  std::vector<std::string_view> history(keys.begin(), keys.end());
  std::vector<std::string> list = {"new-b", Key(0),    Key(ClusterItem(o, 0, 5)), "new-a",
                                   Key(0),  "new-b",   Key(ClusterItem(o, 3, 2)), keys[0],
                                   "new-c", "seen-new"};
  std::vector<std::string_view> history_with_unknown = {keys[0], keys[1], "seen-new"};
  std::vector<std::string> excluded = {"new-c"};
  ServeRequest request;
  request.history = history_with_unknown;
  request.candidate_items = list;
  request.exclude_items = excluded;
  request.limit = 100;
  Served served = MustServe(*ease_, request);
  // Known: the unseen in-cluster item, then the blockbuster, then the other cluster's item.
  EXPECT_EQ(served.items, (std::vector<std::string>{Key(ClusterItem(o, 0, 5)), Key(0),
                                                    Key(ClusterItem(o, 3, 2)), "new-b", "new-a"}));

  request.override = ServeRequest::Override::kRandom;
  served = MustServe(*ease_, request);
  EXPECT_EQ(std::set<std::string>(served.items.begin(), served.items.end()),
            (std::set<std::string>{Key(ClusterItem(o, 0, 5)), Key(0), Key(ClusterItem(o, 3, 2)),
                                   "new-b", "new-a"}));
}

TEST_F(ServingTest, AFixedListOfUnknownKeysIsServedInListOrder) {
  std::vector<std::string> list = {"x", "y", "z"};
  ServeRequest request;
  request.candidate_items = list;
  EXPECT_EQ(MustServe(*ease_, request).items, list);
}

TEST_F(ServingTest, ServesAtMostTheLimitAndNeverMoreThanTheCap) {
  ServeRequest request;
  for (auto override : {ServeRequest::Override::kModel, ServeRequest::Override::kRandom}) {
    request.override = override;
    request.limit = 3;
    EXPECT_EQ(MustServe(*ease_, request).items.size(), 3U);
    request.limit = 0;
    EXPECT_EQ(MustServe(*ease_, request).items.size(), 0U);
  }
  TrainingSet big;
  for (uint64_t u = 0; u < 20; ++u) {
    for (int32_t i = 0; i < 300; ++i) big.Add(u, Key(i));
  }
  std::shared_ptr<const ServingModel> popular = Train(ModelKind::kPopular, big);
  request.limit = 1000;
  request.override = ServeRequest::Override::kModel;
  EXPECT_EQ(MustServe(*popular, request).items.size(), kMaxServedItems);
}

TEST_F(ServingTest, RefusesAControlPercentageOutOfRange) {
  Served out;
  for (double p : {-1.0, 100.5, std::nan("")}) {
    ServeRequest request;
    request.control_percentage = p;
    EXPECT_EQ(Serve(*ease_, request, &out).code(), ErrorCode::kInvalidArgument) << p;
  }
}

TEST_F(ServingTest, ServesConcurrentlyFromOneModel) {
  ServeRequest request;
  request.amplitude_id = 3;
  request.rec_id = "r1";
  request.control_percentage = 50;
  const Served expected = MustServe(*ease_, request);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 2000; ++k) {
        Served out;
        if (!Serve(*ease_, request, &out).ok() || out.items != expected.items) ++mismatches[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(ModelShelf, GivesAModelOnlyForTheTrainingKeyItWasSetWith) {
  ModelShelf shelf;
  auto a = std::make_shared<ServingModel>();
  shelf.Set("p", "r1", a, "ease|view|sku");
  EXPECT_EQ(shelf.Get("p", "r1", "ease|view|sku"), a);
  EXPECT_EQ(shelf.Get("p", "r1", "ease|view|color"), nullptr);
  EXPECT_EQ(shelf.Get("p", "r1"), a);
  auto b = std::make_shared<ServingModel>();
  shelf.Set("p", "r1", b, "ease|view|color");
  EXPECT_EQ(shelf.Get("p", "r1", "ease|view|sku"), nullptr);
  EXPECT_EQ(shelf.Get("p", "r1", "ease|view|color"), b);
}

TEST(ModelShelf, SetsGetsReplacesAndErasesByProjectAndRec) {
  ModelShelf shelf;
  EXPECT_EQ(shelf.Get("p", "r1"), nullptr);
  auto a = std::make_shared<ServingModel>();
  auto b = std::make_shared<ServingModel>();
  shelf.Set("p", "r1", a);
  EXPECT_EQ(shelf.Get("p", "r1"), a);
  EXPECT_EQ(shelf.Get("p", "r2"), nullptr);
  EXPECT_EQ(shelf.Get("q", "r1"), nullptr);
  std::shared_ptr<const ServingModel> held = shelf.Get("p", "r1");
  shelf.Set("p", "r1", b);
  EXPECT_EQ(shelf.Get("p", "r1"), b);
  EXPECT_EQ(held, a);  // a reader keeps the model it got
  EXPECT_TRUE(shelf.Erase("p", "r1"));
  EXPECT_FALSE(shelf.Erase("p", "r1"));
  EXPECT_EQ(shelf.Get("p", "r1"), nullptr);
  shelf.Set("p", "r1", a);
  shelf.Set("p", "r1", nullptr);
  EXPECT_EQ(shelf.Get("p", "r1"), nullptr);
}

TEST(ModelShelf, SumsTheMemoryOfItsModels) {
  ModelShelf shelf;
  EXPECT_EQ(shelf.MemoryBytes(), 0u);
  auto a = std::make_shared<ServingModel>();
  a->memory_bytes = 1000;
  auto b = std::make_shared<ServingModel>();
  b->memory_bytes = 24;
  shelf.Set("p", "r1", a);
  shelf.Set("q", "r1", b);
  EXPECT_EQ(shelf.MemoryBytes(), 1024u);
  shelf.Set("p", "r1", b);  // replaced: the old one no longer counts
  EXPECT_EQ(shelf.MemoryBytes(), 48u);
  shelf.Erase("q", "r1");
  EXPECT_EQ(shelf.MemoryBytes(), 24u);
}

TEST(ModelShelf, IsSafeToUseFromManyThreads) {
  ModelShelf shelf;
  auto model = std::make_shared<ServingModel>();
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&shelf, &model, t] {
      std::string rec = "r" + std::to_string(t % 2);
      for (int k = 0; k < 5000; ++k) {
        if (k % 3 == 0) shelf.Set("p", rec, model);
        if (k % 7 == 0) (void)shelf.Erase("p", rec);
        std::shared_ptr<const ServingModel> got = shelf.Get("p", rec);
        if (got != nullptr && got != model) ADD_FAILURE() << "wrong model";
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace profiled::recs
