// Picking a few user properties out of a profile's stored JSON object text, for the cohort
// conditions that read them, without building the whole object: a read needs the handful of
// properties its served cohorts name (ProjectCatalog::user_property_names), while a profile
// may hold hundreds. Pure; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace profiled::read {

// Sets (*out)[name] to the value of every member of the stored object `text` whose name is
// in `names` (sorted, unique), as ParseStoredObject would read it; other members are
// skipped, not parsed. Stored texts are written by core/json_writer.h from objects, so they
// never repeat a name (a text that did could be read as either of its members of that name). Values
// are allocated with *out's storage. Corruption when `text` is not an object or a picked value does
// not parse; members that are not picked are checked only as far as finding where they end, members
// after the last picked one not at all (stored texts never repeat a name), and when no name
// occurs in the text at all (as core/json_writer.h writes names), only the braces around it
// are checked (texts over 2 KiB; a shorter one is scanned member by member to the last
// picked name, or to its end when a name is not there).
[[nodiscard]] Status PickStoredProperties(std::string_view text,
                                          const std::vector<std::string>& names,
                                          boost::json::object* out);

}  // namespace profiled::read
