// Endpoints::Console over a real RocksDB store seen through a FaultStore: what the e2e suite
// cannot make happen on cue (a busy worker).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "api/cohort_downloads.h"
#include "api/endpoints.h"
#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::api {
namespace {

class ConsoleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.admin_token = "adm";
    config_.projects.push_back({"seed", "k", "s", ProfileDialect::kSeed, {}});
    store::RocksDbOptions so;
    so.path = dir_.path();
    disk_ = std::move(store::OpenRocksDbStore(so).value());
    faults_ = std::make_unique<store::FaultStore>(*disk_);
    ingest::IngestorOptions io;
    io.sync = false;
    ingestor_ = std::make_unique<ingest::Ingestor>(*faults_, io, clock_, &metrics_);
    ingestor_->Start();
    registry_ = std::make_unique<ingest::DefinitionRegistry>(*faults_, catalogs_,
                                                             ParseStoredDefinition, clock_);
    ASSERT_TRUE(registry_->Load({"seed"}).ok());
    reader_ = std::make_unique<read::ProfileReader>(*faults_, catalogs_, clock_);
    endpoints_ = std::make_unique<Endpoints>(config_, *faults_, *ingestor_, metrics_, clock_,
                                             *reader_, registry_.get());
    store::WriteSet w;
    w.Put(store::Table::kIdentity, store::UserKey("seed", "u1"), store::EncodeId(1));
    w.Put(store::Table::kProfiles, store::ProfileKey("seed", 1),
          store::EncodeProfile(store::ProfileRecord{"u1", "d1", "{}", R"({"plan":"pro"})"}));
    ASSERT_TRUE(disk_->Commit(w, false).ok());
  }
  void TearDown() override {
    endpoints_->Stop();
    ingestor_->Stop();
  }

  // GET of an admin path; the answer arrives through the future (possibly from the worker).
  std::future<HttpResponse> Get(std::string_view path, std::string_view query) {
    auto done = std::make_shared<std::promise<HttpResponse>>();
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.query = query;
    r.authorization = "Bearer adm";
    endpoints_->Admin(r, [done](HttpResponse response) { done->set_value(std::move(response)); });
    return done->get_future();
  }

  // Starts a lookup of u1 that holds the console's worker in its identity read, then
  // `queued` more that wait behind it; their answers, the held one first. They go on once
  // release_ is set.
  std::vector<std::future<HttpResponse>> HoldWorker(int queued) {
    std::shared_future<void> released = release_.get_future().share();
    faults_->BeforeGet(store::Table::kIdentity, store::UserKey("seed", "u1"), [this, released] {
      reached_.set_value();
      released.wait();
    });
    std::vector<std::future<HttpResponse>> answers;
    answers.push_back(Get("/admin/v1/projects/seed/users", "user_id=u1"));
    reached_.get_future().wait();
    for (int i = 0; i < queued; ++i) {
      answers.push_back(Get("/admin/v1/projects/seed/users", "user_id=u1"));
    }
    return answers;
  }

  std::promise<void> reached_;
  std::promise<void> release_;
  TempDir dir_;
  Config config_;
  ManualClock clock_{1767225600000};
  Metrics metrics_;
  std::unique_ptr<store::Store> disk_;
  std::unique_ptr<store::FaultStore> faults_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  compute::CatalogHolder catalogs_;
  std::unique_ptr<ingest::DefinitionRegistry> registry_;
  std::unique_ptr<read::ProfileReader> reader_;
  std::unique_ptr<Endpoints> endpoints_;
};

TEST_F(ConsoleApiTest, ALookupAnswersTheUserAndWritesNothingNowOrAfterTheAnswer) {
  const size_t commits = faults_->commits().size();
  HttpResponse r = Get("/admin/v1/projects/seed/users", "user_id=u1").get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("amplitude_id":1,"user_id":"u1","device_id":"d1")"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("user_properties":{"plan":"pro"})"), std::string::npos) << r.body;
  EXPECT_EQ(r.after_send, nullptr);
  EXPECT_EQ(faults_->commits().size(), commits);
}

