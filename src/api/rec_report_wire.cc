#include "api/rec_report_wire.h"

#include <charconv>

#include "api/form.h"
#include "compute/definition.h"
#include "core/json_writer.h"

namespace profiled::api {

namespace {

constexpr size_t kMaxEventTypeBytes = 1024;  // as ingestion's longest string

void AppendGroup(std::string* out, const ingest::RecGroupFigures& g) {
  out->append(R"({"users":)");
  AppendJsonInt(out, g.users);
  out->append(R"(,"exposures":)");
  AppendJsonInt(out, g.exposures);
  out->append(R"(,"converted_users":)");
  AppendJsonInt(out, g.converted_users);
  out->append(R"(,"conversion_rate":)");
  AppendJsonDouble(out, g.conversion_rate());
  out->push_back('}');
}

}  // namespace

Status ParseRecReportQuery(std::string_view query, RecReportQuery* out) {
  *out = RecReportQuery{};
  bool have_event = false;
  bool have_days = false;
  Status bad;
  bool decoded = ForEachFormField(query, [&](std::string_view key, std::string value) {
    if (key == "conversion_event") {
      if (have_event) {
        bad = Status::InvalidArgument("conversion_event is given more than once");
        return false;
      }
      have_event = true;
      out->conversion_event = std::move(value);
    } else if (key == "days") {
      if (have_days) {
        bad = Status::InvalidArgument("days is given more than once");
        return false;
      }
      have_days = true;
      int days = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), days);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() || days < 1 ||
          days > kMaxReportDays) {
        bad = Status::InvalidArgument("days must be an integer from 1 to 90");
        return false;
      }
      out->days = days;
    } else if (!key.empty()) {
      bad = Status::InvalidArgument("unknown parameter " + std::string(key) +
                                    " (the report takes conversion_event and days)");
      return false;
    }
    return true;
  });
  if (!bad.ok()) return bad;
  if (!decoded) return Status::InvalidArgument("the query string has bad percent-encoding");
  const std::string& e = out->conversion_event;
  if (e.empty()) {
    return Status::InvalidArgument(
        "conversion_event is required: the event type that counts as a conversion");
  }
  if (e.size() > kMaxEventTypeBytes) {
    return Status::InvalidArgument("conversion_event is longer than 1024 bytes");
  }
  if (e == compute::kExposureEventType || e == "$identify" || e == "$groupidentify") {
    return Status::InvalidArgument("conversion_event cannot be " + e +
                                   ": it is not something a user does");
  }
  return Status::Ok();
}

std::string RecReportJson(std::string_view rec_id, const RecReportQuery& query, int64_t since_ms,
                          const ingest::RecReport& report) {
  std::string out = R"({"rec_id":)";
  AppendJsonString(&out, rec_id);
  out.append(R"(,"conversion_event":)");
  AppendJsonString(&out, query.conversion_event);
  out.append(R"(,"days":)");
  AppendJsonInt(&out, query.days);
  out.append(R"(,"since":)");
  AppendJsonInt(&out, since_ms / 1000);
  out.append(R"(,"control":)");
  AppendGroup(&out, report.control);
  out.append(R"(,"treatment":)");
  AppendGroup(&out, report.treatment);
  out.append(R"(,"lift":)");
  if (report.lift.has_value()) {
    AppendJsonDouble(&out, *report.lift);
  } else {
    out.append("null");
  }
  out.append(R"(,"events_scanned":)");
  AppendJsonUint(&out, report.events_scanned);
  out.append(report.truncated ? R"(,"truncated":true})" : R"(,"truncated":false})");
  return out;
}

}  // namespace profiled::api
