#include "api/ingest_wire.h"

#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <memory>
#include <unordered_map>

#include "core/hash.h"
#include "core/json_writer.h"
#include "core/value_text.h"
#include "ingest/property_ops.h"

namespace profiled::api {

namespace json = boost::json;
using ingest::BatchErrors;
using ingest::Event;
using ingest::PropertyOp;
using ingest::PropertyOpKind;

namespace {

// Every top-level field the parser reads. One pass over an event finds them all
// (EventFields), instead of one search of the event per field.
constexpr std::string_view kKnownFields[] = {"user_id",
                                             "device_id",
                                             "event_type",
                                             "time",
                                             "insert_id",
                                             "user_properties",
                                             "$skip_user_properties_sync",
                                             "library",
                                             "paying",
                                             "start_version",
                                             "app_version",
                                             "language",
                                             "ip",
                                             "productId",
                                             "revenueType",
                                             "currency",
                                             "idfa",
                                             "idfv",
                                             "adid",
                                             "android_id",
                                             "android_app_set_id",
                                             "user_agent",
                                             "partner_id",
                                             "version_name",
                                             "platform",
                                             "os_name",
                                             "os_version",
                                             "device_brand",
                                             "device_manufacturer",
                                             "device_model",
                                             "carrier",
                                             "country",
                                             "region",
                                             "city",
                                             "dma",
                                             "location_lat",
                                             "location_lng",
                                             "price",
                                             "revenue",
                                             "quantity",
                                             "event_id",
                                             "session_id",
                                             "event_properties",
                                             "groups",
                                             "group_properties",
                                             "plan",
                                             "ingestion_metadata"};
constexpr size_t kKnownFieldCount = std::size(kKnownFields);
using FieldSlot = uint8_t;
static_assert(kKnownFieldCount < 255);

consteval FieldSlot Slot(std::string_view name) {
  for (size_t i = 0; i < kKnownFieldCount; ++i) {
    if (kKnownFields[i] == name) return static_cast<FieldSlot>(i);
  }
  throw "not in kKnownFields";  // a compile error: Slot is only evaluated at compile time
}

template <size_t N>
consteval std::array<FieldSlot, N> Slots(const std::string_view (&names)[N]) {
  std::array<FieldSlot, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = Slot(names[i]);
  return out;
}

constexpr std::string_view kDeviceFieldNames[] = {
    "platform",     "os_name", "os_version", "device_brand", "device_manufacturer",
    "device_model", "carrier"};
constexpr std::string_view kLocationFieldNames[] = {"country", "region", "city", "dma"};
// Event fields that must be strings when present (null counts as absent).
constexpr std::string_view kStringFieldNames[] = {"app_version",
                                                  "language",
                                                  "ip",
                                                  "productId",
                                                  "revenueType",
                                                  "currency",
                                                  "idfa",
                                                  "idfv",
                                                  "adid",
                                                  "android_id",
                                                  "android_app_set_id",
                                                  "user_agent",
                                                  "partner_id",
                                                  "version_name",
                                                  "platform",
                                                  "os_name",
                                                  "os_version",
                                                  "device_brand",
                                                  "device_manufacturer",
                                                  "device_model",
                                                  "carrier",
                                                  "country",
                                                  "region",
                                                  "city",
                                                  "dma"};
constexpr std::string_view kNumberFieldNames[] = {"location_lat", "location_lng", "price",
                                                  "revenue"};
constexpr std::string_view kIntegerFieldNames[] = {"quantity", "event_id", "session_id"};
constexpr std::string_view kObjectFieldNames[] = {"event_properties", "groups", "group_properties",
                                                  "plan", "ingestion_metadata"};

constexpr auto kDeviceFields = Slots(kDeviceFieldNames);
constexpr auto kLocationFields = Slots(kLocationFieldNames);
constexpr auto kStringFields = Slots(kStringFieldNames);
constexpr auto kNumberFields = Slots(kNumberFieldNames);
constexpr auto kIntegerFields = Slots(kIntegerFieldNames);
constexpr auto kObjectFields = Slots(kObjectFieldNames);

// The slot of a field name, or kKnownFieldCount for a field the parser does not read.
FieldSlot SlotOf(std::string_view name) {
  static const std::unordered_map<std::string_view, FieldSlot> by_name = [] {
    std::unordered_map<std::string_view, FieldSlot> index;
    for (size_t i = 0; i < kKnownFieldCount; ++i) {
      index.emplace(kKnownFields[i], static_cast<FieldSlot>(i));
    }
    return index;
  }();
  auto it = by_name.find(name);
  return it == by_name.end() ? static_cast<FieldSlot>(kKnownFieldCount) : it->second;
}

// The known fields of one event object, found in one pass. The pointers are into the
// object: valid until a field is added to or erased from it.
class EventFields {
 public:
  explicit EventFields(json::object& o) {
    for (auto& kv : o) {
      FieldSlot slot = SlotOf(kv.key());
      if (slot < kKnownFieldCount) values_[slot] = &kv.value();
    }
  }
  json::value* operator[](FieldSlot slot) const { return values_[slot]; }

