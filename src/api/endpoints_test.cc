#include "api/endpoints.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>

#include "core/hash.h"
#include "core/temp_dir.h"
#include "store/fault_store.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::api {
namespace {

constexpr const char* kTrackBody =
    R"({"api_key":"k","events":[{"user_id":"user-1","event_type":"e"}]})";

// Endpoints over a real RocksDB store seen through a FaultStore, with a running Ingestor.
class EndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.projects.push_back({"seed", "k", "s", ProfileDialect::kSeed, {}});
    config_.projects.push_back({"amp", "k2", "s2", ProfileDialect::kAmplitude, {}});
    store::RocksDbOptions so;
    so.path = dir_.path();
    so.block_cache_bytes = 8 << 20;
    disk_ = std::move(store::OpenRocksDbStore(so).value());
    faults_ = std::make_unique<store::FaultStore>(*disk_, Shared());
    ingest::IngestorOptions io;
    io.sync = false;
    io.max_queued_events = 1;
    // A writer parked in a stalled commit then takes nothing more from the queue (the full
    // queue test); commits in flight are tested in src/ingest and end to end.
    io.pipeline_commits = false;
    ingestor_ = std::make_unique<ingest::Ingestor>(*faults_, io, clock_, &metrics_);
    ingestor_->Start();
    reader_ = std::make_unique<read::ProfileReader>(*faults_, catalogs_, clock_);
    endpoints_ =
        std::make_unique<Endpoints>(config_, *faults_, *ingestor_, metrics_, clock_, *reader_);
  }
  void TearDown() override {
    endpoints_->Stop();
    faults_->ResumeCommits();
    ingestor_->Stop();
  }
  // What the store says of itself: shared (across a network) makes reads asynchronous.
  virtual bool Shared() const { return false; }

  // Stores a profile record for user "u" (amplitude_id 1) of `project` as given.
  void StoreRawProfile(const std::string& project, const std::string& record) {
    store::WriteSet w;
    w.Put(store::Table::kIdentity, store::UserKey(project, "u"), store::EncodeId(1));
    w.Put(store::Table::kProfiles, store::ProfileKey(project, 1), record);
    ASSERT_TRUE(disk_->Commit(w, false).ok());
  }

  HttpResponse GetProfile(const char* secret, const char* query) {
    std::string auth = std::string("Api-Key ") + secret;
    HttpRequest r;
    r.method = "GET";
    r.query = query;
    r.authorization = auth;
    return endpoints_->Profile(r);
  }

  std::future<HttpResponse> Track(std::string_view body = kTrackBody) {
    auto done = std::make_shared<std::promise<HttpResponse>>();
    HttpRequest r;
    r.method = "POST";
    r.body = body;
    endpoints_->TrackEvents(
        r, [done](HttpResponse response) { done->set_value(std::move(response)); });
    return done->get_future();
  }

  HttpResponse Identify(std::string_view form) {
    std::promise<HttpResponse> done;
    HttpRequest r;
    r.method = "POST";
    r.content_type = "application/x-www-form-urlencoded";
    r.body = form;
    endpoints_->Identify(r,
                         [&done](HttpResponse response) { done.set_value(std::move(response)); });
    return done.get_future().get();
  }

  HttpResponse LegacyUpload(std::string_view form) {
    std::promise<HttpResponse> done;
    HttpRequest r;
    r.method = "POST";
    r.path = "/";
    r.content_type = "application/x-www-form-urlencoded;charset=UTF-8";
    r.body = form;
    endpoints_->LegacyUpload(
        r, [&done](HttpResponse response) { done.set_value(std::move(response)); });
    return done.get_future().get();
  }

  HttpResponse RemoteConfig(std::string_view path) {
    HttpRequest r;
    r.method = "GET";
    r.path = path;
    r.query = "config_group=browser";
    return endpoints_->RemoteConfig(r);
  }

  TempDir dir_;
  Config config_;
  ManualClock clock_{1767225600000};
  Metrics metrics_;
  std::unique_ptr<store::Store> disk_;
  std::unique_ptr<store::FaultStore> faults_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  compute::CatalogHolder catalogs_;
  std::unique_ptr<read::ProfileReader> reader_;
  std::unique_ptr<Endpoints> endpoints_;
};

