// The legacy v1 upload (POST /, amplitude-js) as Endpoints::LegacyUpload reads it: the form
// (api::ParseFormBody), its five fields (ParseLegacyUpload), the checksum
// (LegacyChecksumMatches) and the events of `e` (ParseLegacyEvents). The events are parsed
// whether or not the checksum matches: anyone can compute it, so the parser sees any bytes.
// Beyond not crashing, it checks:
//  - the checksum of the form's own fields, computed as amplitude-js does, matches;
//  - a refusal's answer is a JSON object with "code" (status 400 or 413);
//  - an accepted event's text for the event log reads back (store::EncodeEvent, DecodeEvent,
//    ingest::ParseLoggedEvent) into the same event properties and top-level fields the writer
//    got, and names the event's time `time` as HTTP V2 does.
// The input: the Content-Type on the first line, then the body.
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <string>

#include "api/form.h"
#include "api/ingest_wire.h"
#include "core/hash.h"
#include "fuzz_input.h"
#include "ingest/logged_event.h"
#include "store/records.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue

constexpr int64_t kNow = 1767225600000;  // 2026-01-01

bool IsJsonObjectWithCode(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  return !ec && v.is_object() && v.as_object().contains("code");
}

void CheckLogRoundTrip(const ingest::Event& e) {
  std::string bytes =
      store::EncodeEvent(store::EventRecordView{7, e.time_ms, e.event_type, e.json});
  store::EventRecord record;
  FUZZ_CHECK(store::DecodeEvent(bytes, &record).ok());
  FUZZ_CHECK(record.event_type == e.event_type && record.time_ms == e.time_ms);
  ingest::LoggedEvent logged;
  FUZZ_CHECK(ingest::ParseLoggedEvent(record, &logged));
  FUZZ_CHECK(logged.event_type == e.event_type);
  FUZZ_CHECK(logged.properties == e.event_properties);
  FUZZ_CHECK(logged.fields == e.fields);
  const boost::json::value* time = logged.fields.if_contains("time");
  FUZZ_CHECK(time != nullptr && time->is_number() &&
             time->to_number<double>() == static_cast<double>(e.time_ms));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  std::string_view content_type = input.Line();
  std::string_view body = input.Rest();
  std::map<std::string, std::string> fields;
  if (!api::ParseFormBody(content_type, body, &fields).empty()) return 0;
  api::LegacyForm form;
  api::IngestRejection rejection;
  if (!api::ParseLegacyUpload(fields, &form, &rejection)) {
    FUZZ_CHECK(!rejection.missing_field.empty());
    FUZZ_CHECK(IsJsonObjectWithCode(api::RejectionBody(rejection)));
    return 0;
  }
  (void)api::LegacyChecksumMatches(form);
  api::LegacyForm signed_form = form;
  signed_form.checksum = Md5Hex(form.version + form.client + form.events + form.upload_time);
  FUZZ_CHECK(api::LegacyChecksumMatches(signed_form));

  std::vector<ingest::Event> events;
  if (!api::ParseLegacyEvents(form.events, kNow, &events, &rejection)) {
    FUZZ_CHECK(rejection.http_status == 400 || rejection.http_status == 413);
    FUZZ_CHECK(IsJsonObjectWithCode(api::RejectionBody(rejection)));
    FUZZ_CHECK(events.empty());
    return 0;
  }
  FUZZ_CHECK(!events.empty());
  for (const ingest::Event& e : events) CheckLogRoundTrip(e);
  return 0;
}
