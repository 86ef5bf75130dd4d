#include "ingest/rec_trainer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <thread>

#include "ingest/test_util.h"
#include "store/fault_store.h"
#include "store/keys.h"

namespace profiled::ingest {
namespace {

compute::Recommendation Rec(std::string id = "r1") {
  compute::Recommendation r;
  r.id = std::move(id);
  r.title = "For you";
  r.model = "ease";
  r.params = {{"lambda", "10"}};
  r.item_event = "view";
  r.item_property = "sku";
  r.history_window_days = 30;
  r.retrain_every_minutes = 0;
  r.history = compute::HistorySpecOf(r);
  return r;
}

constexpr int64_t kDay = 86'400'000;

// A tracked event of `type` with event property sku, logged as the writer logs it.
Event Sku(std::string user_id, std::string type, const std::string& sku,
          int64_t time_ms = kTestNow) {
  Event e = Track(std::move(user_id), "", std::move(type));
  e.time_ms = time_ms;
  e.event_properties["sku"] = sku;
  return WithLoggedJson(std::move(e));
}

Event View(std::string user_id, const std::string& sku, int64_t time_ms = kTestNow) {
  return Sku(std::move(user_id), "view", sku, time_ms);
}

// How many users each item has: in a popular model, its score.
using UsersPerItem = std::map<std::string, int>;

class RecTrainerTest : public IngestFixture {
 protected:
  void SetUp() override {
    with_definitions_ = true;
    Open();
  }
  void TearDown() override {
    if (trainer_) trainer_->Stop();
    trainer_.reset();
    Close();
  }

  void StartTrainer() {
    trainer_ = std::make_unique<RecTrainer>(*store_, *catalogs_, shelf_, clock_,
                                            std::vector<std::string>{"p"});
    trainer_->Start();
  }