TEST_F(EndpointsTest, AProfileRecordThatDoesNotDecodeIs500WithALogLineInBothDialects) {
  StoreRawProfile("seed", "\x01truncated");
  StoreRawProfile("amp", "\x01truncated");
  for (const char* secret : {"s", "s2"}) {
    testing::internal::CaptureStderr();
    HttpResponse r = GetProfile(secret, "user_id=u&get_amp_props=true");
    std::string log = testing::internal::GetCapturedStderr();
    EXPECT_EQ(r.status, 500) << secret;
    EXPECT_EQ(r.body, R"({"error":"internal error"})");
    EXPECT_NE(log.find("profile read failed"), std::string::npos) << log;
    EXPECT_NE(log.find("user_id=\"u\""), std::string::npos) << log;
    EXPECT_NE(log.find("cannot decode profile"), std::string::npos) << log;
  }
}

TEST_F(EndpointsTest, StoredPropertiesThatAreNotJsonAre500NotAnEmptyObject) {
  // Braced, so it passes the record's shape check, but not JSON.
  std::string record = store::EncodeProfile({"u", "", "{}", "{\"a\":}"});
  StoreRawProfile("seed", record);
  StoreRawProfile("amp", record);
  testing::internal::CaptureStderr();
  HttpResponse amp = GetProfile("s2", "user_id=u&get_amp_props=true");
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(amp.status, 500);
  EXPECT_NE(log.find("stored JSON object does not parse"), std::string::npos) << log;
  // The seed dialect serves the text verbatim (no parse on its hot path); the record's
  // shape check catches text that is not an object at all.
  StoreRawProfile("seed", store::EncodeProfile({"u", "", "{}", "not json"}));
  testing::internal::CaptureStderr();
  HttpResponse seed = GetProfile("s", "user_id=u");
  log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(seed.status, 500);
  EXPECT_NE(log.find("profile read failed"), std::string::npos) << log;
}

TEST_F(EndpointsTest, HealthIsOkOnlyWhileTheStoreCanWrite) {
  EXPECT_EQ(endpoints_->Health().status, 200);
  faults_->SetHealth(Status::IoError("injected: read-only"));
  testing::internal::CaptureStderr();
  HttpResponse down = endpoints_->Health();
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.body.find("store cannot write"), std::string::npos);
  EXPECT_NE(log.find("injected: read-only"), std::string::npos);
  faults_->SetHealth(Status::Ok());
  EXPECT_EQ(endpoints_->Health().status, 200);
}

TEST_F(EndpointsTest, NewAccessTakesEffectForTheNextRequestAndRetiresOldKeys) {
  ASSERT_EQ(Track().get().status, 200);  // api key "k" of "seed"
  ASSERT_EQ(GetProfile("s", "user_id=user-1").status, 200);
  Config next = config_;
  next.projects[0].secret_key = "s-new";
  next.projects[0].secret_keys = {"s-newer"};
  next.projects[0].api_key = "k-new";
  next.projects.push_back({"third", "k3", "s3", ProfileDialect::kSeed, {}});
  endpoints_->SetAccess(std::make_shared<const Access>(next));
  EXPECT_EQ(GetProfile("s", "user_id=user-1").status, 401);
  EXPECT_EQ(GetProfile("s-new", "user_id=user-1").status, 200);
  EXPECT_EQ(GetProfile("s-newer", "user_id=user-1").status, 200);
  EXPECT_EQ(GetProfile("s2", "user_id=user-1").status, 404);  // "amp": another project's users
  EXPECT_EQ(GetProfile("s3", "user_id=user-1").status, 404);
  HttpResponse old_key = Track().get();
  EXPECT_EQ(old_key.status, 400);
  EXPECT_EQ(old_key.body, R"({"code":400,"error":"Invalid API key: k"})");
  EXPECT_EQ(
      Track(R"({"api_key":"k3","events":[{"user_id":"user-3","event_type":"e"}]})").get().status,
      200);
  EXPECT_EQ(GetProfile("s3", "user_id=user-3").status, 200);
  EXPECT_EQ(GetProfile("s-new", "user_id=user-3").status, 404);
}

