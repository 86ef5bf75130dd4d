// Picking a few user properties out of a profile's stored JSON object text, for the cohort
// conditions that read them, without building the whole object: a read needs the handful of
// properties its served cohorts name (ProjectCatalog::user_property_names), while a profile
// may hold hundreds. Pure; thread-safe.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace profiled::read {

// Sets (*found)[i] to the value of the member of the stored object `text` named names[i]
// (names sorted, unique), as ParseStoredObject would read it, or to null when there is none.
// The values are kept in *values: cleared, then sized to names.size() and never resized, so
// the pointers stay valid while *values is not changed; allocated with its storage. Stored
// texts are written by ObjectText (core/value_text.h) from objects, so they never repeat a
// name (a text that did could be read as either of its members of that name).
//
// Corruption when `text` is not an object or a picked value does not parse; then every
// (*found)[i] is null. Members that are not picked are checked only as far as finding where
// they end, members after the last picked one not at all, and when no name occurs in the
// text at all (as ObjectText writes names), only the braces around it are checked (texts
// over 2 KiB; a shorter one is scanned member by member to the last picked name, or to its
// end when a name is not there).
[[nodiscard]] Status PickStoredProperties(std::string_view text,
                                          const std::vector<std::string>& names,
                                          boost::json::array* values,
                                          std::vector<const boost::json::value*>* found);

}  // namespace profiled::read
