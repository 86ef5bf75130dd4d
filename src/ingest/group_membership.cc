#include "ingest/group_membership.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/value_text.h"

namespace profiled::ingest {

namespace {

Status Parse(std::string_view record, boost::json::object* out) {
  if (record.empty()) return Status::Ok();
  Status s = ParseStoredObject(record, out);
  if (!s.ok()) return Status::Corruption("the user's group memberships: " + s.message());
  return Status::Ok();
}

void Store(const boost::json::object& groups, std::string* record, bool* changed) {
  std::string text = groups.empty() ? std::string() : ObjectText(groups);
  *changed = text != *record;
  if (*changed) *record = std::move(text);
}

}  // namespace

Status SetGroupMembership(const std::vector<GroupRef>& groups, std::string* record, bool* changed,
                          std::string* damaged) {
  *changed = false;
  if (damaged != nullptr) damaged->clear();
  boost::json::object current;
  if (Status s = Parse(*record, &current); !s.ok()) {
    // Unreadable, so read as no groups (docs/STORAGE.md): replaced by what this event sets,
    // rather than leaving the user's groups unwritable for good.
    current.clear();
    if (damaged != nullptr) *damaged = "the record is damaged, replaced (" + s.message() + ")";
  }
  const size_t types_before = current.size();
  for (const GroupRef& ref : groups) {
    if (ref.names.empty()) {
      current.stable_erase(ref.type);  // the other types keep their order
      continue;
    }
    boost::json::array names;
    names.reserve(ref.names.size());
    for (const std::string& name : ref.names) {
      if (names.size() == kMaxUserGroupNames) break;
      // A name given twice is one membership.
      if (std::find(names.begin(), names.end(), boost::json::value(name)) == names.end()) {
        names.emplace_back(name);
      }
    }
    current[ref.type] = std::move(names);
  }
  if (current.size() > kMaxUserGroupTypes && current.size() > types_before) {
    return Status::InvalidArgument(
        "this event would put the user in groups of " + std::to_string(current.size()) +
        " types, over the limit of " + std::to_string(kMaxUserGroupTypes) +
        "; remove the user from a type first (\"groups\":{\"TYPE\":[]})");
  }
  Store(current, record, changed);
  return Status::Ok();
}

void MergeGroupMembership(std::string_view from, std::string* into, bool* changed,
                          std::string* damaged) {
  *changed = false;
  damaged->clear();
  if (from.empty()) return;
  boost::json::object source, target;
  if (Status s = Parse(from, &source); !s.ok()) {
    *damaged = "the merged-away user's record is damaged, taken as none (" + s.message() + ")";
    return;
  }
  if (Status s = Parse(*into, &target); !s.ok()) {
    *damaged =
        "the user's record is damaged, kept as it is and nothing merged (" + s.message() + ")";
    return;
  }
  for (const auto& kv : source) {
    if (target.size() >= kMaxUserGroupTypes) break;
    if (!target.contains(kv.key())) target[kv.key()] = kv.value();
  }
  Store(target, into, changed);
}

}  // namespace profiled::ingest