TEST_F(EndpointsTest, TheLegacyUploadAnswersSuccessOnceItsChecksumMatches) {
  // e = [{"user_id":"user-1","event_type":"x","timestamp":1700000000000}], upload_time
  // 1700000000500, api key k: md5("2" "k" e "1700000000500").
  const std::string e =
      "%5B%7B%22user_id%22%3A%22user-1%22%2C%22event_type%22%3A%22x%22%2C%22timestamp%22%3A"
      "1700000000000%7D%5D";
  const std::string good = "client=k&e=" + e + "&v=2&upload_time=1700000000500&checksum=" +
                           Md5Hex(R"(2k[{"user_id":"user-1","event_type":"x","timestamp":)"
                                  R"(1700000000000}])"
                                  "1700000000500");
  HttpResponse bad =
      LegacyUpload("client=k&e=" + e + "&v=2&upload_time=1700000000500&checksum=0123456789abcdef");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            R"({"code":400,"error":"Invalid checksum: checksum must be the hex MD5 of v, client, )"
            R"(e and upload_time as sent, concatenated"})");
  EXPECT_EQ(GetProfile("s", "user_id=user-1").status, 404);
  HttpResponse ok = LegacyUpload(good);
  EXPECT_EQ(ok.status, 200);
  EXPECT_STREQ(ok.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(ok.body, "success");
  EXPECT_EQ(GetProfile("s", "user_id=user-1").status, 200);
  EXPECT_EQ(LegacyUpload("client=nope&e=" + e + "&v=2&upload_time=1&checksum=x").body,
            R"({"code":400,"error":"Invalid API key: nope"})");
  EXPECT_EQ(LegacyUpload("client=k&e=%ZZ").status, 400);
}

TEST_F(EndpointsTest, RemoteConfigIsEmptyForAKnownKeyAnd401ForAnother) {
  HttpResponse known = RemoteConfig("/config/k");
  EXPECT_EQ(known.status, 200);
  boost::json::value config = boost::json::parse(known.body);
  EXPECT_EQ(config.at_pointer("/configs/analyticsSDK/browserSDK"), boost::json::object());
  EXPECT_EQ(config.at_pointer("/configs/diagnostics/browserSDK/enabled"), false);
  EXPECT_EQ(RemoteConfig("/config/k2").status, 200);
  HttpResponse unknown = RemoteConfig("/config/nope");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.body, R"({"code":401,"error":"Invalid API key: nope"})");
  // The SDK percent-encodes the key.
  config_.projects.push_back({"odd", "a+b/c", "s4", ProfileDialect::kSeed, {}});
  endpoints_->SetAccess(std::make_shared<const Access>(config_));
  EXPECT_EQ(RemoteConfig("/config/a%2Bb%2Fc").status, 200);
  EXPECT_EQ(RemoteConfig("/config/a%2").status, 404);
}

TEST_F(EndpointsTest, ProfileReadsPastTheProjectsLimitAre429WithRetryAfter) {
  StoreRawProfile("seed", store::EncodeProfile({"u", "", "{}", "{}"}));
  Config limited = config_;
  limited.projects[0].profile_reads_per_minute = 2;  // one token every 30 s
  endpoints_->SetConfig(limited);
  EXPECT_EQ(GetProfile("s", "user_id=u").status, 200);
  EXPECT_EQ(GetProfile("s", "user_id=nobody").status, 404);  // every read counts
  HttpResponse refused = GetProfile("s", "user_id=u");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.body,
            R"({"error":"Number of requests per minute exceeds system limit. Contact Support if )"
            R"(you need this limit raised"})");
  EXPECT_EQ(refused.retry_after_seconds, 30);
  EXPECT_EQ(GetProfile("wrong", "user_id=u").status, 401);  // a wrong key is told so first
  EXPECT_EQ(GetProfile("s2", "user_id=u").status, 404);     // another project reads on
  clock_.Advance(20000);
  EXPECT_EQ(GetProfile("s", "user_id=u").retry_after_seconds, 10);
  clock_.Advance(10000);
  EXPECT_EQ(GetProfile("s", "user_id=u").status, 200);
  // A reload keeps what was counted; without a limit, every read passes.
  endpoints_->SetConfig(limited);
  EXPECT_EQ(GetProfile("s", "user_id=u").status, 429);
  endpoints_->SetConfig(config_);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(GetProfile("s", "user_id=u").status, 200);
}

