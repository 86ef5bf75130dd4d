// JSON text of property values: what profiles store and both Profile API dialects serve
// (the event log, internal, keeps Boost.JSON's spelling).
//
// Numbers are written as people write them (core/json_writer.h: integers as they are,
// doubles in their shortest round-trip form laid out like JavaScript), never Boost's
// "1E-1". Pure functions; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace profiled {

// Appends the JSON text of v. REQUIRES: every double in v is finite (ingestion refuses
// the rest, see HasNonFiniteNumber); a non-finite one would be written as null.
void AppendValueText(const boost::json::value& v, std::string* out);
void AppendObjectText(const boost::json::object& o, std::string* out);
std::string ValueText(const boost::json::value& v);
std::string ObjectText(const boost::json::object& o);

// At least the size of ValueText(v), without writing it: cheap, and loose for strings (it
// counts every byte as if it needed a 6-byte escape).
size_t TextSizeBound(const boost::json::value& v);
size_t StringTextSizeBound(std::string_view s);

// The number `digits` spells when it is 1 to 18 ASCII digits, leading zeros allowed (18
// digits always fit an int64); false for anything else. The cheap path of readers that
// otherwise call a general number parser.
bool ParseDecimalDigits(std::string_view digits, int64_t* n);

// Whether v holds a double that is infinite or NaN anywhere inside it.
bool HasNonFiniteNumber(const boost::json::value& v);

// The number that AppendValueText's text of the finite double `d` reads back as (through
// ParseJson or ParseStoredObject): an integer when that text is an integer that fits int64 or
// uint64 (2.0 is written 2, -0.0 as 0, 9.2e18 as 9200000000000000000, 2^63 as
// 9223372036854776000), else `d` itself. A profile's properties hold their numbers in this
// form, so what the writer keeps in memory is what a read of the stored text gives.
// REQUIRES: std::isfinite(d).
boost::json::value ReadBackNumber(double d);

// Replaces every double anywhere inside *v by ReadBackNumber of it, so that *v equals what its
// text reads back as. Returns whether anything changed. REQUIRES: every double in *v is finite.
bool ToReadBackNumbers(boost::json::value* v);

// Whether ToReadBackNumbers would change v (without copying it).
bool HasNumberReadBackDifferently(const boost::json::value& v);

// Parses JSON text like boost::json::parse, but reads every fractional or exponent number
// correctly rounded (std::from_chars): Boost.JSON 1.81's own reading is off by one unit in
// the last place for about one 17-digit number in ten (97.43057599473337 would read back
// as 97.43057599473336). A number beyond the range of a double still reads as infinity,
// for the caller to refuse (HasNonFiniteNumber); *non_finite (when given) tells whether
// any did, so the caller can skip looking in the common case. Errors: Boost.JSON's, in *ec.
// The value allocates from `storage` (the default resource unless given).
boost::json::value ParseJson(std::string_view text, int max_depth, boost::system::error_code* ec,
                             bool* non_finite = nullptr, boost::json::storage_ptr storage = {});

// How deep JSON profiled reads (requests and stored records) may nest: the 40 levels a
// property value may have (ingest/validation.h) plus the objects around it, with room to
// spare.
inline constexpr int kMaxJsonDepth = 64;

// Parses JSON object text written by any version of profiled. Earlier versions could
// store non-finite numbers as the bare words Infinity, -Infinity and NaN, which are not
// JSON; they are read as the largest finite double of that sign (saturation) and as
// null. Corruption if the text is not such an object. Parses straight into *out's storage
// (an arena, when *out was made with one), with no copy from another.
Status ParseStoredObject(std::string_view text, boost::json::object* out);

}  // namespace profiled
