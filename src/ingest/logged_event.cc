#include "ingest/logged_event.h"

#include "core/value_text.h"
#include "ingest/event.h"

namespace profiled::ingest {

bool ParseLoggedEvent(const store::EventRecord& record, LoggedEvent* out) {
  boost::json::object o(out->fields.storage());  // parsed in place: the moves below copy nothing
  if (!ParseStoredObject(record.json, &o).ok()) return false;
  if (auto* p = o.if_contains("event_properties"); p != nullptr && p->is_object()) {
    out->properties = std::move(p->get_object());
  }
  if (auto* t = o.if_contains("event_type"); t != nullptr && t->is_string()) {
    out->event_type = std::string(t->get_string());
  }
  KeepScalarFields(&o);
  out->fields = std::move(o);
  return true;
}

compute::EventFields FieldsOfLoggedEvent(const store::EventRecord& record,
                                         const LoggedEvent* logged) {
  std::string_view type = record.event_type;
  if (type.empty() && logged != nullptr) type = logged->event_type;
  return compute::EventFields{type, record.time_ms, logged ? &logged->properties : nullptr,
                              logged ? &logged->fields : nullptr};
}

bool IsTracked(std::string_view event_type) {
  return event_type != "$identify" && event_type != "$groupidentify";
}

}  // namespace profiled::ingest
