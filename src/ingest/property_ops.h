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
//               value); a scalar existing value is treated as a one-element array.
#pragma once

#include <boost/json/object.hpp>
#include <vector>

#include "ingest/event.h"

namespace profiled::ingest {

// Applies `ops` to `properties` in the order given.
void ApplyPropertyOps(const std::vector<PropertyOp>& ops, boost::json::object* properties);

// Sorts ops into Amplitude's application order (stable within one kind).
void SortPropertyOps(std::vector<PropertyOp>* ops);

}  // namespace profiled::ingest
