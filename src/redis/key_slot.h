// KeySlot: which of Redis Cluster's 16384 hash slots a key belongs to, as the Redis Cluster
// specification defines it: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace profiled::redis {

inline constexpr int kSlotCount = 16384;

// CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection, no final xor) of `bytes`.
// Crc16("123456789") == 0x31C3.
uint16_t Crc16(std::string_view bytes);

// The part of `key` that is hashed: when the key holds a '{' followed later by a '}' with at
// least one byte between the first '{' and the first '}' after it, those bytes (the hash tag);
// otherwise the whole key. So "{user1000}.following" and "{user1000}.followers" share a slot,
// while "{}x" and "x{}" hash whole. The view points into `key`.
std::string_view HashTag(std::string_view key);

// The slot of `key`, in [0, kSlotCount). Keys are arbitrary bytes.
uint16_t KeySlot(std::string_view key);

}  // namespace profiled::redis