 private:
  std::array<json::value*, kKnownFieldCount> values_{};
};

std::string FieldName(FieldSlot slot) { return std::string(kKnownFields[slot]); }

constexpr int64_t kMaxTimeMs = 253402300799999;  // 9999-12-31T23:59:59.999Z

bool IsNullOrAbsent(const json::value* v) { return v == nullptr || v->is_null(); }

bool IsIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) &&
         std::floor(v.get_double()) == v.get_double();
}

// An integer that a signed 64-bit field (Amplitude's `long`) holds: 2^63 and beyond, which
// Boost.JSON reads as an unsigned or a double, would be cut or rounded by every reader.
bool IsInt64(const json::value& v) {
  if (v.is_int64()) return true;
  if (v.is_uint64()) return v.get_uint64() <= static_cast<uint64_t>(INT64_MAX);
  // -2^63 is a double exactly; 2^63 is the first double past INT64_MAX.
  return IsIntegral(v) && v.get_double() >= -9223372036854775808.0 &&
         v.get_double() < 9223372036854775808.0;
}

int64_t AsInt64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64())
    return v.get_uint64() > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                             : static_cast<int64_t>(v.get_uint64());
  // Saturate: casting a double outside int64's range is undefined behaviour.
  double d = v.get_double();
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return static_cast<int64_t>(d);
}

// Cuts a string to kMaxStringLength characters at a code point boundary.
void Truncate(json::string* s) {
  size_t chars = 0;
  for (size_t i = 0; i < s->size(); ++i) {
    if ((static_cast<unsigned char>((*s)[i]) & 0xC0) != 0x80) {
      if (chars == ingest::kMaxStringLength) {
        s->resize(i);
        return;
      }
      ++chars;
    }
  }
}

// Truncates long strings (Amplitude keeps the first 1024 characters) and checks nesting.
// False when `v` nests deeper than `depth_left` allows.
bool NormalizeValue(json::value& v, int depth_left) {
  if (v.is_string()) {
    Truncate(&v.get_string());
    return true;
  }
  if (v.is_object() || v.is_array()) {
    if (depth_left <= 0) return false;
    if (v.is_object()) {
      for (auto& kv : v.get_object()) {
        if (!NormalizeValue(kv.value(), depth_left - 1)) return false;
      }
    } else {
      for (auto& e : v.get_array()) {
        if (!NormalizeValue(e, depth_left - 1)) return false;
      }
    }
  }
  return true;
}