TEST_F(ConsoleApiTest, ABusyWorkerAnswers429WithRetryAfterAndTheQueuedLookupsFinish) {
  std::vector<std::future<HttpResponse>> answers = HoldWorker(8);
  HttpResponse busy = Get("/admin/v1/projects/seed/users", "user_id=u1").get();
  EXPECT_EQ(busy.status, 429);
  EXPECT_EQ(busy.retry_after_seconds, 1);
  EXPECT_EQ(busy.body, R"({"error":"too many console scans are waiting; retry later"})");
  release_.set_value();
  for (auto& a : answers) EXPECT_EQ(a.get().status, 200);
}

TEST_F(ConsoleApiTest, BeginStopEndsTheRunningAndQueuedScansWith503WhileTheyCanBeAnswered) {
  store::WriteSet w;  // an event of u1, so the lookup's log scan has an entry to stop at
  w.Put(store::Table::kEvents, store::EventKey("seed", clock_.NowMs(), 1),
        store::EncodeEvent(
            store::EventRecord{1, clock_.NowMs(), "Play", R"({"event_type":"Play"})"}));
  ASSERT_TRUE(disk_->Commit(w, false).ok());
  ASSERT_EQ(Get("/admin/v1/projects/seed/users", "user_id=u1").get().status, 200);
  std::vector<std::future<HttpResponse>> answers = HoldWorker(3);
  endpoints_->BeginStop();
  release_.set_value();
  for (auto& a : answers) {
    HttpResponse r = a.get();  // answered, not dropped: the server still sends it
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.retry_after_seconds, 1);
  }
}

TEST_F(ConsoleApiTest, ABusyConsoleWorkerLeavesTheCohortApiFree) {
  std::vector<std::future<HttpResponse>> answers = HoldWorker(8);
  ASSERT_EQ(Get("/admin/v1/projects/seed/users", "user_id=u1").get().status, 429);
  // GET /api/3/cohorts (Basic k:s) is on the other worker: it answers while the console waits.
  auto cohorts = std::make_shared<std::promise<HttpResponse>>();
  HttpRequest r;
  r.method = "GET";
  r.path = "/api/3/cohorts";
  r.authorization = "Basic azpz";
  endpoints_->Cohorts(
      r, [cohorts](HttpResponse response) { cohorts->set_value(std::move(response)); });
  HttpResponse listed = cohorts->get_future().get();
  EXPECT_EQ(listed.status, 200) << listed.body;
  release_.set_value();
  for (auto& a : answers) EXPECT_EQ(a.get().status, 200);
}

TEST(CohortDownloadsStop, StopSetsTheFlagARunningTaskWatchesAndDropsTheWaitingOnes) {
  TempDir dir;
  store::RocksDbOptions so;
  so.path = dir.path();
  std::unique_ptr<store::Store> disk = std::move(store::OpenRocksDbStore(so).value());
  compute::CatalogHolder catalogs;
  ManualClock clock{1767225600000};
  read::ProfileReader reader(*disk, catalogs, clock);
  CohortDownloads worker(reader, clock, "console scans");
  std::promise<void> started;
  std::atomic<bool> later_ran{false};
  // A task as long as a scan that only the stop flag ends (as ScanLimits::stop does).
  ASSERT_TRUE(worker
                  .Post([&worker, &started] {
                    started.set_value();
                    while (!worker.StopFlag().load()) std::this_thread::yield();
                  })
                  .ok());
  ASSERT_TRUE(worker.Post([&later_ran] { later_ran.store(true); }).ok());
  started.get_future().wait();
  worker.Stop();  // returns only once the running task saw the flag
  EXPECT_FALSE(later_ran.load());
  EXPECT_EQ(worker.Post([] {}).code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace profiled::api
