// ApplyPropertyOps: Amplitude's user-property operations on a property object.
//
// Pure function; thread-safe. The rules, per operation (docs/API.md lists them too):
//   $clearAll   removes every property.
//   $unset      removes the key.
//   $set        sets the key.
//   $setOnce    sets the key only if it has no value yet.
//   $add        adds a number; a missing value counts as 0, a numeric string is read as
//               its number; any other existing value is left unchanged. Integers stay
//               exact while the sum is an integer from -2^63 to 2^64-1; past that, or
//               with a fractional operand, the sum is a double. A sum too large for a
//               double (beyond ±1.7976931348623157e308) is refused: the value stays as
//               it was, so a stored number is always finite.
//   $append     adds the value (or each element of an array value) at the end; a missing
//               value becomes a new array, a scalar becomes [scalar, ...].
//   $prepend    the same at the front, keeping the given order.
//   $preInsert  like $prepend, but only values not already present.
//   $postInsert like $append, but only values not already present.
//   $remove     removes every element equal to the value (or to any element of an array
//               value); a scalar existing value equal to it becomes [], any other
//               scalar is left unchanged.
// Numbers are kept as their JSON text reads back (core/value_text.h, ReadBackNumber): a double
// written as an integer (2.0 is written 2, 9.2e18 as 9200000000000000000) is that integer,
// in what is stored and in what is compared ($remove, $preInsert, $postInsert), so the
// profile the writer keeps in memory behaves exactly like the same profile read again from
// its stored text (after a restart, on another node).
// Bounds, so one user cannot grow without limit: an array property keeps at most
// kMaxArrayItems values (growing it drops the oldest: the front for $append/$postInsert,
// the back for $prepend/$preInsert; $set keeps the first ones), and a profile holds at most
// kMaxProperties properties (operations that would add one more are ignored). The JSON
// text of a user's properties is kept within kMaxPropertiesBytes by the Ingestor, which
// refuses an event that would grow it past that (GrowthBound below).
#pragma once

#include <boost/json/object.hpp>
#include <vector>

#include "ingest/event.h"

namespace profiled::ingest {

inline constexpr size_t kMaxArrayItems = 1000;
inline constexpr size_t kMaxProperties = 1000;
inline constexpr size_t kMaxPropertiesBytes = 1 << 20;

// Applies `ops` to `properties` in the order given.
void ApplyPropertyOps(const std::vector<PropertyOp>& ops, boost::json::object* properties);

// At least how many bytes applying `ops` can add to the JSON text of a property object
// (0 when they can only remove: $unset and $clearAll). Cheap: proportional to the size of the ops.
size_t GrowthBound(const std::vector<PropertyOp>& ops);

// Reads a number for $add: a finite JSON number, or a string holding exactly a finite
// decimal number ("12", "-0.5", "1e3"; not " 5", "+5", "0x10", "nan", "1e400"), in the
// form its text reads back as ("1e3" and 1000.0 as the integer 1000). False for anything
// else.
bool ReadNumber(const boost::json::value& v, boost::json::value* out);

// Sorts ops into Amplitude's application order (stable within one kind).
void SortPropertyOps(std::vector<PropertyOp>* ops);

}  // namespace profiled::ingest
