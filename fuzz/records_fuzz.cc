// The store's value decoders beyond a user's profile read (store/records.h and the model head
// of ingest/model_store.h), on bytes as a damaged or foreign store might hold them: each must
// refuse with Corruption rather than crash, and what decodes must encode to bytes that decode
// to the same value. For a profile record, read::PickStoredProperties (what cohort conditions
// read of the properties) must fail only where ParseStoredObject fails, and agree with it on
// the texts the writer writes.
// The input: a byte choosing the decoder (its value modulo 7), then the bytes.
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/value_text.h"
#include "fuzz_input.h"
#include "ingest/logged_event.h"
#include "ingest/model_store.h"
#include "read/stored_properties.h"
#include "store/keys.h"
#include "store/records.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue

void CheckProfile(std::string_view bytes) {
  store::ProfileView view;
  Status s = store::DecodeProfile(bytes, &view);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kCorruption);
    return;
  }
  store::ProfileRecord record{std::string(view.user_id), std::string(view.device_id),
                              std::string(view.builtins_json), std::string(view.properties_json)};
  std::string encoded = store::EncodeProfile(record);
  store::ProfileView again;
  FUZZ_CHECK(store::DecodeProfile(encoded, &again).ok());
  FUZZ_CHECK(again.user_id == view.user_id && again.device_id == view.device_id &&
             again.builtins_json == view.builtins_json &&
             again.properties_json == view.properties_json);

  boost::json::object builtins;
  (void)ParseStoredObject(view.builtins_json, &builtins);
  boost::json::object all;
  bool parsed = ParseStoredObject(view.properties_json, &all).ok();
  const std::vector<std::string> names = {"age", "country", "plan"};  // sorted, unique
  boost::json::array values;
  std::vector<const boost::json::value*> picked;
  Status p = read::PickStoredProperties(view.properties_json, names, &values, &picked);
  if (!p.ok()) {
    FUZZ_CHECK(p.code() == ErrorCode::kCorruption);
    // Picking checks less than parsing, never more.
    FUZZ_CHECK(!parsed);
    return;
  }
  // Picking reads texts as core/json_writer.h writes them (no name twice, names escaped only
  // where they must be); on those it must read what parsing reads.
  if (!parsed || ObjectText(all) != view.properties_json) return;
  for (size_t i = 0; i < names.size(); ++i) {
    const boost::json::value* want = all.if_contains(names[i]);
    const boost::json::value* got = picked[i];
    FUZZ_CHECK((want == nullptr) == (got == nullptr));
    if (want != nullptr) FUZZ_CHECK(*want == *got);
  }
}

void CheckEvent(std::string_view bytes) {
  store::EventRecord record;
  Status s = store::DecodeEvent(bytes, &record);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kCorruption);
    return;
  }
  store::EventRecord again;
  FUZZ_CHECK(store::DecodeEvent(store::EncodeEvent(record), &again).ok());
  FUZZ_CHECK(again.amplitude_id == record.amplitude_id && again.time_ms == record.time_ms &&
             again.event_type == record.event_type && again.json == record.json);
  ingest::LoggedEvent logged;
  bool ok = ingest::ParseLoggedEvent(record, &logged);
  compute::EventFields fields = ingest::FieldsOfLoggedEvent(record, ok ? &logged : nullptr);
  FUZZ_CHECK(fields.time_ms == record.time_ms);
}

void CheckModelHead(std::string_view bytes) {
  ingest::ModelHead head;
  Status s = ingest::DecodeModelHead(bytes, &head);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kCorruption);
    return;
  }
  std::string encoded = ingest::EncodeModelHead(head);
  ingest::ModelHead again;
  FUZZ_CHECK(ingest::DecodeModelHead(encoded, &again).ok());
  FUZZ_CHECK(ingest::EncodeModelHead(again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  uint8_t which = input.Byte() % 7;
  std::string_view bytes = input.Rest();
  switch (which) {
    case 0: CheckProfile(bytes); break;
    case 1: {
      uint64_t id = 0;
      if (store::DecodeId(bytes, &id).ok()) {
        uint64_t again = 0;
        FUZZ_CHECK(store::DecodeId(store::EncodeId(id), &again).ok() && again == id);
      }
      break;
    }
    case 2: CheckEvent(bytes); break;
    case 3: {
      int64_t first_seen = 0;
      if (store::DecodeDedup(bytes, &first_seen).ok()) {
        int64_t again = 0;
        FUZZ_CHECK(store::DecodeDedup(store::EncodeDedup(first_seen), &again).ok() &&
                   again == first_seen);
      }
      break;
    }
    case 4: {
      std::vector<std::string> ids;
      if (store::DecodeStaticCohorts(bytes, &ids).ok()) {
        std::vector<std::string> again;
        FUZZ_CHECK(store::DecodeStaticCohorts(store::EncodeStaticCohorts(ids), &again).ok() &&
                   again == ids);
      }
      break;
    }
    case 5: CheckModelHead(bytes); break;
    default: {
      store::UserKeyParts parts;
      if (store::ParseUserKey(bytes, &parts)) {
        // What it read names the same key (a length may have been written in more bytes than
        // its varint needs, which no key of profiled's has).
        std::string key = store::UserKeyPrefix(parts.project, parts.amplitude_id);
        key += parts.tail;
        store::UserKeyParts again;
        FUZZ_CHECK(store::ParseUserKey(key, &again));
        FUZZ_CHECK(again.project == parts.project && again.amplitude_id == parts.amplitude_id &&
                   again.tail == parts.tail);
      }
      break;
    }
  }
  return 0;
}
