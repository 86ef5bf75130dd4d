#include "store/profile_lookup.h"

#include "store/keys.h"

namespace profiled::store {

namespace {
Status LookupId(Store& store, const std::string& key, uint64_t* id) {
  std::string value;
  PROFILED_RETURN_IF_ERROR(store.Get(Table::kIdentity, key, &value));
  return DecodeId(value, id);
}
}  // namespace

Status LookupUser(Store& store, std::string_view project, std::string_view user_id,
                  uint64_t* amplitude_id) {
  return LookupId(store, UserKey(project, user_id), amplitude_id);
}

Status LookupDevice(Store& store, std::string_view project, std::string_view device_id,
                    uint64_t* amplitude_id) {
  return LookupId(store, DeviceKey(project, device_id), amplitude_id);
}

Status ReadProfile(Store& store, std::string_view project, uint64_t amplitude_id,
                   std::string* buffer, ProfileView* view) {
  PROFILED_RETURN_IF_ERROR(store.Get(Table::kProfiles, ProfileKey(project, amplitude_id), buffer));
  return DecodeProfile(*buffer, view);
}

Status FindProfile(Store& store, std::string_view project, std::string_view user_id,
                   std::string_view device_id, uint64_t* amplitude_id, std::string* buffer,
                   ProfileView* view) {
  if (!user_id.empty()) {
    PROFILED_RETURN_IF_ERROR(LookupUser(store, project, user_id, amplitude_id));
    return ReadProfile(store, project, *amplitude_id, buffer, view);
  }
  PROFILED_RETURN_IF_ERROR(LookupDevice(store, project, device_id, amplitude_id));
  Status s = ReadProfile(store, project, *amplitude_id, buffer, view);
  if (!s.IsNotFound()) return s;
  // The two reads are not one snapshot: a merge committed between them moves the device
  // to its user and deletes the anonymous profile. Reading the device again finds the user.
  PROFILED_RETURN_IF_ERROR(LookupDevice(store, project, device_id, amplitude_id));
  return ReadProfile(store, project, *amplitude_id, buffer, view);
}

}  // namespace profiled::store
