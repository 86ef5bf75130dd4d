// Writes the binary seeds of the stored-record targets (user_record, aggregates, records,
// serving_model) with the encoders the server writes them with, into the corpus directory
// given as the only argument. Not part of any test: run it by hand after a format changes
// (fuzz/README.md), and commit what it writes.
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalogs.h"
#include "compute/aggregate.h"
#include "core/coding.h"
#include "ingest/model_store.h"
#include "recs/model_codec.h"
#include "recs/serving.h"
#include "store/keys.h"
#include "store/records.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a tool's glue
namespace json = boost::json;

std::filesystem::path root;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  std::filesystem::create_directories(root / target);
  std::ofstream out(root / target / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  FUZZ_CHECK(out.good());
}

std::string Be16(size_t n) {
  FUZZ_CHECK(n < 65536);
  return {static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
}

struct Ev {
  std::string type;
  int64_t time_ms;
  json::object props;
  json::object fields;
};

// The aggregates record a user with these events has under `specs`.
std::string AggregatesOf(const std::vector<compute::SpecEntry>& specs, const std::vector<Ev>& evs,
                         int64_t now) {
  compute::UserAggregates a;
  for (const Ev& e : evs) {
    compute::EventFields f{e.type, e.time_ms, &e.props, &e.fields};
    for (const compute::SpecEntry& s : specs) {
      if (compute::SpecMatches(s.spec, f)) a.states[s.id].Add(s.spec, f, now);
    }
  }
  return a.Encode();
}

void UserRecordSeeds() {
  const int64_t now = fuzz::kRecordsNow;
  const int64_t day = fuzz::kDay;
  std::string training_key;
  auto catalog = fuzz::ProjectCatalogOfDefinitions(&training_key);
  std::vector<Ev> evs = {
      {"Purchase", now - day, {{"price", 12.5}, {"sku", "s1"}}, {{"revenue", 30}}},
      {"Purchase", now - 3 * day, {{"price", 99}, {"sku", "s2"}}, {}},
      {"Purchase", now - 40 * day, {{"price", "7"}, {"sku", "s1"}}, {}},
      {"Upgrade", now - 2 * day, {{"plan", "pro"}}, {}},
      {"Upgrade", now - 5 * day, {{"plan", "free"}}, {}},
      {"Product Viewed", now - day, {{"product_id", "p3"}}, {}},
      {"Product Viewed", now - 2 * day, {{"product_id", 5}}, {}},
  };
  std::string aggregates = AggregatesOf(catalog->specs(), evs, now);
  store::ProfileRecord profile{"user-1", "device-1", R"({"platform":"Web","country":"DE"})",
                               R"({"plan":"pro","age":31,"tags":["a",{"b":null}],"x":-0.5})"};
  std::string p = store::EncodeProfile(profile);
  std::string s = store::EncodeStaticCohorts({"vip", "z"});
  auto seed = [&](uint8_t flags, std::string_view prof, std::string_view agg,
                  std::string_view stat) {
    return std::string(1, static_cast<char>(flags)) + Be16(prof.size()) + Be16(agg.size()) +
           std::string(prof) + std::string(agg) + std::string(stat);
  };
  Write("user_record", "seed-everything", seed(0x1f, p, aggregates, s));
  Write("user_record", "amplitude-everything", seed(0x9f, p, aggregates, s));
  Write("user_record", "amplitude-recs-random", seed(0xa1, p, aggregates, ""));
  Write("user_record", "profile-only", seed(0x06, p, "", ""));
  store::ProfileRecord anonymous{"", "device-9", "{}", "{}"};
  Write("user_record", "anonymous", seed(0x8e, store::EncodeProfile(anonymous), "", s));
}

void AggregatesSeeds() {
  const int64_t now = fuzz::kRecordsNow;
  const int64_t day = fuzz::kDay;
  std::vector<compute::SpecEntry> specs = fuzz::EverySpec();
  std::vector<Ev> evs;
  for (int i = 0; i < 12; ++i) {
    Ev e{i % 3 == 0 ? "view" : "buy", now - (i % 6) * day - int64_t{i} * 1000, {}, {}};
    if (i % 4 != 0) e.props["price"] = i - 3;
    if (i % 5 != 0) e.props["sku"] = "s" + std::to_string(i % 4);
    e.fields["revenue"] = 2.5 * i;
    evs.push_back(std::move(e));
  }
  std::string record = AggregatesOf(specs, evs, now);
  // mode, offered specs, time (5 days of the 60 near now), type, properties, record
  std::string header = std::string(1, '\0') + std::string(4, '\xff');
  std::string time(8, '\0');
  time[5] = static_cast<char>((5 * day) >> 16 & 0xff);
  time[6] = static_cast<char>((5 * day) >> 8 & 0xff);
  time[7] = static_cast<char>((5 * day) & 0xff);
  Write("aggregates", "record-buy",
        header + time + std::string(1, '\0') + R"({"price":4,"sku":"s1"})" + "\n" + record);
  Write("aggregates", "record-view-new-user",
        header + time + std::string(1, '\1') + R"({"price":"x"})" + "\n");
  compute::UserAggregates decoded;
  FUZZ_CHECK(compute::UserAggregates::Decode(record, &decoded).ok());
  for (const auto& [id, state] : decoded.states) {
    if (id != 8 && id != 26 && id != 37 && id != 38) continue;  // distinct, days, items
    // mode (one state), no specs offered, the time, a type, no properties, the state
    std::string seed(1, '\1');
    seed.append(4, '\0');
    seed += time;
    seed += std::string(1, '\0') + "{}\n";
    state.EncodeTo(&seed);
    Write("aggregates", "state-" + std::to_string(id), seed);
  }
}

void RecordsSeeds() {
  auto seed = [](char which, std::string_view bytes) {
    return std::string(1, which) + std::string(bytes);
  };
  store::ProfileRecord profile{"user-1", "device-1", R"({"platform":"iOS"})",
                               R"({"age":31,"country":"FR","plan":{"tier":"pro"},"z":[1]})"};
  Write("records", "profile", seed(0, store::EncodeProfile(profile)));
  Write("records", "id", seed(1, store::EncodeId(123456789)));
  store::EventRecord event{42, 1767225600000, "Purchase",
                           R"({"event_type":"Purchase","event_properties":{"price":3},)"
                           R"("user_id":"u","time":1767225600000,"platform":"Web"})"};
  Write("records", "event", seed(2, store::EncodeEvent(event)));
  Write("records", "dedup", seed(3, store::EncodeDedup(1767225600000)));
  Write("records", "static-cohorts", seed(4, store::EncodeStaticCohorts({"a", "vip"})));
  ingest::ModelHead head;
  head.generation = 3;
  head.chunks = 2;
  head.pending_generation = 4;
  head.training_key = "popular|Product Viewed|product_id|30";
  head.request_seen = "token-1";
  head.status.state = ingest::RecTrainingStatus::State::kReady;
  head.status.progress = 1;
  head.status.model = "popular";
  head.status.users = 10;
  Write("records", "model-head", seed(5, ingest::EncodeModelHead(head)));
  Write("records", "user-key",
        seed(6, store::UserRecordKey("demo", 42, store::UserRecord::kAggregates)));
}

void ServingModelSeeds() {
  recs::TrainingSet data;
  for (uint64_t user = 1; user <= 8; ++user) {
    for (uint64_t item = 0; item < user % 5 + 2; ++item) {
      data.Add(user, "i" + std::to_string((user + item) % 7));
    }
  }
  for (recs::ModelKind kind :
       {recs::ModelKind::kPopular, recs::ModelKind::kItemKnn, recs::ModelKind::kEase}) {
    recs::ModelOptions options = recs::DefaultModelOptions(kind);
    options.neighbours = 3;
    auto model = recs::TrainServingModel(options, data, 1767225600000);
    FUZZ_CHECK(model.ok());
    // The seeds stay the same bytes from run to run without the training's duration. (The
    // model was made mutable, by make_shared in the trainer: only the pointer is to const.)
    const_cast<recs::ServingModel&>(**model).train_seconds = 0;
    std::string bytes = recs::EncodeServingModel(**model);
    std::string name(recs::ModelName(kind));
    Write("serving_model", name + "-checked", std::string(1, '\0') + bytes);
    // Without its checksum, which the target appends.
    Write("serving_model", name, std::string(1, '\x41') + bytes.substr(0, bytes.size() - 8));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR (fuzz/corpus)\n");
    return 2;
  }
  root = argv[1];
  UserRecordSeeds();
  AggregatesSeeds();
  RecordsSeeds();
  ServingModelSeeds();
  return 0;
}
