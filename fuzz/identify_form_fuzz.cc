// The /identify form (api::ParseFormBody, urlencoded or multipart) and its `identification`
// field (api::ParseIdentification), as Endpoints::Identify calls them; a GET's query string is
// the urlencoded case. Checks that a refusal's answer is a JSON object with "code" and that
// every event made is an /identify event: $identify, neither logged nor counted (no event
// properties or fields for definitions to read).
// The input: the Content-Type on the first line, then the body.
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "api/form.h"
#include "api/ingest_wire.h"
#include "fuzz_input.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue

constexpr int64_t kNow = 1767225600000;  // 2026-01-01

bool IsJsonObjectWithCode(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return !ec && v.is_object() && v.as_object().contains("code");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  std::string_view content_type = input.Line();
  std::string_view body = input.Rest();
  std::map<std::string, std::string> fields;
  if (!api::ParseFormBody(content_type, body, &fields).empty()) return 0;
  auto identification = fields.find("identification");
  if (identification == fields.end() || identification->second.empty()) return 0;
  std::vector<ingest::Event> events;
  api::IngestRejection rejection;
  if (!api::ParseIdentification(identification->second, kNow, &events, &rejection)) {
    FUZZ_CHECK(IsJsonObjectWithCode(api::RejectionBody(rejection)));
    return 0;
  }
  FUZZ_CHECK(!events.empty());
  for (const ingest::Event& e : events) {
    FUZZ_CHECK(e.origin == ingest::EventOrigin::kIdentifyApi);
    FUZZ_CHECK(e.event_type == "$identify");
    FUZZ_CHECK(e.event_properties.empty() && e.fields.empty());
  }
  return 0;
}
