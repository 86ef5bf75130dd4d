// Static cohort uploads (POST /api/3/cohorts/upload and /membership) through
// api::ParseStaticCohortChange, as Endpoints::Cohorts calls it. Checks that an accepted change
// is what the writer may take: an upload creates one change with a name within the limit and a
// stored source that reads back as a static cohort; a membership names its cohort and carries
// one change per entry; never more than ingest::kMaxStaticCohortIds ids in all.
// The input: the request kind on the first byte (even: upload, odd: membership), then the body.
#include <cstdint>

#include "api/definition_wire.h"
#include "api/endpoints.h"
#include "api/static_cohort_wire.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue
  fuzz::FuzzInput input(data, size);
  bool upload = input.Byte() % 2 == 0;
  std::string_view body = input.Rest();
  ingest::StaticCohortChange change;
  Status s = api::ParseStaticCohortChange(
      upload ? api::StaticCohortRequest::kUpload : api::StaticCohortRequest::kMembership, body,
      &change);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kInvalidArgument && !s.message().empty());
    return 0;
  }
  size_t ids = 0;
  for (const ingest::MembershipChange& m : change.changes) ids += m.ids.size();
  FUZZ_CHECK(ids <= ingest::kMaxStaticCohortIds);
  FUZZ_CHECK(!change.changes.empty());
  if (upload) {
    FUZZ_CHECK(change.create && change.changes.size() == 1);
    FUZZ_CHECK(!change.name.empty() && change.name.size() <= api::kMaxDefinitionNameLength);
    // The registry keeps `source` and rebuilds the cohort from it at start-up.
    std::string id = change.cohort_id.empty() ? "c1" : change.cohort_id;
    ingest::Definition stored;
    FUZZ_CHECK(
        api::ParseStoredDefinition(ingest::DefinitionKind::kCohort, id, change.source, &stored)
            .ok());
    const auto* cohort = std::get_if<compute::Cohort>(&stored.typed);
    FUZZ_CHECK(cohort != nullptr && cohort->is_static && cohort->name == change.name);
  } else {
    FUZZ_CHECK(!change.create && !change.cohort_id.empty());
  }
  return 0;
}
