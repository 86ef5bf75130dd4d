#include "store/records.h"

#include "core/coding.h"

namespace profiled::store {

namespace {
constexpr char kProfileV1 = 1;
constexpr char kEventV1 = 1;
constexpr char kEventV2 = 2;
constexpr char kGroupV1 = 1;

Status Bad(const char* what) { return Status::Corruption(std::string("cannot decode ") + what); }

// A cheap shape check, not a parse: the seed dialect serves the text verbatim, so text that
// is not even braced would reach clients as broken JSON.
bool LooksLikeObject(std::string_view json) {
  return json.size() >= 2 && json.front() == '{' && json.back() == '}';
}
}  // namespace

std::string EncodeProfile(const ProfileRecord& r) {
  std::string out;
  out.reserve(8 + r.user_id.size() + r.device_id.size() + r.builtins_json.size() +
              r.properties_json.size());
  out.push_back(kProfileV1);
  PutLengthPrefixed(&out, r.user_id);
  PutLengthPrefixed(&out, r.device_id);
  PutLengthPrefixed(&out, r.builtins_json);
  PutLengthPrefixed(&out, r.properties_json);
  return out;
}

Status DecodeProfile(std::string_view in, ProfileView* v) {
  if (in.empty() || in.front() != kProfileV1) return Bad("profile version");
  in.remove_prefix(1);
  if (!GetLengthPrefixed(&in, &v->user_id) || !GetLengthPrefixed(&in, &v->device_id) ||
      !GetLengthPrefixed(&in, &v->builtins_json) || !GetLengthPrefixed(&in, &v->properties_json) ||
      !in.empty()) {
    return Bad("profile");
  }
  if (!LooksLikeObject(v->builtins_json) || !LooksLikeObject(v->properties_json)) {
    return Bad("profile: properties are not a JSON object");
  }
  return Status::Ok();
}

std::string EncodeId(uint64_t id) {
  std::string out;
  PutVarint64(&out, id);
  return out;
}

Status DecodeId(std::string_view in, uint64_t* id) {
  if (!GetVarint64(&in, id) || !in.empty()) return Bad("amplitude_id");
  return Status::Ok();
}

std::string EncodeEvent(const EventRecord& r) {
  return EncodeEvent(EventRecordView{r.amplitude_id, r.time_ms, r.event_type, r.json});
}

std::string EncodeEvent(const EventRecordView& r) {
  std::string out;
  out.reserve(24 + r.event_type.size() + r.json.size());
  out.push_back(kEventV2);
  PutVarint64(&out, r.amplitude_id);
  PutVarint64(&out, static_cast<uint64_t>(r.time_ms));
  PutLengthPrefixed(&out, r.event_type);
  out.append(r.json);
  return out;
}

Status DecodeEvent(std::string_view in, EventRecord* r) {
  if (in.empty() || (in.front() != kEventV1 && in.front() != kEventV2)) {
    return Bad("event version");
  }
  bool has_type = in.front() == kEventV2;
  in.remove_prefix(1);
  uint64_t time = 0;
  if (!GetVarint64(&in, &r->amplitude_id) || !GetVarint64(&in, &time)) return Bad("event");
  r->time_ms = static_cast<int64_t>(time);
  std::string_view type;
  if (has_type && !GetLengthPrefixed(&in, &type)) return Bad("event type");
  r->event_type.assign(type);
  r->json.assign(in);
  return Status::Ok();
}

std::string EncodeDedup(int64_t first_seen_ms) {
  std::string out;
  PutFixed64BE(&out, static_cast<uint64_t>(first_seen_ms));
  return out;
}

Status DecodeDedup(std::string_view in, int64_t* first_seen_ms) {
  uint64_t v = 0;
  if (!GetFixed64BE(&in, &v) || !in.empty()) return Bad("dedup entry");
  *first_seen_ms = static_cast<int64_t>(v);
  return Status::Ok();
}

std::string EncodeStaticCohorts(const std::vector<std::string>& ids) {
  std::string out;
  PutVarint64(&out, ids.size());
  for (const auto& id : ids) PutLengthPrefixed(&out, id);
  return out;
}

Status DecodeStaticCohorts(std::string_view in, std::vector<std::string>* ids) {
  uint64_t n = 0;
  ids->clear();
  if (!GetVarint64(&in, &n) || n > in.size()) return Bad("static cohorts");
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view id;
    if (!GetLengthPrefixed(&in, &id)) return Bad("static cohorts");
    ids->emplace_back(id);
  }
  if (!in.empty()) return Bad("static cohorts");
  return Status::Ok();
}

std::string EncodeGroup(std::string_view properties_json) {
  std::string out;
  out.reserve(6 + properties_json.size());
  out.push_back(kGroupV1);
  PutLengthPrefixed(&out, properties_json);
  return out;
}

Status DecodeGroup(std::string_view in, std::string_view* properties_json) {
  if (in.empty() || in.front() != kGroupV1) return Bad("group version");
  in.remove_prefix(1);
  if (!GetLengthPrefixed(&in, properties_json) || !in.empty()) return Bad("group");
  if (!LooksLikeObject(*properties_json)) return Bad("group: properties are not a JSON object");
  return Status::Ok();
}

std::string EncodeIdList(const std::vector<uint64_t>& ids) {
  std::string out;
  PutVarint64(&out, ids.size());
  for (uint64_t id : ids) PutVarint64(&out, id);
  return out;
}

Status DecodeIdList(std::string_view in, std::vector<uint64_t>* ids) {
  uint64_t n = 0;
  ids->clear();
  if (!GetVarint64(&in, &n) || n > in.size()) return Bad("id list");
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    if (!GetVarint64(&in, &id)) return Bad("id list");
    ids->push_back(id);
  }
  if (!in.empty()) return Bad("id list");
  return Status::Ok();
}

}  // namespace profiled::store