TEST_F(EndpointsTest, AFullIngestQueueAnswers503WithRetryAfter) {
  faults_->StallCommits();
  auto parked = Track();  // the writer holds it in a stalled commit
  faults_->WaitForStalledCommit();
  auto queued = Track();  // fills the queue (bound: 1 event)
  HttpResponse refused = Track().get();
  EXPECT_EQ(refused.status, 503);
  EXPECT_GT(refused.retry_after_seconds, 0);
  auto body = boost::json::parse(refused.body).as_object();
  EXPECT_EQ(body.at("code"), 503);
  EXPECT_TRUE(body.at("error").is_string());
  faults_->ResumeCommits();
  EXPECT_EQ(parked.get().status, 200);
  EXPECT_EQ(queued.get().status, 200);
}

TEST_F(EndpointsTest, AFullDiskAnswers503WithTheReasonAndRetryAfterAndAppliesNothing) {
  for (const Status& failure : {store::DiskFull(), store::DiskFailed()}) {
    SCOPED_TRACE(failure.message());
    faults_->FailNextCommits(1, failure);
    HttpResponse refused = Track(R"({"api_key":"k","events":[{"user_id":"user-full",
        "event_type":"e","user_properties":{"$set":{"a":1}}}]})")
                               .get();
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.retry_after_seconds, 5);
    auto body = boost::json::parse(refused.body).as_object();
    EXPECT_EQ(body.at("code"), 503);
    EXPECT_EQ(body.at("error").as_string(),
              failure.message() + "; nothing of this request was applied, retry later");
    EXPECT_EQ(GetProfile("s", "user_id=user-full").status, 404);
  }
}

// Every JSON value of a request's events lives in that request's arena, freed on the writer
// with the last of its events (ingest/event.h). What the writer keeps (the cached profile:
// properties set, appended and prepended, built-in fields) must be copies: under ASan, a
// value left pointing into a freed arena fails the later requests or the read.
TEST_F(EndpointsTest, ProfilesKeepNothingOfTheRequestTheirValuesCameFrom) {
  // Strings longer than Boost.JSON keeps inline, inside objects and arrays.
  std::string body = R"({"api_key":"k2","events":[{"user_id":"arena-user","event_type":"e",
    "platform":"a platform name long enough","country":"a country name long enough",
    "language":"en-GB","library":{"name":"a library name long enough","version":"1.2.3"},
    "event_properties":{"p":"an event property long enough"},
    "user_properties":{
      "$set":{"object":{"nested":{"s":"a nested string long enough"}},
              "array":["an array string long enough",{"k":"an object in an array, long"}]},
      "$setOnce":{"once":"a set-once string long enough"},
      "$add":{"n":"12345678901234567"},
      "$append":{"list":["appended string long enough"]},
      "$prepend":{"list":"prepended string long enough"},
      "$postInsert":{"unique":["post-inserted string long enough"]}}}]})";
  ASSERT_EQ(Track(body).get().status, 200);
  // A second request, so the writer has destroyed the first one's events (and its arena)
  // before the next request for the same user reads the cached profile.
  ASSERT_EQ(Track(kTrackBody).get().status, 200);
  std::string more = R"({"api_key":"k2","events":[{"user_id":"arena-user","event_type":"e",
    "user_properties":{"$append":{"list":["a second appended string, long"]},
                       "$preInsert":{"unique":"pre-inserted string long enough"},
                       "$remove":{"array":"an array string long enough"}}}]})";
  ASSERT_EQ(Track(more).get().status, 200);
  ASSERT_EQ(
      Identify("api_key=k2&identification=" +
               std::string(R"({"user_id":"arena-user","platform":"an identify platform",)"
                           R"("user_properties":{"$set":{"o":{"x":"an identify string, long"}}}})"))
          .status,
      200);
  ASSERT_EQ(Track(kTrackBody).get().status, 200);

  HttpResponse r = GetProfile("s2", "user_id=arena-user&get_amp_props=true");
  ASSERT_EQ(r.status, 200) << r.body;
  auto props = boost::json::parse(r.body).at("userData").at("amp_props");
  EXPECT_EQ(props.at("object"),
            boost::json::parse(R"({"nested":{"s":"a nested string long enough"}})"));
  EXPECT_EQ(props.at("array"), boost::json::parse(R"([{"k":"an object in an array, long"}])"));
  EXPECT_EQ(props.at("once"), "a set-once string long enough");
  EXPECT_EQ(props.at("n"), 12345678901234567);
  EXPECT_EQ(props.at("list"), boost::json::parse(R"(["prepended string long enough",
    "appended string long enough","a second appended string, long"])"));
  EXPECT_EQ(props.at("unique"), boost::json::parse(R"(["pre-inserted string long enough",
    "post-inserted string long enough"])"));
  EXPECT_EQ(props.at("o"), boost::json::parse(R"({"x":"an identify string, long"})"));
}

