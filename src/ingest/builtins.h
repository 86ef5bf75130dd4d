// ApplyBuiltins: the user-level fields Amplitude keeps from events and /identify
// (platform, OS, device, carrier, location, language, app version, library, paying,
// start_version, first_used, last_used).
//
// Rules: a device-group field (platform, os_name, os_version, device_brand,
// device_manufacturer, device_model, carrier) replaces the whole group, clearing the
// members not sent; the location group (country, region, city, dma) likewise. Language
// tags are stored as language names ("en-US" -> "English"). start_version is set once,
// from the first app_version seen. For activity (ordinary events), first_used is set
// once and last_used advanced to the event's date (YYYY-MM-DD, UTC). Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "ingest/event.h"

namespace profiled::ingest {

void ApplyBuiltins(const BuiltinUpdate& update, boost::json::object* builtins);

// Records activity at event time `time_ms`.
void RecordActivity(int64_t time_ms, boost::json::object* builtins);

// "en-US" / "en" / "EN_gb" -> "English"; unknown tags are returned unchanged.
std::string LanguageName(std::string_view tag);

}  // namespace profiled::ingest