  // Waits (polling, bounded) until the model of `id` on the shelf satisfies `ok`.
  std::shared_ptr<const recs::ServingModel> WaitModel(
      const std::string& id, const std::function<bool(const recs::ServingModel&)>& ok) {
    for (int i = 0; i < 3000; ++i) {
      auto m = shelf_.Get("p", id);
      if (m != nullptr && ok(*m)) return m;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return nullptr;
  }

  // Puts `rec` and waits (bounded) until it is served (its history backfilled); returns the
  // served definition, as the trainer gets it from the catalog.
  compute::Recommendation PutServed(const compute::Recommendation& rec) {
    EXPECT_TRUE(PutDefinition(rec).ok());
    for (int i = 0; i < 3000; ++i) {
      for (const compute::ServedRecommendation& served : catalogs_->Get("p")->recommendations()) {
        if (served.definition.id == rec.id) return served.definition;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ADD_FAILURE() << "recommendation " << rec.id << " was never served";
    return rec;
  }

  // One training of `rec` at the clock, on this thread. REQUIRES: rec.model is "popular".
  UsersPerItem Trained(const compute::Recommendation& rec) {
    RecTrainer trainer(*store_, *catalogs_, shelf_, clock_, {"p"});
    auto model = trainer.Train("p", rec, nullptr);
    EXPECT_TRUE(model.ok()) << model.status().ToString();
    if (!model.ok()) return {};
    const recs::ServingModel& m = **model;
    std::vector<float> scores(m.items.size());
    m.model->Score({}, scores);
    UsersPerItem out;
    for (size_t i = 0; i < m.items.size(); ++i) out[m.items[i]] = static_cast<int>(scores[i]);
    return out;
  }

  // The items of the histories of `users` that the writer keeps for the served recommendation
  // `id`, read at the clock as a server reads them.
  UsersPerItem Histories(const std::string& id, const std::vector<std::string>& users) {
    auto catalog = catalogs_->Get("p");
    const size_t rec = catalog->FindRecommendation(id);
    EXPECT_NE(rec, compute::ProjectCatalog::kUnresolved);
    if (rec == compute::ProjectCatalog::kUnresolved) return {};
    const size_t spec = catalog->RecommendationSpecIndex(rec);
    EXPECT_NE(spec, compute::ProjectCatalog::kUnresolved);
    if (spec == compute::ProjectCatalog::kUnresolved) return {};
    UsersPerItem out;
    for (const std::string& user : users) {
      std::string record = UserRecords(Read(user).amplitude_id)['a'];
      compute::AggregatesView aggregates;
      EXPECT_TRUE(aggregates.Parse(record).ok());
      std::vector<std::string_view> items;
      EXPECT_TRUE(compute::ItemsOf(catalog->specs()[spec].spec,
                                   aggregates.Find(catalog->specs()[spec].id), clock_.NowMs(),
                                   &items)
                      .ok());
      for (std::string_view item : items) ++out[std::string(item)];
    }
    return out;
  }

  recs::ModelShelf shelf_;
  std::unique_ptr<RecTrainer> trainer_;
};

compute::Recommendation Popular(std::string item_event, std::string item_property,
                                int window_days = 30) {
  compute::Recommendation r = Rec();
  r.model = "popular";
  r.params.clear();
  r.item_event = std::move(item_event);
  r.item_property = std::move(item_property);
  r.history_window_days = window_days;
  r.history = compute::HistorySpecOf(r);
  return r;
}

TEST_F(RecTrainerTest, TrainsFromTheWindowOfTheLogAndOnlyItsItemEvent) {
  // Two users share a and b; c only with one of them. An old event, another event type and
  // an event without the property are not training data.
  ApplyOk({View("u1", "a"), View("u1", "b"), View("u2", "a"), View("u2", "b"), View("u2", "c"),
           View("u3", "old", kTestNow - int64_t{40} * 86'400'000), Track("u4", "", "click")});
  Event no_sku = Track("u5", "", "view");
  no_sku.json = R"({"event_type":"view","event_properties":{"other":1}})";
  ApplyOk({std::move(no_sku)});
  ASSERT_TRUE(PutDefinition(Rec()).ok());

  StartTrainer();
  auto model = WaitModel("r1", [](const recs::ServingModel&) { return true; });
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->users, 2);
  EXPECT_EQ(model->items.size(), 3u);
  EXPECT_EQ(model->interactions, 5);
  EXPECT_EQ(model->Find("old"), -1);
  EXPECT_EQ(model->trained_at_ms, kTestNow);
  RecTrainingStatus st = trainer_->StatusOf("p", "r1");
  EXPECT_EQ(st.state, RecTrainingStatus::State::kReady);
  EXPECT_EQ(st.items, 3);
  EXPECT_EQ(st.model, "ease");
}

TEST_F(RecTrainerTest, MeasuresTheOfflineFiguresHoldingOutEachUsersNewestEventByEventTime) {
  // Six users view x, then y (y logged first, with the later event time); six others view
  // only y (not drawn: one item). Held out by event time, y is found first for every drawn
  // user; held out by log order, x would be (and no one else has x: every one a miss).
  std::vector<Event> events;
  for (int u = 0; u < 6; ++u) {
    const std::string user = "u" + std::to_string(u);
    events.push_back(View(user, "y", kTestNow - 1000));
    events.push_back(View(user, "x", kTestNow - 5000));
    events.push_back(View("w" + std::to_string(u), "y", kTestNow - 1000));
  }
  ApplyOk(std::move(events));
  ASSERT_TRUE(PutDefinition(Popular("view", "sku")).ok());
  StartTrainer();
  RecTrainingStatus st;
  for (int i = 0; i < 3000 && !st.offline.has_value(); ++i) {
    st = trainer_->StatusOf("p", "r1");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(st.offline.has_value());
  EXPECT_EQ(st.offline->users, 6);
  EXPECT_EQ(st.offline->k, 10u);
  EXPECT_DOUBLE_EQ(st.offline->hit_rate, 1.0);
  EXPECT_DOUBLE_EQ(st.offline->ndcg, 1.0);
  // The serving model learnt from every pair.
  EXPECT_EQ(st.users, 12);
  EXPECT_EQ(st.interactions, 18);
}

TEST_F(RecTrainerTest, RetrainsOnRequestAndOnAChangedDefinitionAndForgetsADeletedOne) {
  ApplyOk({View("u1", "a"), View("u2", "a")});
  ASSERT_TRUE(PutDefinition(Rec()).ok());
  StartTrainer();
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.items.size() == 1; }), nullptr);