bool OpKindOf(std::string_view name, PropertyOpKind* kind) {
  static constexpr std::pair<std::string_view, PropertyOpKind> kOps[] = {
      {"$set", PropertyOpKind::kSet},
      {"$setOnce", PropertyOpKind::kSetOnce},
      {"$add", PropertyOpKind::kAdd},
      {"$append", PropertyOpKind::kAppend},
      {"$prepend", PropertyOpKind::kPrepend},
      {"$preInsert", PropertyOpKind::kPreInsert},
      {"$postInsert", PropertyOpKind::kPostInsert},
      {"$remove", PropertyOpKind::kRemove},
      {"$unset", PropertyOpKind::kUnset},
      {"$clearAll", PropertyOpKind::kClearAll}};
  for (const auto& [n, k] : kOps) {
    if (n == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

// Turns a user_properties object into operations. Plain keys mean $set. Returns an
// error text, or empty on success.
std::string ParseUserProperties(json::object& up, std::vector<PropertyOp>* ops) {
  bool has_ops = false;
  bool has_plain = false;
  for (const auto& kv : up) (kv.key().starts_with("$") ? has_ops : has_plain) = true;
  if (has_ops && has_plain) {
    return "operations ($set, ...) cannot be mixed with plain properties; put plain "
           "values inside $set";
  }
  auto name_too_long = [](std::string_view name) {
    return ingest::CharacterCount(name) > ingest::kMaxStringLength;
  };
  constexpr const char* kNameTooLong = "a property name is longer than 1024 characters";
  if (!has_ops) {
    ops->reserve(up.size());
    for (auto& kv : up) {
      if (name_too_long(kv.key())) return kNameTooLong;
      ops->push_back({PropertyOpKind::kSet, std::string(kv.key()), kv.value()});
    }
    return {};
  }
  size_t count = 0;
  for (const auto& kv : up) count += kv.value().is_object() ? kv.value().get_object().size() : 1;
  ops->reserve(count);
  for (auto& kv : up) {
    PropertyOpKind kind;
    if (!OpKindOf(kv.key(), &kind)) return "unknown operation \"" + std::string(kv.key()) + "\"";
    if (kind == PropertyOpKind::kClearAll) {
      ops->push_back({kind, {}, {}});
      continue;
    }
    if (!kv.value().is_object()) {
      return std::string(kv.key()) + " must be an object of property names to values";
    }
    for (auto& p : kv.value().get_object()) {
      if (name_too_long(p.key())) return std::string(kv.key()) + ": " + kNameTooLong;
      json::value number;
      if (kind == PropertyOpKind::kAdd && !ingest::ReadNumber(p.value(), &number)) {
        return "$add." + std::string(p.key()) + " must be a number";
      }
      ops->push_back({kind, std::string(p.key()), p.value()});
    }
  }
  ingest::SortPropertyOps(ops);
  return {};
}

// Reads `groups` ({type: name or [names]}) into *out within Amplitude's limits: the first
// kMaxGroupTypes types in the object's order and, across them, the first kMaxGroupNames names;
// the rest is ignored, as Amplitude ignores it. A type given an empty array is kept with no
// names (for a user's membership, that removes the type). Returns why it is invalid, or "".
std::string ParseGroups(const json::object& groups, std::vector<ingest::GroupRef>* out) {
  constexpr size_t kMaxGroupTypes = 5;
  constexpr size_t kMaxGroupNames = 10;
  auto bad_text = [](std::string_view s) {
    return s.empty() || ingest::CharacterCount(s) > ingest::kMaxStringLength;
  };
  size_t names = 0;
  for (const auto& kv : groups) {
    if (bad_text(kv.key()))
      return "a group type must be a non-empty string of at most 1024 characters";
    ingest::GroupRef ref;
    ref.type.assign(kv.key());
    auto add = [&](const json::value& v) -> std::string {
      if (!v.is_string() || bad_text(v.get_string())) {
        return "groups." + ref.type +
               ": a group name must be a non-empty string of at most 1024 characters";
      }
      if (names < kMaxGroupNames) {
        ref.names.emplace_back(v.get_string());
        ++names;
      }
      return {};
    };
    if (kv.value().is_array()) {
      for (const json::value& v : kv.value().get_array()) {
        if (std::string why = add(v); !why.empty()) return why;
      }
    } else if (std::string why = add(kv.value()); !why.empty()) {
      return why;
    }
    const bool removal = kv.value().is_array() && kv.value().get_array().empty();
    if (out->size() < kMaxGroupTypes && (removal || !ref.names.empty())) {
      out->push_back(std::move(ref));
    }
  }
  return {};
}

// Reads an optional string id. False (with an error recorded) if present but not a
// non-empty string.
bool ReadId(const EventFields& f, FieldSlot slot, int index, std::string* out,
            BatchErrors* errors) {
  const json::value* v = f[slot];
  if (IsNullOrAbsent(v)) return true;
  if (!v->is_string()) {
    errors->Invalid(FieldName(slot), index, "must be a string");
    return false;
  }
  if (v->get_string().empty()) {
    errors->Invalid(FieldName(slot), index, "\"\" is not a valid id");
    return false;
  }
  out->assign(v->get_string());
  return true;
}

std::string LibraryName(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_object()) {
    const json::value* name = v.get_object().if_contains("name");
    const json::value* version = v.get_object().if_contains("version");
    std::string s = name && name->is_string() ? std::string(name->get_string()) : "";
    if (version && version->is_string()) {
      s.push_back('/');
      s.append(version->get_string().data(), version->get_string().size());
    }
    return s;
  }
  return {};
}

// A number beyond a double's range reads as infinity, which JSON has no way to write back:
// such a value would poison every later read and write of the user. Refuses the event,
// naming the top-level field that holds it.
void CheckNonFinite(const json::object& o, int index, BatchErrors* errors) {
  for (const auto& kv : o) {
    if (HasNonFiniteNumber(kv.value())) {
      errors->Invalid(std::string(Utf8Prefix(kv.key(), 64)), index,
                      "holds a number beyond the range of a double (±1.7976931348623157e308)");
    }
  }
}

// Fields shared by events and identifications: ids, user_properties, built-in fields.
// Records problems in *errors; the event is only meaningful if none were recorded. Changes
// no field of the event object itself (so the pointers in `f` stay valid), only values
// inside its object fields (long strings cut).
void ParseCommon(const EventFields& f, int index, int min_id_length, Event* e,
                 BatchErrors* errors) {
  bool ids_ok = ReadId(f, Slot("user_id"), index, &e->user_id, errors);
  ids_ok = ReadId(f, Slot("device_id"), index, &e->device_id, errors) && ids_ok;
  if (ids_ok) ingest::CheckEventIds(index, min_id_length, &e->user_id, &e->device_id, errors);

  for (FieldSlot s : kStringFields) {
    const json::value* v = f[s];
    if (!IsNullOrAbsent(v) && !v->is_string()) {
      errors->Invalid(FieldName(s), index, "must be a string");
    }
  }
  for (FieldSlot s : kNumberFields) {
    const json::value* v = f[s];
    if (!IsNullOrAbsent(v) && !v->is_number()) {
      errors->Invalid(FieldName(s), index, "must be a number");
    }
  }
  for (FieldSlot s : kIntegerFields) {
    const json::value* v = f[s];
    if (IsNullOrAbsent(v)) continue;
    if (!IsIntegral(*v)) {
      errors->Invalid(FieldName(s), index, "must be an integer");
    } else if (!IsInt64(*v)) {
      errors->Invalid(FieldName(s), index,
                      "must be an integer from -9223372036854775808 to 9223372036854775807");
    }
  }
  for (FieldSlot s : kObjectFields) {
    json::value* v = f[s];
    if (IsNullOrAbsent(v)) continue;
    if (!v->is_object()) {
      errors->Invalid(FieldName(s), index, "must be an object");
    } else if (!NormalizeValue(*v, ingest::kMaxPropertyDepth)) {
      errors->Invalid(FieldName(s), index, "nests deeper than 40 levels");
    }
  }

  if (json::value* up = f[Slot("user_properties")]; !IsNullOrAbsent(up)) {
    if (!up->is_object()) {
      errors->Invalid("user_properties", index, "must be an object");
    } else if (!NormalizeValue(*up, ingest::kMaxPropertyDepth + 1)) {
      errors->Invalid("user_properties", index, "nests deeper than 40 levels");
    } else if (std::string why = ParseUserProperties(up->get_object(), &e->property_ops);
               !why.empty()) {
      errors->Invalid("user_properties", index, why);
    }
  }
  if (const json::value* skip = f[Slot("$skip_user_properties_sync")]; !IsNullOrAbsent(skip)) {
    if (!skip->is_bool()) {
      errors->Invalid("$skip_user_properties_sync", index, "must be a boolean");
    } else {
      e->skip_user_properties = skip->get_bool();
    }
  }

  // Copies into the event's storage (the request's arena).
  auto copy_string = [&](FieldSlot s, json::object* into) {
    const json::value* v = f[s];
    if (v != nullptr && v->is_string()) {
      auto [it, inserted] = into->emplace(kKnownFields[s], v->get_string());
      Truncate(&it->value().get_string());
    }
  };
  for (FieldSlot s : kDeviceFields) copy_string(s, &e->builtins.device);
  for (FieldSlot s : kLocationFields) copy_string(s, &e->builtins.location);
  copy_string(Slot("app_version"), &e->builtins.single);
  copy_string(Slot("language"), &e->builtins.single);
  if (const json::value* lib = f[Slot("library")]; lib != nullptr) {
    std::string name = LibraryName(*lib);
    if (!name.empty()) e->builtins.single["library"] = name;
  }
}

size_t ErrorCount(const BatchErrors& e) {
  size_t n = 0;
  for (const auto* m : {&e.invalid_fields, &e.missing_fields, &e.invalid_id_lengths}) {
    for (const auto& kv : *m) n += kv.second.size();
  }
  return n;
}

// Moves what definitions read out of the parsed event `o` into *e (see ingest::Event):
// the event_properties object and the top-level scalars. `o` is spent: call it after
// e->json is written. Moves, no copies: `o` and *e share the request's arena.
void ExtractTypedFields(json::object& o, Event* e) {
  if (json::value* props = o.if_contains("event_properties");
      props != nullptr && props->is_object()) {
    e->event_properties = std::move(props->get_object());
  }
  ingest::KeepScalarFields(&o);
  e->fields = std::move(o);
}

void ParseTrackEvent(json::object& o, int index, int min_id_length, int64_t now_ms, Event* e,
                     BatchErrors* errors) {
  size_t errors_before = ErrorCount(*errors);
  const EventFields f(o);
  ParseCommon(f, index, min_id_length, e, errors);

  const json::value* type = f[Slot("event_type")];
  if (IsNullOrAbsent(type) || (type->is_string() && type->get_string().empty())) {
    errors->Missing("event_type", index, "required");
  } else if (!type->is_string()) {
    errors->Invalid("event_type", index, "must be a string");
  } else if (ingest::IsReservedEventType(type->get_string())) {
    errors->Invalid("event_type", index,
                    "\"" + std::string(type->get_string()) + "\" is reserved for Amplitude");
  } else if (ingest::CharacterCount(type->get_string()) > ingest::kMaxStringLength) {
    errors->Invalid("event_type", index, "longer than 1024 characters");
  } else {
    e->event_type.assign(type->get_string());
  }

  const json::value* time = f[Slot("time")];
  bool time_missing = IsNullOrAbsent(time);
  if (time_missing) {
    e->time_ms = now_ms;
  } else if (!IsIntegral(*time) || AsInt64(*time) < 0 || AsInt64(*time) > kMaxTimeMs) {
    errors->Invalid("time", index, "must be milliseconds since the epoch, as an integer");
  } else {
    e->time_ms = AsInt64(*time);
  }

  const json::value* insert_id = f[Slot("insert_id")];
  if (!IsNullOrAbsent(insert_id)) {
    if (!insert_id->is_string()) {
      errors->Invalid("insert_id", index, "must be a string");
    } else if (ingest::CharacterCount(insert_id->get_string()) > ingest::kMaxStringLength) {
      errors->Invalid("insert_id", index, "longer than 1024 characters");
    } else {
      e->insert_id.assign(insert_id->get_string());
    }
  }

  e->origin = e->event_type == "$identify" || e->event_type == "$groupidentify"
                  ? ingest::EventOrigin::kIdentify
                  : ingest::EventOrigin::kTrack;
  // `groups` matters to a $groupidentify (the groups it changes) and a $identify (the user's
  // memberships, as setGroup sends them); on other events it is only logged.
  if (e->event_type == "$groupidentify" || e->event_type == "$identify") {
    if (json::value* g = f[Slot("groups")]; g != nullptr && g->is_object()) {
      if (std::string why = ParseGroups(g->get_object(), &e->groups); !why.empty()) {
        errors->Invalid("groups", index, why);
      }
    }
  }
  // $groupidentify changes group properties, never the sender's user properties.
  if (e->event_type == "$groupidentify") {
    e->property_ops.clear();
    if (json::value* gp = f[Slot("group_properties")]; gp != nullptr && gp->is_object()) {
      if (std::string why = ParseUserProperties(gp->get_object(), &e->group_ops); !why.empty()) {
        errors->Invalid("group_properties", index, why);
      }
    }
  }
  if (ErrorCount(*errors) != errors_before) return;

  // The logged event: ids as cleaned (an id removed for its length, or null, is dropped)
  // and the time filled in. These change the object, so they come after every read of `f`.
  if (f[Slot("user_id")] != nullptr && e->user_id.empty()) o.erase("user_id");
  if (f[Slot("device_id")] != nullptr && e->device_id.empty()) o.erase("device_id");
  if (time_missing) o["time"] = now_ms;
  // The event log is internal (part of no answer): Boost's serializer is the faster one,
  // and the value holds no non-finite number (refused above).
  e->json = json::serialize(o);
  ExtractTypedFields(o, e);
}

// The arena a request's parsed JSON and its events' values allocate from (see
// ingest/event.h). Shared by the events: it goes with the last of them.
std::shared_ptr<json::monotonic_resource> RequestArena(size_t body_size) {
  // The parsed tree takes about twice the text; the arena grows past that by itself.
  return std::make_shared<json::monotonic_resource>(2 * body_size + 1024);
}

void Reject(IngestRejection* r, int status, std::string error, std::string missing = {}) {
  r->http_status = status;
  r->error = std::move(error);
  r->missing_field = std::move(missing);
}

std::string EventsErrorText(const BatchErrors& e) {
  if (!e.invalid_fields.empty()) return "Invalid field values on some events";
  if (!e.missing_fields.empty()) return "Request missing required field";
  return "Invalid id length for user_id or device_id";
}

// Parses the event objects of `list` (1 to 2000 of them, checked by the caller) into *out,
// allocating from `arena` (which holds `list`). `non_finite`: the body held a number beyond a
// double's range somewhere. False, with *out empty and *rejection filled, when an event is
// refused.
bool ParseEventList(json::array& list, int min_id_length, int64_t now_ms, bool non_finite,
                    const std::shared_ptr<json::monotonic_resource>& arena, std::vector<Event>* out,
                    IngestRejection* rejection) {
  BatchErrors& errors = rejection->events;
  out->reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) out->emplace_back(arena);
  for (size_t i = 0; i < list.size(); ++i) {
    int index = static_cast<int>(i);
    if (!list[i].is_object()) {
      errors.Invalid("event", index, "must be a JSON object");
      continue;
    }
    if (non_finite) CheckNonFinite(list[i].get_object(), index, &errors);
    ParseTrackEvent(list[i].get_object(), index, min_id_length, now_ms, &(*out)[i], &errors);
  }
  if (!errors.empty()) {
    Reject(rejection, 400, EventsErrorText(errors));
    out->clear();
    return false;
  }
  return true;
}

// Moves the value of `from` to `to` in `o`, unless `to` is there already (then `from` stays).
void Rename(json::object& o, std::string_view from, std::string_view to) {
  auto it = o.find(from);
  if (it == o.end() || o.contains(to)) return;
  json::value v = std::move(it->value());
  o.erase(it);
  o.emplace(to, std::move(v));
}

// A v1 event (amplitude-js) in HTTP V2 terms: `timestamp` is `time`, `uuid` is `insert_id`,
// and a revenue event of the old logRevenue (api_properties.special "revenue_amount") carries
// its price, quantity, productId and revenueType in api_properties. The rest (event_id,
// session_id, sequence_number, api_properties, library as {name, version}, ...) reads as
// HTTP V2 does: unknown fields are kept in the logged event.
void UpgradeLegacyEvent(json::object& o) {
  Rename(o, "timestamp", "time");
  Rename(o, "uuid", "insert_id");
  const json::value* api = o.if_contains("api_properties");
  if (api == nullptr || !api->is_object()) return;
  const json::object& a = api->get_object();
  const json::value* special = a.if_contains("special");
  if (special == nullptr || !special->is_string() || special->get_string() != "revenue_amount") {
    return;
  }
  json::object lifted(o.storage());
  for (std::string_view field : {"price", "quantity", "productId", "revenueType"}) {
    const json::value* v = a.if_contains(field);
    if (v != nullptr && !v->is_null() && !o.contains(field)) lifted.emplace(field, *v);
  }
  for (auto& kv : lifted) o.emplace(kv.key(), std::move(kv.value()));
}

}  // namespace

