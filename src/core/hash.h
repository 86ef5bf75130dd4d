// StableHasher: a 64-bit hash whose values never change between builds, standard libraries
// or machines (unlike std::hash), for hashes that are stored or that decide something a user
// sees: the distinct-value states of compute/aggregate.h and the control groups and random
// recommendations of recs/serving.h. FNV-1a over the bytes, finished with MurmurHash3's
// fmix64 so that every output bit (and so a value mod 10000) depends on every input byte.
//
// Changing what it computes changes stored aggregates and control groups: never do.
// A value type; thread-compatible.
//
// SipHash24: a keyed hash (a pseudo-random function of its key), for tables whose keys an
// attacker chooses and must learn nothing from: api/auth.h files secrets under it. Pure.
//
// Md5Hex: MD5 (OpenSSL's libcrypto), only where a wire format names it (the checksum of the
// legacy v1 upload, api/ingest_wire.h); never for anything secret. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace profiled {

class StableHasher {
 public:
  // Hashes the 8 bytes of v, least significant first (the same on every machine).
  StableHasher& Add(uint64_t v) {
    for (int b = 0; b < 8; ++b) Byte(static_cast<uint8_t>(v >> (8 * b)));
    return *this;
  }
  StableHasher& Add(std::string_view bytes) {
    for (char c : bytes) Byte(static_cast<uint8_t>(c));
    return *this;
  }
  // The hash of everything added so far; the hasher can go on adding.
  uint64_t Finish() const {
    uint64_t h = h_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

 private:
  void Byte(uint8_t b) {
    h_ ^= b;
    h_ *= 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

// StableHasher().Add(bytes).Finish().
inline uint64_t StableHash(std::string_view bytes) { return StableHasher().Add(bytes).Finish(); }

// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) of `bytes`
// under the 128-bit key (k0, k1), k0 holding its first eight bytes read little-endian. Its
// time depends on the length of `bytes` only.
uint64_t SipHash24(uint64_t k0, uint64_t k1, std::string_view bytes);

// The MD5 digest of `bytes` as 32 lower-case hex digits.
std::string Md5Hex(std::string_view bytes);

}  // namespace profiled
