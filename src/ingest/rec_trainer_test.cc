#include "ingest/rec_trainer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "ingest/test_util.h"

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

Event View(std::string user_id, const std::string& sku, int64_t time_ms = kTestNow) {
  Event e = Track(std::move(user_id), "", "view");
  e.time_ms = time_ms;
  e.event_properties["sku"] = sku;
  boost::json::object logged;
  logged["event_type"] = "view";
  logged["event_properties"] = e.event_properties;
  e.json = boost::json::serialize(logged);
  return e;
}

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

  recs::ModelShelf shelf_;
  std::unique_ptr<RecTrainer> trainer_;
};

TEST_F(RecTrainerTest, TrainsFromTheWindowOfTheLogAndOnlyItsItemEvent) {
  // Two users share a and b; c only with one of them. An old event, another event type and
  // an event without the property are not training data.
  ApplyOk({View("u1", "a"), View("u1", "b"), View("u2", "a"), View("u2", "b"), View("u2", "c"),
           View("u3", "old", kTestNow - int64_t{40} * 86'400'000), Track("u4", "", "click")});
  Event no_sku = Track("u5", "", "view");
  no_sku.json = R"({"event_type":"view","event_properties":{"other":1}})";
  ApplyOk({std::move(no_sku)});
  ASSERT_TRUE(PutDefinition(Rec()).ok());

  auto model = trainer_ == nullptr ? nullptr : shelf_.Get("p", "r1");
  EXPECT_EQ(model, nullptr);
  StartTrainer();
  model = WaitModel("r1", [](const recs::ServingModel&) { return true; });
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
}

TEST_F(RecTrainerTest, RetrainsOnItsSchedule) {
  ApplyOk({View("u1", "a")});
  compute::Recommendation r = Rec();
  r.retrain_every_minutes = 5;
  ASSERT_TRUE(PutDefinition(r).ok());
  StartTrainer();
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.trained_at_ms == kTestNow; }), nullptr);
  clock_.Set(kTestNow + 5 * 60'000);
  ASSERT_NE(WaitModel("r1", [](const auto& m) { return m.trained_at_ms == kTestNow + 5 * 60'000; }),
            nullptr);
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

}  // namespace
}  // namespace profiled::ingest