bool ParseEventBatch(std::string_view body, int64_t now_ms, ParsedBatch* out,
                     IngestRejection* rejection) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    Reject(rejection, 400, "Missing request body");
    return false;
  }
  boost::system::error_code ec;
  bool non_finite = false;  // seen anywhere in the body: then find which events
  std::shared_ptr<json::monotonic_resource> arena = RequestArena(body.size());
  json::value root =
      ParseJson(body, kMaxJsonDepth, &ec, &non_finite, json::storage_ptr(arena.get()));
  if (ec || !root.is_object()) {
    Reject(rejection, 400, "Invalid JSON request body");
    rejection->events.details.push_back(ec ? "body is not valid JSON: " + ec.message()
                                           : "body must be a JSON object");
    return false;
  }
  json::object& envelope = root.get_object();
  json::value* api_key = envelope.if_contains("api_key");
  if (IsNullOrAbsent(api_key) || !api_key->is_string() || api_key->get_string().empty()) {
    Reject(rejection, 400, "Request missing required field", "api_key");
    return false;
  }
  out->api_key.assign(api_key->get_string());

  int min_id_length = ingest::kDefaultMinIdLength;
  if (json::value* options = envelope.if_contains("options"); !IsNullOrAbsent(options)) {
    if (!options->is_object()) {
      Reject(rejection, 400, "Invalid options: must be an object");
      return false;
    }
    if (json::value* m = options->get_object().if_contains("min_id_length"); !IsNullOrAbsent(m)) {
      if (!IsIntegral(*m) || AsInt64(*m) < 1 || AsInt64(*m) > 1024) {
        Reject(rejection, 400, "Invalid options.min_id_length: must be an integer from 1 to 1024");
        return false;
      }
      min_id_length = static_cast<int>(AsInt64(*m));
    }
  }

  json::value* events = envelope.if_contains("events");
  if (IsNullOrAbsent(events)) {
    Reject(rejection, 400, "Request missing required field", "events");
    return false;
  }
  if (!events->is_array()) {
    Reject(rejection, 400, "Invalid event JSON");
    rejection->events.details.push_back("events must be an array of event objects");
    return false;
  }
  json::array& list = events->get_array();
  rejection->event_count = list.size();
  if (list.empty()) {
    Reject(rejection, 400, "Request missing required field", "events");
    rejection->events.details.push_back("events is empty");
    return false;
  }
  if (list.size() > ingest::kMaxEventsPerBatch) {
    Reject(rejection, 413, "Payload too large");
    rejection->events.details.push_back("at most 2000 events per request, got " +
                                        std::to_string(list.size()));
    return false;
  }
  return ParseEventList(list, min_id_length, now_ms, non_finite, arena, &out->events, rejection);
}

