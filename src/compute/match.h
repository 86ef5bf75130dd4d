// Filter semantics: how a FilterOp tests one property value. Shared by event `where`
// filters and by cohort conditions on user and computed properties. Pure; thread-safe.
//
//  - A missing value (absent or JSON null) matches only kIsNot, kDoesNotContain and kNotSet.
//  - kIs: the value equals one of `values`: as numbers when both parse as numbers (a number,
//    or a string that is entirely a decimal number: "12.50" is 12.5), else as text (a
//    string's own characters; true/false for booleans). Case-sensitive.
//  - kContains: the value's text contains one of `values` as a substring.
//  - kGreater ... kLessOrEqual: both sides as numbers; a value that is not numeric never
//    matches.
//  - kSet: the value is present and not null.
//  - An array matches a positive op when any element does; kIsNot, kDoesNotContain and
//    kNotSet are the negations of kIs, kContains and kSet.
//  - An object value matches kSet only.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

#include "compute/definition.h"

namespace profiled::compute {

// Whether `value` (null = absent) passes `filter`.
bool Matches(const Filter& filter, const boost::json::value* value);

// The number a value stands for: a finite number, or a string that is entirely a finite
// decimal number (leading/trailing spaces not allowed). Empty otherwise.
std::optional<double> AsNumber(const boost::json::value& value);
std::optional<double> AsNumber(std::string_view text);

}  // namespace profiled::compute
