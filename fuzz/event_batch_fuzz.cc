// Ingestion bodies (POST /2/httpapi and /batch) through api::ParseEventBatch, as
// Endpoints::TrackEvents calls it. Beyond not crashing, it checks what the rest of the server
// relies on:
//  - a refused body's answer (RejectionBody) is a JSON object with Amplitude's "code", which
//    the SDKs read;
//  - an accepted event's text for the event log reads back (store::EncodeEvent, DecodeEvent,
//    ingest::ParseLoggedEvent) into the same event properties and top-level fields that the
//    writer got from the parse, so a backfill sees each event as the writer did.
// The input is the body.
#include <boost/json.hpp>
#include <cstdint>

#include "api/ingest_wire.h"
#include "core/value_text.h"
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
  if (e.origin == ingest::EventOrigin::kIdentifyApi) return;  // never logged
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  std::string_view body = input.Rest();
  api::ParsedBatch batch;
  api::IngestRejection rejection;
  if (!api::ParseEventBatch(body, kNow, &batch, &rejection)) {
    FUZZ_CHECK(rejection.http_status == 400 || rejection.http_status == 413);
    FUZZ_CHECK(IsJsonObjectWithCode(api::RejectionBody(rejection)));
    return 0;
  }
  FUZZ_CHECK(!batch.events.empty());
  for (const ingest::Event& e : batch.events) CheckLogRoundTrip(e);
  FUZZ_CHECK(IsJsonObjectWithCode(api::SuccessBody(batch.events.size(), body.size(), kNow)));
  return 0;
}