namespace {

// The objects of an `identification` form field (/identify, /groupidentify): one JSON object
// or an array of 1 to `max`, parsed into `list`'s storage (a request arena), each object
// becoming an element. False with *rejection filled (400; 413 over `max`) when it is neither;
// *non_finite tells whether a number was not finite (CheckNonFinite).
bool ParseIdentificationObjects(std::string_view identification, size_t max, json::array* list,
                                bool* non_finite, IngestRejection* rejection) {
  boost::system::error_code ec;
  json::value root = ParseJson(identification, kMaxJsonDepth, &ec, non_finite, list->storage());
  if (ec || !(root.is_object() || root.is_array())) {
    Reject(rejection, 400, "missing_event", "identification");
    rejection->events.details.push_back(
        "identification must be a JSON object or an array of JSON objects");
    return false;
  }
  if (root.is_object()) {
    list->push_back(std::move(root));
  } else {
    *list = std::move(root.get_array());  // the same storage: moved, not copied
  }
  if (list->empty() || list->size() > max) {
    Reject(rejection, list->empty() ? 400 : 413,
           list->empty() ? "missing_event" : "Payload too large",
           list->empty() ? "identification" : "");
    rejection->events.details.push_back("identification must hold 1 to " + std::to_string(max) +
                                        " objects");
    return false;
  }
  return true;
}

// /identify and /groupidentify: the objects of `identification` (ParseIdentificationObjects),
// an event per object of `origin` and `event_type` at the request's time, each filled by
// parse(object, index, event, errors). False with *rejection filled (and *out empty) when the
// list or any object is refused: the request applies nothing.
template <typename Parse>
bool ParseIdentifications(std::string_view identification, size_t max, ingest::EventOrigin origin,
                          std::string_view event_type, int64_t now_ms, std::vector<Event>* out,
                          IngestRejection* rejection, Parse parse) {
  bool non_finite = false;
  std::shared_ptr<json::monotonic_resource> arena = RequestArena(identification.size());
  json::array list(json::storage_ptr(arena.get()));
  if (!ParseIdentificationObjects(identification, max, &list, &non_finite, rejection)) {
    return false;
  }
  BatchErrors& errors = rejection->events;
  out->reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) out->emplace_back(arena);
  for (size_t i = 0; i < list.size(); ++i) {
    int index = static_cast<int>(i);
    if (!list[i].is_object()) {
      errors.Invalid("identification", index, "must be a JSON object");
      continue;
    }
    json::object& o = list[i].get_object();
    Event& e = (*out)[i];
    e.origin = origin;
    e.event_type = event_type;
    e.time_ms = now_ms;
    if (non_finite) CheckNonFinite(o, index, &errors);
    parse(o, index, e, errors);
  }
  if (!errors.empty()) {
    Reject(rejection, 400, EventsErrorText(errors));
    out->clear();
    return false;
  }
  return true;
}

}  // namespace

