#include "compute/aggregates_editor.h"

#include <algorithm>
#include <limits>

#include "core/coding.h"

namespace profiled::compute {

namespace {

// The record's first byte (UserAggregates::Encode); the AggregatesEditor tests pin that the
// two agree.
constexpr uint8_t kRecordVersion = 1;

Status CorruptRecord() { return Status::Corruption("aggregate record does not decode"); }

// An encoded SpecState that holds nothing (its flags byte alone).
bool IsEmptyState(std::string_view bytes) { return bytes.size() == 1 && bytes[0] == 0; }

}  // namespace

void AggregatesEditor::Append(uint64_t id, std::string_view state_bytes) {
  // Ids ascending, each as the distance from the previous (the first from 0).
  PutVarint64(&body_, id - last_id_);
  last_id_ = id;
  PutLengthPrefixed(&body_, state_bytes);
  ++count_;
}

Status AggregatesEditor::AddTo(const SpecEntry& spec, std::string_view stored,
                               const EventFields& event, int64_t now_ms) {
  if (stored.empty()) {
    state_.Clear();
  } else {
    PROFILED_RETURN_IF_ERROR(SpecState::Decode(stored, &state_));
  }
  state_.Add(spec.spec, event, now_ms);
  if (state_.empty()) return Status::Ok();
  state_bytes_.clear();
  state_.EncodeTo(&state_bytes_);
  Append(spec.id, state_bytes_);
  return Status::Ok();
}

Status AggregatesEditor::AddEvent(const ProjectCatalog& catalog,
                                  std::span<const SpecEntry* const> matched,
                                  const EventFields& event, int64_t now_ms, std::string* record,
                                  bool* changed) {
  sorted_.assign(matched.begin(), matched.end());
  std::sort(sorted_.begin(), sorted_.end(),
            [](const SpecEntry* a, const SpecEntry* b) { return a->id < b->id; });
  body_.clear();
  count_ = 0;
  last_id_ = 0;

  std::string_view in = *record;
  uint64_t n = 0;
  if (!in.empty()) {
    if (static_cast<uint8_t>(in.front()) != kRecordVersion) return CorruptRecord();
    in.remove_prefix(1);
    if (!GetVarint64(&in, &n)) return CorruptRecord();
  }
  // Three ascending walks side by side: the stored states, the matched specs and the
  // catalog's live specs (catalog.specs() is sorted by id).
  auto next = sorted_.begin();
  const std::vector<SpecEntry>& live = catalog.specs();
  auto live_it = live.begin();
  uint64_t id = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t delta = 0;
    std::string_view stored;
    if (!GetVarint64(&in, &delta) || (i > 0 && delta == 0) ||
        delta > std::numeric_limits<uint64_t>::max() - id || !GetLengthPrefixed(&in, &stored)) {
      return CorruptRecord();
    }
    id += delta;
    for (; next != sorted_.end() && (*next)->id < id; ++next) {
      PROFILED_RETURN_IF_ERROR(AddTo(**next, {}, event, now_ms));
    }
    if (next != sorted_.end() && (*next)->id == id) {
      // An empty stored state is a new one; a state's encoding is never empty otherwise.
      if (stored.empty()) return CorruptRecord();
      PROFILED_RETURN_IF_ERROR(AddTo(**next, stored, event, now_ms));
      ++next;
      continue;
    }
    // Not touched: kept as it is, unless its spec is no longer live or it holds nothing.
    while (live_it != live.end() && live_it->id < id) ++live_it;
    if (live_it == live.end() || live_it->id != id || IsEmptyState(stored)) continue;
    Append(id, stored);
  }
  if (!in.empty()) return CorruptRecord();
  for (; next != sorted_.end(); ++next) {
    PROFILED_RETURN_IF_ERROR(AddTo(**next, {}, event, now_ms));
  }

  out_.clear();
  if (count_ > 0) {
    out_.push_back(static_cast<char>(kRecordVersion));
    PutVarint64(&out_, count_);
    out_.append(body_);
  }
  if (changed != nullptr) *changed = out_ != *record;
  record->assign(out_);
  return Status::Ok();
}

}  // namespace profiled::compute
