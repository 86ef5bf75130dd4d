// A user's stored records as a profile read decodes them: read::ProfileReader::Finish on the
// profile record, the aggregates record and the static cohorts record (store::DecodeProfile,
// AggregatesView, compute::Evaluate over computations and cohorts of every kind, the user
// properties cohorts read, DecodeStaticCohorts, recommendations served from the item history
// by a trained model), then both response dialects written from what it read. The catalog is
// built from definitions in the admin API's JSON, as the registry builds it. Checks that a
// record that does not decode is Corruption (the read answers 500, nothing else), that the
// Amplitude dialect, which parses what it serves, writes JSON or refuses with Corruption, and
// that the seed dialect, which copies stored JSON texts, writes JSON when those texts are.
// The input: a byte of read options, the lengths of the profile and aggregates records (2
// bytes each, big-endian), the two records, then the static cohorts record. An empty
// aggregates or static cohorts record is one the store does not have.
#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "api/profile_wire.h"
#include "catalogs.h"
#include "compute/catalog.h"
#include "core/clock.h"
#include "core/temp_dir.h"
#include "fuzz_input.h"
#include "read/profile_reader.h"
#include "recs/model_shelf.h"
#include "recs/serving.h"
#include "store/records.h"
#include "store/store.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue

constexpr int64_t kNow = fuzz::kRecordsNow;

struct Fixture {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  compute::CatalogHolder catalogs;
  recs::ModelShelf shelf;
  ManualClock clock{kNow};
  std::unique_ptr<read::ProfileReader> reader;

  Fixture() {
    store::RocksDbOptions options;
    options.path = dir.path();
    options.block_cache_bytes = 1 << 20;
    options.row_cache_bytes = 0;
    store = std::move(store::OpenRocksDbStore(options).value());
    std::string training_key;
    catalogs.Set("p", fuzz::ProjectCatalogOfDefinitions(&training_key));
    recs::TrainingSet data;
    for (uint64_t user = 1; user <= 6; ++user) {
      for (uint64_t item = 0; item < user; ++item) data.Add(user, "p" + std::to_string(item));
    }
    recs::ModelOptions model;
    model.kind = recs::ModelKind::kPopular;
    auto trained = recs::TrainServingModel(model, data, kNow);
    FUZZ_CHECK(trained.ok());
    shelf.Set("p", "r1", *trained, training_key);
    reader = std::make_unique<read::ProfileReader>(*store, catalogs, clock, &shelf);
  }
};

Fixture& TheFixture() {
  static Fixture fixture;
  return fixture;
}

bool IsJson(const std::string& text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = TheFixture();
  fuzz::FuzzInput input(data, size);
  uint8_t flags = input.Byte();
  uint8_t len_bytes[4] = {input.Byte(), input.Byte(), input.Byte(), input.Byte()};
  std::string_view rest = input.Rest();
  size_t profile_len = static_cast<size_t>(len_bytes[0]) << 8 | len_bytes[1];
  size_t aggregates_len = static_cast<size_t>(len_bytes[2]) << 8 | len_bytes[3];
  std::string_view profile = rest.substr(0, profile_len);
  rest.remove_prefix(profile.size());
  std::string_view aggregates = rest.substr(0, aggregates_len);
  rest.remove_prefix(aggregates.size());
  std::string_view static_cohorts = rest;

  api::ProfileQuery q;
  q.user_id = "user-1";
  q.get_recs = (flags & 1) != 0;
  q.get_amp_props = (flags & 2) != 0;
  q.get_cohort_ids = (flags & 4) != 0;
  q.get_computations = (flags & 8) != 0;
  if ((flags & 16) != 0) q.comp_ids = {"2", "8", "99"};
  if ((flags & 32) != 0) q.rec_type = (flags & 64) != 0 ? "model" : "random";
  ProfileDialect dialect = (flags & 128) != 0 ? ProfileDialect::kAmplitude : ProfileDialect::kSeed;
  read::ReadOptions options = api::ReadOptionsFor(q, dialect);

  read::PreparedRead prepared;
  f.reader->Prepare("p", q.user_id, q.device_id, options, &prepared);
  FUZZ_CHECK(f.reader->Resolve(store::EncodeId(42), &prepared).ok());
  read::UserData user;
  const std::string_view records[] = {profile, aggregates, static_cohorts};
  std::vector<Status> statuses;
  for (size_t i = 0; i < prepared.keys.size(); ++i) {
    user.records.emplace_back(records[i]);
    statuses.push_back(i > 0 && records[i].empty() ? Status::NotFound("") : Status::Ok());
  }
  Status s = f.reader->Finish(prepared, statuses, options, &user);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kCorruption);
    return 0;
  }
  std::string out;
  if (dialect == ProfileDialect::kSeed) {
    api::WriteSeedProfile(q, user, &out);
    // The seed dialect copies the stored JSON texts as they are (docs/ARCHITECTURE.md): its
    // answer is JSON whenever they are.
    bool texts_are_json = IsJson(std::string(user.profile.properties_json));
    for (const auto& [id, value] : user.computed) {
      if (const auto* t = std::get_if<compute::JsonText>(&value)) {
        texts_are_json = texts_are_json && IsJson(t->text);
      }
    }
    if (texts_are_json) FUZZ_CHECK(IsJson(out));
    return 0;
  }
  s = api::WriteAmplitudeProfile(q, user, &out);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kCorruption);
    return 0;
  }
  if (!IsJson(out)) std::fprintf(stderr, "not JSON: %s\n", out.c_str());
  FUZZ_CHECK(IsJson(out));
  return 0;
}