bool ParseIdentification(std::string_view identification, int64_t now_ms, std::vector<Event>* out,
                         IngestRejection* rejection) {
  return ParseIdentifications(
      identification, ingest::kMaxEventsPerBatch, ingest::EventOrigin::kIdentifyApi, "$identify",
      now_ms, out, rejection, [](json::object& o, int index, Event& e, BatchErrors& errors) {
        const EventFields f(o);
        ParseCommon(f, index, ingest::kDefaultMinIdLength, &e, &errors);
        if (const json::value* paying = f[Slot("paying")]; !IsNullOrAbsent(paying)) {
          if (paying->is_bool()) {
            e.builtins.single["paying"] = paying->get_bool();
          } else if (paying->is_string() &&
                     (paying->get_string() == "true" || paying->get_string() == "false")) {
            e.builtins.single["paying"] = paying->get_string() == "true";
          } else {
            errors.Invalid("paying", index, "must be a boolean");
          }
        }
        if (const json::value* sv = f[Slot("start_version")]; sv != nullptr && sv->is_string()) {
          e.builtins.single["start_version"] = *sv;
        }
        if (json::value* g = f[Slot("groups")]; g != nullptr && g->is_object()) {
          if (std::string why = ParseGroups(g->get_object(), &e.groups); !why.empty()) {
            errors.Invalid("groups", index, why);
          }
        }
      });
}

