#include "redis/slot_map.h"

#include <algorithm>

#include "redis/key_slot.h"

namespace profiled::redis {
namespace {

Status Malformed(std::string_view what) {
  return Status::Corruption("CLUSTER SLOTS reply is malformed: " + std::string(what));
}

Result<std::string> NodeAddress(const Reply& node, std::string_view default_host) {
  if (node.type != ReplyType::kArray || node.elements.size() < 2 ||
      node.elements[0].type != ReplyType::kString || node.elements[1].type != ReplyType::kInteger) {
    return Malformed("a node is not [ip, port, ...]");
  }
  const std::string& ip = node.elements[0].str;
  return (ip.empty() ? std::string(default_host) : ip) + ":" +
         std::to_string(node.elements[1].integer);
}

}  // namespace

SlotMap::SlotMap() : owner_(kSlotCount, -1) {}

Result<SlotMap> SlotMap::FromClusterSlots(const Reply& reply, std::string_view default_host) {
  if (reply.type != ReplyType::kArray) return Malformed("not an array");
  SlotMap map;
  std::vector<std::string> replicas;
  auto index_of = [&map](const std::string& address) {
    auto it = std::find(map.nodes_.begin(), map.nodes_.end(), address);
    if (it != map.nodes_.end()) return static_cast<int16_t>(it - map.nodes_.begin());
    map.nodes_.push_back(address);
    return static_cast<int16_t>(map.nodes_.size() - 1);
  };
  for (const Reply& range : reply.elements) {
    if (range.type != ReplyType::kArray || range.elements.size() < 3 ||
        range.elements[0].type != ReplyType::kInteger ||
        range.elements[1].type != ReplyType::kInteger) {
      return Malformed("a range is not [first, last, primary, ...]");
    }
    int64_t first = range.elements[0].integer;
    int64_t last = range.elements[1].integer;
    if (first < 0 || last < first || last >= kSlotCount) return Malformed("slot out of range");
    Result<std::string> primary = NodeAddress(range.elements[2], default_host);
    if (!primary.ok()) return primary.status();
    int16_t owner = index_of(*primary);
    for (int64_t slot = first; slot <= last; ++slot) {
      if (map.owner_[slot] < 0) ++map.served_slots_;
      map.owner_[slot] = owner;
    }
    for (size_t i = 3; i < range.elements.size(); ++i) {
      Result<std::string> replica = NodeAddress(range.elements[i], default_host);
      if (!replica.ok()) return replica.status();
      replicas.push_back(std::move(*replica));
    }
  }
  for (const std::string& replica : replicas) index_of(replica);
  return map;
}

const std::string& SlotMap::PrimaryOf(uint16_t slot) const {
  static const std::string no_node;
  int16_t owner = owner_[slot];
  return owner < 0 ? no_node : nodes_[owner];
}

}  // namespace profiled::redis
