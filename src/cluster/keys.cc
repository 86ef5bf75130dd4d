#include "cluster/keys.h"

#include "core/coding.h"
#include "core/hash.h"
#include "store/keys.h"

namespace profiled::cluster {

namespace {
// {k} kind P: kind before the project so that keys of different kinds never compare equal
// whatever the project holds.
std::string KeyStart(uint32_t partition, char kind, std::string_view project) {
  std::string k = PartitionTag(partition);
  k.push_back(kind);
  k.append(store::ProjectPrefix(project));
  return k;
}
}  // namespace

uint32_t Partition(std::string_view project, uint64_t amplitude_id, uint32_t partitions) {
  // The length first, so (project, id) pairs never hash the same bytes.
  uint64_t h = StableHasher()
                   .Add(static_cast<uint64_t>(project.size()))
                   .Add(project)
                   .Add(amplitude_id)
                   .Finish();
  return static_cast<uint32_t>(h % partitions);
}

std::string PartitionTag(uint32_t partition) { return "{" + std::to_string(partition) + "}"; }

std::string UserHashKey(uint32_t partition, std::string_view project, uint64_t amplitude_id) {
  std::string k = KeyStart(partition, 'u', project);
  PutFixed64BE(&k, amplitude_id);
  return k;
}

std::string UserIndexKey(uint32_t partition, std::string_view project) {
  return KeyStart(partition, 'x', project);
}

}  // namespace profiled::cluster
