// Profile API query strings (GET /v1/userprofile?...) through api::ParseProfileQuery and
// api::ReadOptionsFor, as Endpoints::Profile calls them, then both response dialects written
// for what the query asks. Checks that a refusal's answer (ProfileErrorBody, which quotes the
// query) is JSON, that what was parsed keeps its documented bounds (rec_id: at most
// kMaxRecIdsPerRead distinct ids; comp_id: canonical decimal integers; limit 1..1000), and that
// both dialects write JSON for a profile with every section filled.
// The input is the query string, without '?'.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "api/http_errors.h"
#include "api/profile_wire.h"
#include "fuzz_input.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue

bool IsJson(const std::string& text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  std::string_view query = input.Rest();
  api::ProfileQuery q;
  Status s = api::ParseProfileQuery(query, &q);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kInvalidArgument);
    FUZZ_CHECK(IsJson(api::ProfileErrorBody(s.message())));
    return 0;
  }
  FUZZ_CHECK(!q.user_id.empty() || !q.device_id.empty());
  FUZZ_CHECK(q.rec_ids.size() <= api::kMaxRecIdsPerRead);
  for (size_t i = 0; i < q.rec_ids.size(); ++i) {
    FUZZ_CHECK(!q.rec_ids[i].empty());
    FUZZ_CHECK(std::find(q.rec_ids.begin(), q.rec_ids.begin() + static_cast<long>(i),
                         q.rec_ids[i]) == q.rec_ids.begin() + static_cast<long>(i));
  }
  for (const std::string& id : q.comp_ids) {
    FUZZ_CHECK(!id.empty() && id.size() <= 19);
    FUZZ_CHECK(id == "0" || id.front() != '0');
    FUZZ_CHECK(std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }));
  }
  FUZZ_CHECK(q.limit == 0 || (q.limit >= 1 && q.limit <= 1000));

  for (ProfileDialect dialect : {ProfileDialect::kSeed, ProfileDialect::kAmplitude}) {
    read::ReadOptions options = api::ReadOptionsFor(q, dialect);
    // A profile as a read would fill it for these options: stored records are JSON objects.
    read::UserData user;
    user.amplitude_id = 42;
    user.profile.user_id = "user-1";
    user.profile.device_id = "device-1";
    user.profile.builtins_json = R"({"platform":"Web","country":"France"})";
    user.profile.properties_json = R"({"plan":"pro","n":[1,2.5,null]})";
    for (uint64_t id : options.computation_ids) {
      user.computed.emplace_back(id, compute::Value(int64_t{3}));
    }
    if (options.computations && options.computation_ids.empty()) {
      user.computed.emplace_back(7, compute::Value(2.5));
      user.computed.emplace_back(8, compute::Value(compute::JsonText{"\"text\""}));
      user.computed.emplace_back(9, compute::Value());
    }
    if (options.cohorts) user.cohort_ids = {"c1", "vip"};
    if (options.recs.wanted) {
      // Served ids are the catalog's (validated definitions), never the query's text.
      for (size_t i = 0; i < std::max<size_t>(1, options.recs.ids.size()); ++i) {
        read::ServedRecommendation& r = user.recommendations.emplace_back();
        r.rec_id = "r" + std::to_string(i);
        r.title = "For you";
        r.items = {"a", "b"};
        r.type = "ease";
      }
    }
    std::string out;
    if (dialect == ProfileDialect::kSeed) {
      api::WriteSeedProfile(q, user, &out);
    } else {
      FUZZ_CHECK(api::WriteAmplitudeProfile(q, user, &out).ok());
    }
    FUZZ_CHECK(IsJson(out));
  }
  return 0;
}