bool ParseGroupIdentification(std::string_view identification, int64_t now_ms,
                              std::vector<Event>* out, IngestRejection* rejection) {
  auto bad_text = [](const json::value* v) {
    return v == nullptr || !v->is_string() || v->get_string().empty() ||
           ingest::CharacterCount(v->get_string()) > ingest::kMaxStringLength;
  };
  return ParseIdentifications(
      identification, kMaxGroupIdentifications, ingest::EventOrigin::kGroupIdentifyApi,
      "$groupidentify", now_ms, out, rejection,
      [&bad_text](json::object& o, int index, Event& e, BatchErrors& errors) {
        const json::value* type = o.if_contains("group_type");
        const json::value* value = o.if_contains("group_value");
        if (bad_text(type)) {
          errors.Invalid("group_type", index,
                         "required: a non-empty string of at most 1024 characters");
        }
        if (bad_text(value)) {
          errors.Invalid("group_value", index,
                         "required: a non-empty string of at most 1024 characters");
        }
        if (!bad_text(type) && !bad_text(value)) {
          e.groups.push_back({std::string(type->get_string()), {std::string(value->get_string())}});
        }
        json::value* props = o.if_contains("group_properties");
        if (IsNullOrAbsent(props)) return;
        if (!props->is_object()) {
          errors.Invalid("group_properties", index, "must be an object");
        } else if (!NormalizeValue(*props, ingest::kMaxPropertyDepth + 1)) {
          errors.Invalid("group_properties", index, "nests deeper than 40 levels");
        } else if (std::string why = ParseUserProperties(props->get_object(), &e.group_ops);
                   !why.empty()) {
          errors.Invalid("group_properties", index, why);
        }
      });
}

bool ParseLegacyUpload(const std::map<std::string, std::string>& fields, LegacyForm* out,
                       IngestRejection* rejection) {
  // In the order a person fixing a hand-made request needs them: the key, the events, then
  // what the checksum covers.
  for (std::string_view name : {"client", "e", "v", "upload_time", "checksum"}) {
    auto it = fields.find(std::string(name));
    if (it == fields.end() || it->second.empty()) {
      Reject(rejection, 400, "Request missing required field", std::string(name));
      rejection->events.details.push_back(
          "the v1 upload form needs client, e, v, upload_time and checksum");
      return false;
    }
  }
  out->client = fields.at("client");
  out->events = fields.at("e");
  out->version = fields.at("v");
  out->upload_time = fields.at("upload_time");
  out->checksum = fields.at("checksum");
  return true;
}