// store::AsyncReads that hold each read until the test answers it.
class ScriptedReads : public store::AsyncReads {
 public:
  struct Asked {
    store::Table table;
    std::vector<std::string> keys;
    Done done;
  };
  bool MultiGet(store::Table table, const std::vector<std::string>& keys, Done done) override {
    if (refuse) return false;
    asked.push_back({table, keys, std::move(done)});
    return true;
  }
  // Answers the oldest read with what `store` holds, or with `failure`.
  void Answer(store::Store& store, const Status& failure = Status::Ok()) {
    ASSERT_FALSE(asked.empty());
    Asked a = std::move(asked.front());
    asked.erase(asked.begin());
    std::vector<std::string> values;
    std::vector<Status> statuses;
    Status s = failure.ok() ? store.MultiGet(a.table, a.keys, &values, &statuses) : failure;
    a.done(s, values, statuses);
  }
  bool refuse = false;
  std::vector<Asked> asked;
};

// Profile reads on a shared store, made through an AsyncReads (the I/O thread's loop).
class EndpointsOnLoopTest : public EndpointsTest {
 protected:
  bool Shared() const override { return true; }

  // Starts GET /v1/userprofile?user_id=u on `reads`; the future is its response.
  std::future<HttpResponse> StartRead(const std::string& query = "user_id=u") {
    query_ = query;
    request_.method = "GET";
    request_.query = query_;
    request_.authorization = "Api-Key s";
    auto done = std::make_shared<std::promise<HttpResponse>>();
    endpoints_->ProfileAsync(
        request_, [done](HttpResponse r) { done->set_value(std::move(r)); }, &reads_);
    return done->get_future();
  }
  // profiled_profile_store_reads_total{path=...}.
  uint64_t ReadsOn(const std::string& path) {
    std::string text = metrics_.RenderPrometheus();
    std::string series = "profiled_profile_store_reads_total{path=\"" + path + "\"} ";
    size_t at = text.find(series);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + series.size()));
  }

  ScriptedReads reads_;
  std::string query_;
  HttpRequest request_;
};

TEST_F(EndpointsOnLoopTest, ReadsTheIdentityThenTheRecordsOnTheLoopAndThenOnlyTheRecords) {
  StoreRawProfile("seed", store::EncodeProfile({"u", "", "{}", R"({"plan":"pro"})"}));
  for (int read = 0; read < 2; ++read) {
    std::future<HttpResponse> response = StartRead();
    if (read == 0) {  // the user_id is not known yet: its identity first
      ASSERT_EQ(reads_.asked.size(), 1u);
      EXPECT_EQ(reads_.asked[0].table, store::Table::kIdentity);
      reads_.Answer(*disk_);
    }
    ASSERT_EQ(reads_.asked.size(), 1u) << read;
    EXPECT_EQ(reads_.asked[0].table, store::Table::kProfiles);
    reads_.Answer(*disk_);
    ASSERT_EQ(response.wait_for(std::chrono::seconds(0)), std::future_status::ready)
        << "answered on the loop, at once";
    HttpResponse r = response.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("plan":"pro")"), std::string::npos) << r.body;
  }
  EXPECT_EQ(ReadsOn("loop"), 2u);
  EXPECT_EQ(ReadsOn("thread"), 0u);
}

