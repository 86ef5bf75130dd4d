#include "ingest/identity.h"

#include "core/json_writer.h"
#include "core/log.h"
#include "core/value_text.h"
#include "ingest/property_ops.h"

namespace profiled::ingest {

namespace {

// Copies what `from` has and `into` lacks (`into`'s own values win: they are the
// identified user's state).
void FillIn(const boost::json::object& from, boost::json::object* into) {
  for (const auto& kv : from) {
    if (!into->contains(kv.key())) (*into)[kv.key()] = kv.value();
  }
}

// Merges an anonymous profile's properties into the user's like FillIn, within the bounds
// of property_ops.h: a property that would take the user past kMaxProperties properties or
// kMaxPropertiesBytes of JSON text is left out, and the count is logged.
void FillInProperties(WorkingSet& ws, const Profile& from, Profile* into) {
  size_t dropped = 0;
  bool measured = false;  // whether into->properties_size_bound is exact
  std::string entry;
  for (const auto& kv : from.properties) {
    if (into->properties.contains(kv.key())) continue;
    entry.clear();
    AppendJsonString(&entry, kv.key());
    AppendValueText(kv.value(), &entry);
    size_t bytes = entry.size() + 2;  // the colon and a comma
    if (!measured && into->properties_size_bound + bytes > kMaxPropertiesBytes) {
      into->properties_size_bound = ObjectText(into->properties).size();
      measured = true;
    }
    if (into->properties.size() >= kMaxProperties ||
        into->properties_size_bound + bytes > kMaxPropertiesBytes) {
      ++dropped;
      continue;
    }
    ws.SaveForUndo(into, kv.key());
    into->properties[kv.key()] = kv.value();
    into->properties_size_bound += bytes;
  }
  if (dropped > 0) {
    LogWarn("merge of an anonymous profile into user " + into->user_id + " left out " +
            std::to_string(dropped) + " properties over the profile limits");
  }
}

Status LoadOrCreate(WorkingSet& ws, std::string_view project, uint64_t id, Profile** profile) {
  PROFILED_RETURN_IF_ERROR(ws.GetProfile(project, id, profile));
  if (*profile == nullptr) *profile = ws.CreateProfile(project, id);
  return Status::Ok();
}

Status NewId(WorkingSet& ws, std::string_view project, uint64_t* id, Profile** profile) {
  PROFILED_RETURN_IF_ERROR(ws.AllocateAmplitudeId(project, id));
  *profile = ws.CreateProfile(project, *id);
  return Status::Ok();
}

}  // namespace

Status ResolveIdentity(WorkingSet& ws, std::string_view project, std::string_view user_id,
                       std::string_view device_id, uint64_t* amplitude_id, Profile** profile) {
  std::optional<uint64_t> device_amp;
  Profile* device_profile = nullptr;
  if (!device_id.empty()) {
    PROFILED_RETURN_IF_ERROR(ws.GetDevice(project, device_id, &device_amp));
    if (device_amp)
      PROFILED_RETURN_IF_ERROR(LoadOrCreate(ws, project, *device_amp, &device_profile));
  }

  if (user_id.empty()) {
    if (device_amp) {
      *amplitude_id = *device_amp;
      *profile = device_profile;
    } else {
      PROFILED_RETURN_IF_ERROR(NewId(ws, project, amplitude_id, profile));
      ws.PutDevice(project, device_id, *amplitude_id);
    }
    return Status::Ok();
  }

  std::optional<uint64_t> user_amp;
  PROFILED_RETURN_IF_ERROR(ws.GetUser(project, user_id, &user_amp));
  bool device_anonymous = device_profile != nullptr && device_profile->user_id.empty();

  if (user_amp) {
    *amplitude_id = *user_amp;
    PROFILED_RETURN_IF_ERROR(LoadOrCreate(ws, project, *user_amp, profile));
    if (device_amp && *device_amp != *user_amp && device_anonymous) {
      FillInProperties(ws, *device_profile, *profile);
      FillIn(device_profile->builtins, &(*profile)->builtins);
      ws.PutMerge(project, *device_amp, *user_amp);
      ws.DeleteProfile(project, *device_amp);
    }
  } else if (device_anonymous) {
    *amplitude_id = *device_amp;
    *profile = device_profile;
  } else {
    PROFILED_RETURN_IF_ERROR(NewId(ws, project, amplitude_id, profile));
  }
  if ((*profile)->user_id.empty()) (*profile)->user_id = std::string(user_id);
  if (!user_amp) ws.PutUser(project, user_id, *amplitude_id);
  if (!device_id.empty() && device_amp != *amplitude_id) {
    ws.PutDevice(project, device_id, *amplitude_id);
  }
  return Status::Ok();
}

}  // namespace profiled::ingest
