// ApplyPropertyOps: Amplitude's user-property operations on a property object.
//
// Pure function; thread-safe. The rules, per operation (docs/API.md lists them too):
//   $clearAll   removes every property.
//   $unset      removes the key.
//   $set        sets the key.
//   $setOnce    sets the key only if it has no value yet.
//   $add        adds a number; a missing value counts as 0, a numeric string is read as
//               its number; any other existing value is left unchanged.
//   $append     adds the value (or each element of an array value) at the end; a missing
//               value becomes a new array, a scalar becomes [scalar, ...].
//   $prepend    the same at the front, keeping the given order.
//   $preInsert  like $prepend, but only values not already present.
//   $postInsert like $append, but only values not already present.
//   $remove     removes every element equal to the value (or to any element of an array
//               value); a scalar existing value equal to it becomes [], any other
//               scalar is left unchanged.
// Bounds, so one user cannot grow without limit: an array property keeps at most
// kMaxArrayItems values (growing it drops the oldest: the front for $append/$postInsert,
// the back for $prepend/$preInsert; $set keeps the first ones), and a profile holds at most
// kMaxProperties properties (operations that would add one more are ignored).
#pragma once

#include <boost/json/object.hpp>
#include <vector>

#include "ingest/event.h"

namespace profiled::ingest {

inline constexpr size_t kMaxArrayItems = 1000;
inline constexpr size_t kMaxProperties = 1000;

// Applies `ops` to `properties` in the order given.
void ApplyPropertyOps(const std::vector<PropertyOp>& ops, boost::json::object* properties);

// Reads a number for $add: a JSON number, or a string holding exactly a finite decimal
// number ("12", "-0.5", "1e3"; not " 5", "+5", "0x10", "nan"). False for anything else.
bool ReadNumber(const boost::json::value& v, boost::json::value* out);

// Sorts ops into Amplitude's application order (stable within one kind).
void SortPropertyOps(std::vector<PropertyOp>* ops);

}  // namespace profiled::ingest