TEST_F(EndpointsOnLoopTest, AnUnknownUserIsA404OnTheLoop) {
  std::future<HttpResponse> response = StartRead("user_id=nobody");
  reads_.Answer(*disk_);
  ASSERT_EQ(response.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(response.get().status, 404);
  EXPECT_EQ(ReadsOn("loop"), 1u);
}

TEST_F(EndpointsOnLoopTest, AFailedOrRefusedReadIsMadeAgainOnAReadThread) {
  StoreRawProfile("seed", store::EncodeProfile({"u", "", "{}", R"({"plan":"pro"})"}));
  // The identity read fails (a redirect, a lost connection).
  std::future<HttpResponse> first = StartRead();
  reads_.Answer(*disk_, Status::IoError("MOVED"));
  EXPECT_EQ(first.get().status, 200);
  // The records read fails (the id is cached now: it is the first read).
  std::future<HttpResponse> second = StartRead();
  reads_.Answer(*disk_, Status::Unavailable("connection lost"));
  EXPECT_EQ(second.get().status, 200);
  // This way refuses the read.
  reads_.refuse = true;
  EXPECT_EQ(StartRead().get().status, 200);
  EXPECT_EQ(ReadsOn("thread"), 3u);
  EXPECT_EQ(ReadsOn("loop"), 0u);
  EXPECT_TRUE(reads_.asked.empty());
}

TEST_F(EndpointsOnLoopTest, AReadMadeAgainOnAReadThreadCountsOnceAgainstTheReadLimit) {
  StoreRawProfile("seed", store::EncodeProfile({"u", "", "{}", R"({"plan":"pro"})"}));
  Config limited = config_;
  limited.projects[0].profile_reads_per_minute = 2;
  endpoints_->SetConfig(limited);
  std::future<HttpResponse> first = StartRead();
  reads_.Answer(*disk_, Status::IoError("MOVED"));  // made again on a read thread
  EXPECT_EQ(first.get().status, 200);
  reads_.refuse = true;
  EXPECT_EQ(StartRead().get().status, 200);
  HttpResponse third = StartRead().get();
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(third.retry_after_seconds, 30);
  EXPECT_EQ(ReadsOn("thread"), 2u);
}

TEST_F(EndpointsOnLoopTest, NoProfileUnderTheIdReadGoesToAReadThreadWhichLooksAgain) {
  // The identity says 2, which has no profile (a merge moved the user to 1 meanwhile): the
  // read thread reads the identity again and finds the profile.
  StoreRawProfile("seed", store::EncodeProfile({"u", "", "{}", R"({"plan":"pro"})"}));
  std::future<HttpResponse> response = StartRead();
  std::vector<std::string> values = {store::EncodeId(2)};
  std::vector<Status> statuses = {Status::Ok()};
  ScriptedReads::Asked identity = std::move(reads_.asked.front());
  reads_.asked.clear();
  identity.done(Status::Ok(), values, statuses);
  ASSERT_EQ(reads_.asked.size(), 1u);
  EXPECT_EQ(reads_.asked[0].keys[0], store::UserRecordKey("seed", 2, store::UserRecord::kProfile));
  reads_.Answer(*disk_);
  HttpResponse r = response.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("amplitude_id":1)"), std::string::npos) << r.body;
  EXPECT_EQ(ReadsOn("thread"), 1u);
}

TEST_F(EndpointsOnLoopTest, ARecordThatDoesNotDecodeIs500OnTheLoopNotReadAgain) {
  StoreRawProfile("seed", "\x01truncated");
  testing::internal::CaptureStderr();
  std::future<HttpResponse> response = StartRead();
  reads_.Answer(*disk_);
  reads_.Answer(*disk_);
  ASSERT_EQ(response.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(response.get().status, 500);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("cannot decode profile"), std::string::npos) << log;
  EXPECT_EQ(ReadsOn("thread"), 0u);
}

TEST(TrimReadBuffer, ReleasesOnlyABufferAboveTheThreshold) {
  std::string small(100, 'x');
  size_t small_capacity = small.capacity();
  internal::TrimReadBuffer(&small, 1024);
  EXPECT_TRUE(small.empty());
  EXPECT_EQ(small.capacity(), small_capacity);  // kept for the next read

  std::string big(1 << 20, 'x');
  internal::TrimReadBuffer(&big, 1024);
  EXPECT_TRUE(big.empty());
  EXPECT_LE(big.capacity(), 1024u);
}

}  // namespace
}  // namespace profiled::api
