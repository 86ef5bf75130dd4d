// Credentials in request headers: the schemes of the Authorization header the endpoints
// take (Api-Key for the Profile API, Bearer for the admin API, Basic for the cohort API),
// a comparison of secrets that does not leak, through its time, how much of a guess was
// right, and SecretIndex, which finds whose a presented key is the same way. The functions
// are pure and thread-safe; a SecretIndex is filled once, then read by any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace profiled::api {

// What follows `scheme` and a space in an Authorization header (the scheme matched
// case-insensitively), without surrounding spaces; empty when the header is missing, has
// another scheme, or has nothing after it. REQUIRES: `scheme` is lower case.
std::string_view CredentialsOf(std::string_view header, std::string_view scheme);

// Whether a == b, in a time that depends only on their lengths.
bool SameSecret(std::string_view a, std::string_view b);

// The keys of one kind (api keys, secret keys, the admin token), each filed with a value (its
// project's index), looked up in a time that depends on the presented key's length only,
// never on how much of it matches a stored key: a key is filed under its SipHash-2-4 under a
// random key drawn for this index (so where a guess lands, and how its hash compares with
// the stored ones, says nothing an attacker can use), and a hash match is confirmed with
// SameSecret. Add before sharing; Find from any number of threads at once.
class SecretIndex {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  SecretIndex();  // draws its hash key from std::random_device

  // Files `key` with `value`. False, and nothing changes, when `key` is filed already.
  bool Add(std::string_view key, size_t value);
  // The value filed with `presented`, or kNone.
  size_t Find(std::string_view presented) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string key;
    size_t value;
  };
  uint64_t Hash(std::string_view key) const;

  uint64_t k0_;
  uint64_t k1_;
  std::unordered_multimap<uint64_t, Entry> entries_;  // by Hash(key)
};

// Decodes standard base64 (padding optional). False on any other character, or on
// anything after the padding.
bool DecodeBase64(std::string_view in, std::string* out);

}  // namespace profiled::api
