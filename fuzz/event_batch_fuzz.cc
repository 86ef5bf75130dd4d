// Ingestion bodies (POST /2/httpapi and /batch) through api::ParseEventBatch, as
// Endpoints::TrackEvents calls it. Beyond not crashing, it checks what the rest of the server
// relies on:
//  - a refused body's answer (RejectionBody) is a JSON object with Amplitude's "code", which
//    the SDKs read;
//  - an accepted event's text for the event log reads back (store::EncodeEvent, DecodeEvent,
//    ingest::ParseLoggedEvent) into the same event properties and top-level fields that the
//    writer got from the parse, so a backfill sees each event as the writer did;
//  - applied in order to one user as the writer applies them (ingest::ApplyBuiltins,
//    RecordActivity, ApplyPropertyOps), the user's properties never grow by more than
//    ingest::GrowthBound promises (the writer's check of the 1 MiB limit relies on it), and
//    the stored JSON text of the properties and built-in fields reads back as the same values.
// The input is the body.
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>

#include "api/ingest_wire.h"
#include "core/value_text.h"
#include "fuzz_input.h"
#include "ingest/builtins.h"
#include "ingest/logged_event.h"
#include "ingest/property_ops.h"
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

// The same JSON, numbers compared by value (the writer stores 2.0 as 2, and -0.0 as 0).
bool Same(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return a.to_number<double>() == b.to_number<double>();
    return a == b;
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const boost::json::object& x = a.get_object();
    const boost::json::object& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const boost::json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !Same(kv.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const boost::json::array& x = a.get_array();
    const boost::json::array& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!Same(x[i], y[i])) return false;
    }
    return true;
  }
  return a == b;
}

// The object as the store keeps it reads back as the same object.
void CheckStoredText(const boost::json::object& o) {
  boost::json::object back;
  FUZZ_CHECK(ParseStoredObject(ObjectText(o), &back).ok());
  FUZZ_CHECK(Same(boost::json::value(o), boost::json::value(back)));
}

// The writer's pure steps for one event of one user (ingest/ingestor.cc, ApplyEvent).
void Apply(const ingest::Event& e, boost::json::object* builtins, boost::json::object* properties) {
  ingest::ApplyBuiltins(e.builtins, builtins);
  if (e.origin == ingest::EventOrigin::kTrack) ingest::RecordActivity(e.time_ms, builtins);
  if (e.skip_user_properties || e.property_ops.empty()) return;
  size_t before = ObjectText(*properties).size();
  ingest::ApplyPropertyOps(e.property_ops, properties);
  size_t after = ObjectText(*properties).size();
  if (after > before + ingest::GrowthBound(e.property_ops)) {
    std::fprintf(stderr, "properties grew from %zu to %zu bytes, bound %zu\n", before, after,
                 ingest::GrowthBound(e.property_ops));
  }
  FUZZ_CHECK(after <= before + ingest::GrowthBound(e.property_ops));
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
  boost::json::object builtins;
  boost::json::object properties;
  for (const ingest::Event& e : batch.events) {
    CheckLogRoundTrip(e);
    Apply(e, &builtins, &properties);
  }
  CheckStoredText(builtins);
  CheckStoredText(properties);
  FUZZ_CHECK(IsJsonObjectWithCode(api::SuccessBody(batch.events.size(), body.size(), kNow)));
  return 0;
}
