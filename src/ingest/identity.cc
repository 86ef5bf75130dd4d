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

Status LoadOrCreate(WorkingSet& ws, std::string_view project, uint64_t id, UserState** user) {
  PROFILED_RETURN_IF_ERROR(ws.GetUserState(project, id, user));
  if (*user == nullptr) *user = ws.CreateUserState(project, id);
  return Status::Ok();
}

Status NewId(WorkingSet& ws, std::string_view project, uint64_t* id, UserState** user) {
  PROFILED_RETURN_IF_ERROR(ws.AllocateAmplitudeId(project, id));
  *user = ws.CreateUserState(project, *id);
  return Status::Ok();
}

// Keeps `into` when it has the record, else takes `from`'s (see MergeUserState).
void MergeRawRecord(const std::string& from, std::string* into) {
  if (into->empty()) *into = from;
}

}  // namespace

void MergeUserState(const UserState& from, UserState* into) {
  MergeRawRecord(from.aggregates, &into->aggregates);
  MergeRawRecord(from.static_cohorts, &into->static_cohorts);
}

Status ResolveIdentity(WorkingSet& ws, std::string_view project, std::string_view user_id,
                       std::string_view device_id, uint64_t* amplitude_id, UserState** user) {
  std::optional<uint64_t> device_amp;
  UserState* device_user = nullptr;
  if (!device_id.empty()) {
    PROFILED_RETURN_IF_ERROR(ws.GetDevice(project, device_id, &device_amp));
    if (device_amp) PROFILED_RETURN_IF_ERROR(LoadOrCreate(ws, project, *device_amp, &device_user));
  }

  if (user_id.empty()) {
    if (device_amp) {
      *amplitude_id = *device_amp;
      *user = device_user;
    } else {
      PROFILED_RETURN_IF_ERROR(NewId(ws, project, amplitude_id, user));
      ws.PutDevice(project, device_id, *amplitude_id);
    }
    return Status::Ok();
  }

  std::optional<uint64_t> user_amp;
  PROFILED_RETURN_IF_ERROR(ws.GetUser(project, user_id, &user_amp));
  bool device_anonymous = device_user != nullptr && device_user->profile.user_id.empty();

  if (user_amp) {
    *amplitude_id = *user_amp;
    PROFILED_RETURN_IF_ERROR(LoadOrCreate(ws, project, *user_amp, user));
    if (device_amp && *device_amp != *user_amp && device_anonymous) {
      Profile& into = (*user)->profile;
      FillInProperties(ws, device_user->profile, &into);
      FillIn(device_user->profile.builtins, &into.builtins);
      MergeUserState(*device_user, *user);
      ws.PutMerge(project, *device_amp, *user_amp);
      ws.DeleteUserState(project, *device_amp);  // every record of the anonymous id
    }
  } else if (device_anonymous) {
    *amplitude_id = *device_amp;
    *user = device_user;
  } else {
    PROFILED_RETURN_IF_ERROR(NewId(ws, project, amplitude_id, user));
  }
  Profile& profile = (*user)->profile;
  if (profile.user_id.empty()) profile.user_id = std::string(user_id);
  if (!user_amp) ws.PutUser(project, user_id, *amplitude_id);
  if (!device_id.empty() && device_amp != *amplitude_id) {
    ws.PutDevice(project, device_id, *amplitude_id);
  }
  return Status::Ok();
}

}  // namespace profiled::ingest
