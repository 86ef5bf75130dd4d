// Definition bodies of the admin API (PUT /admin/v1/projects/{p}/{kind}/{id}) through
// api::ParseComputation, ParseCohort and ParseRecommendation, as Endpoints::Admin calls them,
// then what the registry does with an accepted one: the source it stores (NormalizedSource, or
// the recommendation's own normalised source) must read back through ParseStoredDefinition, as
// at every start-up, into the same definition. A definition that stores but does not read back
// would stop the server from starting, or change meaning across a restart.
// The input: the kind on the first byte (its value modulo 3: computation, cohort,
// recommendation), the path id on the first line after it, then the body.
#include <cstdint>
#include <cstdio>
#include <string>
#include <variant>

#include "api/definition_wire.h"
#include "api/endpoints.h"
#include "fuzz_input.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue
using ingest::DefinitionKind;

// Every field of a definition, as text: two definitions with the same text mean the same.
void Describe(const compute::Filter& f, std::string* out) {
  *out += "filter(" + f.prop + "," + std::to_string(static_cast<int>(f.op));
  for (const std::string& v : f.values) *out += "," + v;
  *out += ")";
}

std::string Describe(const compute::Computation& c) {
  return std::to_string(c.id) + "|" + c.name + "|" + c.spec.Canonical();
}

std::string Describe(const compute::Cohort& c) {
  std::string out = c.id + "|" + c.name + "|" + (c.is_static ? "static" : "behavioral");
  for (const compute::CohortClause& clause : c.all_of) {
    out += clause.negated ? "|not[" : "|[";
    for (const compute::CohortCondition& cond : clause.any_of) {
      out += std::to_string(static_cast<int>(cond.kind)) + ":" + cond.spec.Canonical() + ":" +
             std::to_string(static_cast<int>(cond.comparison)) + ":" +
             std::to_string(cond.operand) + ":" + cond.cohort_id + ":";
      Describe(cond.filter, &out);
      out += ";";
    }
    out += "]";
  }
  return out;
}

std::string Describe(const compute::Recommendation& r) {
  return r.id + "|" + r.title + "|" + compute::TrainingKey(r) + "|" + r.history.Canonical();
}

std::string Describe(const ingest::TypedDefinition& typed) {
  return std::visit([](const auto& d) { return Describe(d); }, typed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  const DefinitionKind kinds[] = {DefinitionKind::kComputation, DefinitionKind::kCohort,
                                  DefinitionKind::kRecommendation};
  DefinitionKind kind = kinds[input.Byte() % 3];
  std::string id(input.Line());
  std::string_view body = input.Rest();

  ingest::Definition put;  // what Endpoints::Admin hands the writer
  Status s;
  if (kind == DefinitionKind::kComputation) {
    compute::Computation c;
    s = api::ParseComputation(body, id, &c);
    put.typed = std::move(c);
  } else if (kind == DefinitionKind::kCohort) {
    compute::Cohort c;
    s = api::ParseCohort(body, id, &c);
    put.typed = std::move(c);
  } else {
    compute::Recommendation r;
    s = api::ParseRecommendation(body, id, &r, &put.source);
    put.typed = std::move(r);
  }
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kInvalidArgument);
    return 0;
  }
  if (kind != DefinitionKind::kRecommendation) put.source = api::NormalizedSource(body, kind, id);

  ingest::Definition stored;  // what the next start-up rebuilds from the store
  s = api::ParseStoredDefinition(kind, id, put.source, &stored);
  if (!s.ok()) std::fprintf(stderr, "stored source does not parse: %s\n", s.ToString().c_str());
  FUZZ_CHECK(s.ok());
  FUZZ_CHECK(stored.source == put.source);
  FUZZ_CHECK(Describe(stored.typed) == Describe(put.typed));
  return 0;
}