  ApplyOk({View("u3", "b")});
  EXPECT_TRUE(trainer_->RequestTraining("p", "r1").ok());
  EXPECT_TRUE(trainer_->RequestTraining("p", "nope").IsNotFound());
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.items.size() == 2; }), nullptr);

  compute::Recommendation popular = Rec();
  popular.model = "popular";
  popular.params.clear();
  ASSERT_TRUE(PutDefinition(popular).ok());
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.used == recs::ModelKind::kPopular; }),
            nullptr);

  std::promise<Status> done;
  ingestor_->DeleteDefinition("p", DefinitionKind::kRecommendation, "r1",
                              [&done](const Status& s) { done.set_value(s); });
  Status deleted = done.get_future().get();
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  for (int i = 0; i < 3000 && shelf_.Get("p", "r1") != nullptr; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(shelf_.Get("p", "r1"), nullptr);
  // Its model is gone from the store too: no head, request or chunk of any generation.
  const std::string prefix = store::ModelKeyPrefix("p", "r1");
  std::vector<std::string> left;
  for (int i = 0; i < 3000; ++i) {
    left.clear();
    ASSERT_TRUE(store_
                    ->Scan(store::Table::kMeta, prefix, store::PrefixEnd(prefix),
                           [&](std::string_view k, std::string_view) {
                             left.emplace_back(k);
                             return true;
                           })
                    .ok());
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " keys left";
}

TEST_F(RecTrainerTest, RetrainsOnItsSchedule) {
  ApplyOk({View("u1", "a")});
  compute::Recommendation r = Rec();
  r.retrain_every_minutes = 5;
  ASSERT_TRUE(PutDefinition(r).ok());
  StartTrainer();
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.trained_at_ms == kTestNow; }), nullptr);
  constexpr int64_t kLater = kTestNow + int64_t{5} * 60'000;
  clock_.Set(kLater);
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.trained_at_ms == kLater; }), nullptr);
}

