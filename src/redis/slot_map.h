// SlotMap: which node serves each of the 16384 hash slots, as one node's CLUSTER SLOTS answer
// says at one moment. An immutable value once built; thread-safe to read from any thread.
// ClusterClient swaps in a new one when the topology changes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "redis/reply.h"

namespace profiled::redis {

class SlotMap {
 public:
  SlotMap();  // no slot served, no node known

  // Builds the map from a CLUSTER SLOTS reply: an array of [first slot, last slot, primary,
  // replica...], each node an array [ip, port, id, ...]. A node with an empty ip is at
  // `default_host` (the host that answered; Redis leaves the ip empty when it does not know it).
  // Corruption when the reply does not have that shape; slots the reply does not list have no
  // primary.
  static Result<SlotMap> FromClusterSlots(const Reply& reply, std::string_view default_host);

  // The "host:port" of the primary serving `slot`, or an empty string when none does.
  // REQUIRES: slot < kSlotCount. The reference lives as long as the map.
  const std::string& PrimaryOf(uint16_t slot) const;

  // Every primary and replica the map names, primaries first, each once.
  const std::vector<std::string>& nodes() const { return nodes_; }
  // How many slots have a primary.
  int served_slots() const { return served_slots_; }

 private:
  std::vector<std::string> nodes_;  // primaries, then replicas
  std::vector<int16_t> owner_;      // slot -> index into nodes_, or -1
  int served_slots_ = 0;
};

}  // namespace profiled::redis
