#include "compute/definition.h"

#include <string>
#include <string_view>

namespace profiled::compute {
namespace {

// Strings are written as <length>:<bytes>, so no byte of a name or value can be mistaken for a
// separator and two different specs never share a text.
void AppendString(std::string* out, std::string_view s) {
  out->append(std::to_string(s.size()));
  out->push_back(':');
  out->append(s);
}

void AppendInt(std::string* out, int64_t v) {
  out->append(std::to_string(v));
  out->push_back(';');
}

}  // namespace

std::string AggregateSpec::Canonical() const {
  // A version prefix lets a future change of this text (or of the meaning of a field) give every
  // spec new state instead of silently reusing state counted under the old rules.
  std::string out = "v1;";
  out.append("type=");
  AppendString(&out, event_type);
  out.append("metric=");
  AppendInt(&out, static_cast<int64_t>(metric));
  out.append("property=");
  AppendString(&out, property);
  out.append("scope=");
  AppendInt(&out, static_cast<int64_t>(scope.kind));
  AppendInt(&out, scope.days);
  AppendInt(&out, scope.start_ms);
  AppendInt(&out, scope.end_ms);
  out.append("where=");
  AppendInt(&out, static_cast<int64_t>(where.size()));
  for (const Filter& f : where) {
    AppendString(&out, f.prop);
    AppendInt(&out, static_cast<int64_t>(f.op));
    AppendInt(&out, static_cast<int64_t>(f.values.size()));
    for (const std::string& v : f.values) AppendString(&out, v);
  }
  return out;
}

AggregateSpec HistorySpecOf(const Recommendation& rec) {
  AggregateSpec spec;
  spec.event_type = rec.item_event;
  spec.metric = Metric::kItems;
  spec.property = rec.item_property;
  spec.scope.kind = TimeScope::Kind::kRolling;
  spec.scope.days = rec.history_window_days;
  return spec;
}

std::string TrainingKey(const Recommendation& rec) {
  std::string key = rec.model;
  for (const auto& [name, value] : rec.params) {
    key.push_back('\0');
    key.append(name).append("=").append(value);
  }
  for (const std::string* part : {&rec.item_event, &rec.item_property}) {
    key.push_back('\1');
    key.append(*part);
  }
  key.push_back('\1');
  key.append(std::to_string(rec.history_window_days));
  return key;
}

}  // namespace profiled::compute