TEST_F(RecTrainerTest, AFailedTrainingKeepsNoModelAndSaysWhy) {
  ApplyOk({View("u1", "a")});
  compute::Recommendation r = Rec();
  r.params = {{"lambda", "-1"}};  // the admin API refuses this; the trainer must not crash
  ASSERT_TRUE(PutDefinition(r).ok());
  StartTrainer();
  RecTrainingStatus st;
  for (int i = 0; i < 3000; ++i) {
    st = trainer_->StatusOf("p", "r1");
    if (st.state == RecTrainingStatus::State::kFailed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(st.state, RecTrainingStatus::State::kFailed);
  EXPECT_NE(st.error.find("lambda"), std::string::npos) << st.error;
  EXPECT_EQ(shelf_.Get("p", "r1"), nullptr);
}

TEST_F(RecTrainerTest, AnActiveItemEventTakesEveryTrackedEventButIdentifyAsTheHistoryDoes) {
  compute::Recommendation rec = PutServed(Popular(compute::kAnyEvent, "sku"));
  Event identify = SetProps("u3", "", {{"plan", "pro"}});
  identify.event_properties["sku"] = "c";  // an $identify event is never an item
  ApplyOk({View("u1", "a"), Sku("u2", "click", "b"), Sku("u2", "buy", "a"),
           WithLoggedJson(std::move(identify))});
  UsersPerItem expected = {{"a", 2}, {"b", 1}};
  EXPECT_EQ(Histories(rec.id, {"u1", "u2", "u3"}), expected);
  EXPECT_EQ(Trained(rec), expected);
}

TEST_F(RecTrainerTest, ADollarItemPropertyIsTheTopLevelFieldAsInTheHistory) {
  compute::Recommendation rec = PutServed(Popular("view", "$platform"));
  Event ios = View("u1", "a");
  ios.fields["platform"] = "iOS";
  Event android = View("u2", "b");
  android.fields["platform"] = "Android";
  Event other_type = Sku("u3", "click", "c");
  other_type.fields["platform"] = "Web";
  ApplyOk({WithLoggedJson(std::move(ios)), WithLoggedJson(std::move(android)),
           WithLoggedJson(std::move(other_type)), View("u4", "no platform")});
  UsersPerItem expected = {{"Android", 1}, {"iOS", 1}};
  EXPECT_EQ(Histories(rec.id, {"u1", "u2", "u3", "u4"}), expected);
  EXPECT_EQ(Trained(rec), expected);
}

// The window is whole UTC days ending today, plus tomorrow, as the writer kept the events when
// they arrived: not the last N × 24 hours.
TEST_F(RecTrainerTest, TakesTheEventsOfTheHistorysWholeDaysAcrossADayBoundary) {
  const int64_t today = kTestNow;  // midnight; the training runs at 01:00
  clock_.Set(today - kDay / 2);    // yesterday at noon
  compute::Recommendation rec = PutServed(Popular("view", "sku", 2));
  ApplyOk({
      View("u1", "a", today - 2 * kDay + kDay / 2),  // in then; out of today's window
      View("u1", "b", today - 2 * kDay - 1),         // already out of yesterday's window
      View("u2", "c", today - 1),                    // the end of yesterday
      View("u2", "d", today + kDay - 1),             // then tomorrow, now today
      View("u3", "e", today + kDay),                 // two days ahead of its arrival: ignored
      View("u5", "h", today - kDay),                 // the start of today's window
  });
  clock_.Set(today + kDay / 24);
  ApplyOk({
      View("u4", "f", today + 2 * kDay - 1),  // the end of tomorrow
      View("u4", "g", today + 2 * kDay),      // the day after tomorrow: ignored
  });
  UsersPerItem expected = {{"c", 1}, {"d", 1}, {"f", 1}, {"h", 1}};
  EXPECT_EQ(Histories(rec.id, {"u1", "u2", "u3", "u4", "u5"}), expected);
  EXPECT_EQ(Trained(rec), expected);
}

TEST_F(RecTrainerTest, AModelHeadRoundTripsAndADamagedOneIsCorruption) {
  ModelHead head;
  head.generation = 77;
  head.chunks = 3;
  head.training_key = "ease|view";
  head.request_seen = "0123";
  head.status.state = RecTrainingStatus::State::kReady;
  head.status.progress = 1;
  head.status.last_trained_ms = kTestNow;
  head.status.last_duration_seconds = 2.5;
  head.status.users = 5;
  head.status.items = 6;
  head.status.interactions = 7;
  head.status.model = "itemknn";
  head.status.note = "a note";
  head.status.trainings = 8;
  head.status.failures = 9;
  const std::string bytes = EncodeModelHead(head);
  ModelHead back;
  ASSERT_TRUE(DecodeModelHead(bytes, &back).ok());
  EXPECT_EQ(EncodeModelHead(back), bytes);
  EXPECT_EQ(back.generation, 77U);
  EXPECT_EQ(back.status.note, "a note");
  EXPECT_FALSE(back.status.offline.has_value());
  // A head as written before the offline figures (without their flag byte) decodes with none;
  // every other truncation is Corruption.
  const size_t old_size = bytes.size() - 1;
  for (size_t n = 0; n < bytes.size(); ++n) {
    if (n == old_size) continue;
    EXPECT_EQ(DecodeModelHead(bytes.substr(0, n), &back).code(), ErrorCode::kCorruption) << n;
  }
  ASSERT_TRUE(DecodeModelHead(bytes.substr(0, old_size), &back).ok());
  EXPECT_FALSE(back.status.offline.has_value());
  EXPECT_EQ(DecodeModelHead(bytes + "x", &back).code(), ErrorCode::kCorruption);

  head.status.offline = recs::OfflineFigures{recs::ModelKind::kEase, 0.25, 0.125, 10, 400};
  const std::string with = EncodeModelHead(head);
  ASSERT_TRUE(DecodeModelHead(with, &back).ok());
  ASSERT_TRUE(back.status.offline.has_value());
  EXPECT_EQ(back.status.offline->hit_rate, 0.25);
  EXPECT_EQ(back.status.offline->ndcg, 0.125);
  EXPECT_EQ(back.status.offline->k, 10U);
  EXPECT_EQ(back.status.offline->users, 400);
  EXPECT_EQ(EncodeModelHead(back), with);
  for (size_t n = bytes.size(); n < with.size(); ++n) {
    EXPECT_EQ(DecodeModelHead(with.substr(0, n), &back).code(), ErrorCode::kCorruption) << n;
  }
}

// A trained model is in the store: a restarted server serves it without training again.
TEST_F(RecTrainerTest, ARestartedTrainerServesTheStoredModelWithoutTrainingAgain) {
  ApplyOk({View("u1", "a"), View("u2", "a"), View("u2", "b")});
  ASSERT_TRUE(PutDefinition(Rec()).ok());
  StartTrainer();
  auto first = WaitModel("r1", [](const auto& m) { return m.items.size() == 2; });
  ASSERT_NE(first, nullptr);
  trainer_->Stop();
  trainer_.reset();

  recs::ModelShelf restarted;
  RecTrainer again(*store_, *catalogs_, restarted, clock_, {"p"});
  again.Start();
  std::shared_ptr<const recs::ServingModel> loaded;
  for (int i = 0; i < 3000 && loaded == nullptr; ++i) {
    loaded = restarted.Get("p", "r1", compute::TrainingKey(Rec()));
    if (loaded == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(loaded, nullptr);
  EXPECT_NE(loaded, first);  // decoded from the store, not the same object
  EXPECT_EQ(loaded->items, first->items);
  EXPECT_EQ(loaded->trained_at_ms, first->trained_at_ms);
  std::vector<float> a(2);
  std::vector<float> b(2);
  first->model->Score(std::vector<int32_t>{0}, a);
  loaded->model->Score(std::vector<int32_t>{0}, b);
  EXPECT_EQ(a, b);
  // Several polls later it has still not trained.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  RecTrainingStatus st = again.StatusOf("p", "r1");
  EXPECT_EQ(st.state, RecTrainingStatus::State::kReady);
  EXPECT_EQ(st.trainings, 1);
  EXPECT_EQ(restarted.Get("p", "r1"), loaded);
  again.Stop();
}

// On a shared store one trainer (the lease holder) trains; the others load its model; when it
// stops, another takes over. Both "nodes" here share one RocksDB store that claims to be shared.
TEST_F(RecTrainerTest, OnASharedStoreOneNodeTrainsTheOthersServeItsModelAndTakeOver) {
  store::FaultStore shared(*disk_, /*shared=*/true);
  ApplyOk({View("u1", "a"), View("u2", "a"), View("u2", "b")});
  ASSERT_TRUE(PutDefinition(Rec()).ok());
  auto options = [](std::string node) {
    RecTrainerOptions o;
    o.node_id = std::move(node);
    o.poll_ms = 20;
    o.lease_ms = 2000;
    return o;
  };
  recs::ModelShelf shelf_a;
  recs::ModelShelf shelf_b;
  auto a = std::make_unique<RecTrainer>(shared, *catalogs_, shelf_a, clock_,
                                        std::vector<std::string>{"p"}, options("a"));
  a->Start();
  auto wait = [](const std::function<bool()>& ok) {
    for (int i = 0; i < 1000 && !ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return ok();
  };
  ASSERT_TRUE(wait([&] { return shelf_a.Get("p", "r1") != nullptr; }));

  RecTrainer b(shared, *catalogs_, shelf_b, clock_, {"p"}, options("b"));
  b.Start();
  ASSERT_TRUE(wait([&] { return shelf_b.Get("p", "r1") != nullptr; }));
  EXPECT_EQ(shelf_b.Get("p", "r1")->items, shelf_a.Get("p", "r1")->items);
  EXPECT_EQ(b.StatusOf("p", "r1").trainings, 1);

  // A training asked of b is done by a, the holder, and served by both.
  ApplyOk({View("u3", "c")});
  ASSERT_TRUE(b.RequestTraining("p", "r1").ok());
  for (recs::ModelShelf* shelf : {&shelf_a, &shelf_b}) {
    ASSERT_TRUE(wait([&] {
      auto m = shelf->Get("p", "r1");
      return m != nullptr && m->items.size() == 3;
    }));
  }
  EXPECT_EQ(b.StatusOf("p", "r1").trainings, 2);

  // a stops: once its lease ends, b trains.
  a->Stop();
  a.reset();
  ApplyOk({View("u4", "d")});
  ASSERT_TRUE(b.RequestTraining("p", "r1").ok());
  ASSERT_TRUE(wait([&] { return shelf_b.Get("p", "r1")->items.size() == 4; }));
  EXPECT_EQ(b.StatusOf("p", "r1").trainings, 3);
  b.Stop();
}

}  // namespace
}  // namespace profiled::ingest