bool LegacyChecksumMatches(const LegacyForm& upload) {
  std::string signed_text;
  signed_text.reserve(upload.version.size() + upload.client.size() + upload.events.size() +
                      upload.upload_time.size());
  signed_text.append(upload.version)
      .append(upload.client)
      .append(upload.events)
      .append(upload.upload_time);
  std::string expected = Md5Hex(signed_text);
  if (expected.empty() || upload.checksum.size() != expected.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    char c = upload.checksum[i];
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (c != expected[i]) return false;
  }
  return true;
}

bool ParseLegacyEvents(std::string_view events, int64_t now_ms, std::vector<Event>* out,
                       IngestRejection* rejection) {
  boost::system::error_code ec;
  bool non_finite = false;
  std::shared_ptr<json::monotonic_resource> arena = RequestArena(events.size());
  json::value root =
      ParseJson(events, kMaxJsonDepth, &ec, &non_finite, json::storage_ptr(arena.get()));
  if (ec || !root.is_array()) {
    Reject(rejection, 400, "Invalid event JSON");
    rejection->events.details.push_back(ec ? "e is not valid JSON: " + ec.message()
                                           : "e must be a JSON array of event objects");
    return false;
  }
  json::array& list = root.get_array();
  rejection->event_count = list.size();
  if (list.empty()) {
    Reject(rejection, 400, "Request missing required field", "e");
    rejection->events.details.push_back("e is empty");
    return false;
  }
  if (list.size() > ingest::kMaxEventsPerBatch) {
    Reject(rejection, 413, "Payload too large");
    rejection->events.details.push_back("at most 2000 events per request, got " +
                                        std::to_string(list.size()));
    return false;
  }
  for (json::value& v : list) {
    if (v.is_object()) UpgradeLegacyEvent(v.get_object());
  }
  return ParseEventList(list, ingest::kDefaultMinIdLength, now_ms, non_finite, arena, out,
                        rejection);
}

std::string SuccessBody(size_t events_ingested, size_t payload_size_bytes,
                        int64_t server_upload_ms) {
  std::string out = "{\"code\":200,\"events_ingested\":";
  AppendJsonUint(&out, events_ingested);
  out += ",\"payload_size_bytes\":";
  AppendJsonUint(&out, payload_size_bytes);
  out += ",\"server_upload_time\":";
  AppendJsonInt(&out, server_upload_ms);
  out += '}';
  return out;
}

namespace {
json::object IndexMap(const std::map<std::string, std::vector<int>>& m) {
  json::object o;
  for (const auto& [field, indices] : m) {
    json::array a;
    for (int i : indices) a.push_back(i);
    o[field] = std::move(a);
  }
  return o;
}
}  // namespace

std::string RejectionBody(const IngestRejection& r) {
  json::object o;
  o["code"] = r.http_status;
  o["error"] = r.error;
  if (!r.missing_field.empty()) o["missing_field"] = r.missing_field;
  if (!r.events.invalid_fields.empty())
    o["events_with_invalid_fields"] = IndexMap(r.events.invalid_fields);
  if (!r.events.missing_fields.empty())
    o["events_with_missing_fields"] = IndexMap(r.events.missing_fields);
  if (!r.events.invalid_id_lengths.empty()) {
    o["events_with_invalid_id_lengths"] = IndexMap(r.events.invalid_id_lengths);
  }
  if (!r.events.details.empty()) {
    json::array d;
    for (const auto& s : r.events.details) d.push_back(json::string(s));
    o["details"] = std::move(d);
  }
  return ObjectText(o);
}

std::string ThrottledBody(const ingest::ThrottleReport& report) {
  json::object o;
  o["code"] = 429;
  o["error"] = report.project ? "Too many requests for this project"
                              : "Too many requests for some devices and users";
  if (std::floor(report.eps_threshold) == report.eps_threshold) {
    o["eps_threshold"] = static_cast<int64_t>(report.eps_threshold);
  } else {
    o["eps_threshold"] = report.eps_threshold;
  }
  json::object devices, users;
  for (const auto& [id, n] : report.throttled_devices) devices[id] = n;
  for (const auto& [id, n] : report.throttled_users) users[id] = n;
  o["throttled_devices"] = std::move(devices);
  o["throttled_users"] = std::move(users);
  json::array events;
  for (int i : report.throttled_events) events.push_back(i);
  o["throttled_events"] = std::move(events);
  o["exceeded_daily_quota_devices"] = json::object();
  o["exceeded_daily_quota_users"] = json::object();
  return ObjectText(o);
}

std::string ErrorBody(int code, std::string_view error) {
  std::string out = "{\"code\":";
  AppendJsonInt(&out, code);
  out += ",\"error\":";
  AppendJsonString(&out, error);
  out += '}';
  return out;
}

}  // namespace profiled::api
