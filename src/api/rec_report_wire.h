// The wire form of a recommendation's online report (docs/API.md, "Recommendation report"):
// GET /admin/v1/projects/{p}/recommendations/{id}/report?conversion_event=E&days=N.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "ingest/rec_report.h"

namespace profiled::api {

inline constexpr int kDefaultReportDays = 7;
inline constexpr int kMaxReportDays = 90;

struct RecReportQuery {
  std::string conversion_event;
  int days = kDefaultReportDays;
};

// Parses the query string. InvalidArgument naming the parameter when conversion_event is
// missing, empty, longer than 1024 bytes, the exposure event type itself, or $identify /
// $groupidentify (never counted); when days is not an integer in [1, 90]; when a parameter is
// repeated or unknown, or the query's percent-encoding is bad.
Status ParseRecReportQuery(std::string_view query, RecReportQuery* out);

// The response body: {"rec_id","conversion_event","days","since","control":{...},
// "treatment":{...},"lift","events_scanned","truncated"}; `since_ms` the window's start.
std::string RecReportJson(std::string_view rec_id, const RecReportQuery& query, int64_t since_ms,
                          const ingest::RecReport& report);

}  // namespace profiled::api
