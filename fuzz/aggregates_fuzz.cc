// Stored aggregates (the per-user record tagged 'a', compute/aggregate.h) as the reader and
// the writer decode them: AggregatesView::Parse, EvaluateEncoded and ItemsOf (a profile read),
// UserAggregates::Decode and SpecState::Decode (a merge), AggregatesEditor::AddEvent (the
// writer's update, event by event). Over a catalog with a spec of every metric and scope, it
// checks beyond not crashing:
//  - a record or state that decodes encodes to bytes that decode and encode to the same bytes;
//  - on a record as the writer writes it (one that encodes back to itself), evaluating in place
//    agrees with evaluating the decoded state, for every spec;
//  - the editor writes exactly what decoding, SpecState::Add and encoding would (its header's
//    promise), and leaves the record alone when it fails.
// The input: a mode byte (odd: the rest after the event is one SpecState, even: a whole
// record), 4 bytes of which specs the event is offered to, 8 bytes of the event's time, a byte
// choosing its type, its event properties as JSON on one line, then the bytes.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "catalogs.h"
#include "compute/aggregate.h"
#include "compute/aggregates_editor.h"
#include "compute/catalog.h"
#include "core/value_text.h"
#include "fuzz_input.h"

namespace {

using namespace profiled;           // NOLINT(google-build-using-namespace): a fuzz target's glue
using namespace profiled::compute;  // NOLINT(google-build-using-namespace)

constexpr int64_t kDay = fuzz::kDay;
constexpr int64_t kNow = fuzz::kRecordsNow;
constexpr int64_t kMaxTimeMs = 253402300799999;  // the latest time ingestion accepts

const ProjectCatalog& Catalog() {
  static const ProjectCatalog catalog(fuzz::EverySpec(), {}, {});
  return catalog;
}

// A value as text, so that NaN compares equal to itself.
std::string Text(const Value& v) {
  std::string out = std::to_string(v.index()) + ":";
  if (const auto* i = std::get_if<int64_t>(&v)) out += std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    uint64_t bits = 0;
    std::memcpy(&bits, d, sizeof bits);
    out += std::isnan(*d) ? "nan" : std::to_string(bits);
  }
  if (const auto* t = std::get_if<JsonText>(&v)) out += t->text;
  return out;
}

void EvaluateEverySpec(const AggregatesView& view) {
  for (const SpecEntry& e : Catalog().specs()) {
    Value value;
    (void)EvaluateEncoded(e.spec, view.Find(e.id), kNow, &value);
    if (e.spec.metric == Metric::kItems) {
      std::vector<std::string_view> items;
      (void)ItemsOf(e.spec, view.Find(e.id), kNow, &items);
    }
  }
}

void CheckRecord(std::string_view record) {
  AggregatesView view;
  bool view_ok = view.Parse(record).ok();
  if (view_ok) EvaluateEverySpec(view);
  UserAggregates decoded;
  if (!UserAggregates::Decode(record, &decoded).ok()) return;
  FUZZ_CHECK(view_ok);
  std::string encoded = decoded.Encode();
  UserAggregates again;
  FUZZ_CHECK(UserAggregates::Decode(encoded, &again).ok());
  FUZZ_CHECK(again.Encode() == encoded);  // bytes, not ==: a stored sum may be NaN
  if (encoded != record) return;          // not as the writer writes it: in-place reads may differ
  for (const SpecEntry& e : Catalog().specs()) {
    auto state = decoded.states.find(e.id);
    if (state == decoded.states.end()) continue;
    Value in_place;
    if (!EvaluateEncoded(e.spec, view.Find(e.id), kNow, &in_place).ok()) continue;
    FUZZ_CHECK(Text(in_place) == Text(state->second.Evaluate(e.spec, kNow)));
  }
}

void CheckState(std::string_view bytes) {
  for (const SpecEntry& e : Catalog().specs()) {
    Value value;
    (void)EvaluateEncoded(e.spec, bytes, kNow, &value);
  }
  SpecState state;
  if (!SpecState::Decode(bytes, &state).ok()) return;
  std::string encoded;
  state.EncodeTo(&encoded);
  SpecState again;
  FUZZ_CHECK(SpecState::Decode(encoded, &again).ok());
  std::string reencoded;
  again.EncodeTo(&reencoded);
  FUZZ_CHECK(reencoded == encoded);  // bytes, not ==: a stored sum may be NaN
}

// The editor against its reference on `record` (a writer's record when it encodes to itself).
void CheckEditor(uint32_t offered, const EventFields& event, const std::string& record) {
  std::vector<const SpecEntry*> matched;
  const std::vector<SpecEntry>& specs = Catalog().specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    if ((offered >> (i % 32) & 1) != 0 && SpecMatches(specs[i].spec, event)) {
      matched.push_back(&specs[i]);
    }
  }
  AggregatesEditor editor;
  std::string edited = record;
  bool changed = false;
  Status s = editor.AddEvent(Catalog(), matched, event, kNow, &edited, &changed);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == ErrorCode::kCorruption && edited == record);
    return;
  }
  FUZZ_CHECK(changed == (edited != record));
  UserAggregates reference;
  if (!record.empty()) {
    if (!UserAggregates::Decode(record, &reference).ok()) return;
    if (reference.Encode() != record) return;
  }
  std::erase_if(reference.states,
                [](const auto& kv) { return Catalog().FindSpec(kv.first) == nullptr; });
  for (const SpecEntry* spec : matched) reference.states[spec->id].Add(spec->spec, event, kNow);
  std::erase_if(reference.states, [](const auto& kv) { return kv.second.empty(); });
  FUZZ_CHECK(edited == (reference.states.empty() ? std::string() : reference.Encode()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  bool one_state = (input.Byte() & 1) != 0;
  uint32_t offered = 0;
  for (int i = 0; i < 4; ++i) offered = offered << 8 | input.Byte();
  uint64_t raw_time = 0;
  for (int i = 0; i < 8; ++i) raw_time = raw_time << 8 | input.Byte();
  // Event times as ingestion accepts them (0 .. year 9999), mostly near now.
  int64_t time_ms = static_cast<int64_t>(raw_time % static_cast<uint64_t>(kMaxTimeMs + 1));
  if ((raw_time >> 63) == 0) time_ms = kNow - static_cast<int64_t>(raw_time % (60 * kDay)) + kDay;
  std::string_view type = input.Byte() % 2 == 0 ? "buy" : "view";
  // Event properties as ingestion passes them on: JSON within its depth, numbers finite.
  boost::json::object properties;
  {
    boost::system::error_code ec;
    bool non_finite = false;
    boost::json::value v = ParseJson(input.Line(), kMaxJsonDepth, &ec, &non_finite);
    if (!ec && !non_finite && v.is_object()) properties = std::move(v.as_object());
  }
  boost::json::object fields;
  fields["revenue"] = 2.5;
  std::string bytes(input.Rest());
  if (one_state) {
    CheckState(bytes);
    return 0;
  }
  CheckRecord(bytes);
  CheckEditor(offered, EventFields{type, time_ms, &properties, &fields}, bytes);
  return 0;
}
