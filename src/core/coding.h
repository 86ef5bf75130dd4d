// Byte encodings shared by the on-disk formats (docs/STORAGE.md): LEB128 varints,
// big-endian fixed-width integers (so byte order equals numeric order in keys),
// length-prefixed strings, and little-endian fixed-width arrays (bulk numbers such as a
// model's weights, copied as they lie in memory). Pure functions; thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace profiled {

inline void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

// Reads a varint from the front of *in and advances it. False if *in is truncated
// or the varint is longer than 10 bytes.
inline bool GetVarint64(std::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

inline void PutFixed64BE(std::string* dst, uint64_t v) {
  for (int i = 7; i >= 0; --i) dst->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

inline bool GetFixed64BE(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  *v = r;
  return true;
}

inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint64(dst, s.size());
  dst->append(s);
}

// Reads a length-prefixed string; the view points into the original bytes.
inline bool GetLengthPrefixed(std::string_view* in, std::string_view* s) {
  uint64_t len = 0;
  if (!GetVarint64(in, &len) || len > in->size()) return false;
  *s = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

// The little-endian encodings copy memory as is: they are only right on a little-endian machine.
static_assert(std::endian::native == std::endian::little, "the LE encodings assume little-endian");

// Appends `values` as little-endian fixed-width numbers (sizeof(T) bytes each), with one copy.
template <typename T>
void PutArrayLE(std::string* dst, std::span<const T> values) {
  static_assert(std::is_arithmetic_v<T>);
  if (values.empty()) return;
  const size_t old = dst->size();
  dst->resize(old + values.size_bytes());
  std::memcpy(dst->data() + old, values.data(), values.size_bytes());
}

inline void PutFixed64LE(std::string* dst, uint64_t v) {
  PutArrayLE(dst, std::span<const uint64_t>(&v, 1));
}

// Whether *in holds at least `count` values of T; a check to make before sizing a buffer
// for them, so a corrupt count cannot ask for more memory than the input's size.
template <typename T>
bool HasArrayLE(std::string_view in, uint64_t count) {
  return count <= in.size() / sizeof(T);
}

// Reads values.size() little-endian values from the front of *in into `values` and advances
// *in. False (and nothing read) when *in is shorter.
template <typename T>
bool GetArrayLE(std::string_view* in, std::span<T> values) {
  static_assert(std::is_arithmetic_v<T>);
  if (!HasArrayLE<T>(*in, values.size())) return false;
  if (values.empty()) return true;
  std::memcpy(values.data(), in->data(), values.size_bytes());
  in->remove_prefix(values.size_bytes());
  return true;
}

inline bool GetFixed64LE(std::string_view* in, uint64_t* v) {
  return GetArrayLE(in, std::span<uint64_t>(v, 1));
}

}  // namespace profiled
