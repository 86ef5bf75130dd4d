#include "ingest/identity.h"

#include <algorithm>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/value_text.h"
#include "ingest/group_membership.h"
#include "ingest/property_ops.h"
#include "store/keys.h"
#include "store/records.h"

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

Status NewId(WorkingSet& ws, std::string_view project, uint64_t* id, UserState** user) {
  PROFILED_RETURN_IF_ERROR(ws.AllocateAmplitudeId(project, id));
  *user = ws.CreateUserState(project, *id);
  return Status::Ok();
}

}  // namespace

Status MutableAggregates(UserState* user, const compute::ProjectCatalog& catalog,
                         compute::UserAggregates** out) {
  if (!user->decoded_aggregates) {
    compute::UserAggregates decoded;
    if (!user->aggregates.empty()) {
      PROFILED_RETURN_IF_ERROR(compute::UserAggregates::Decode(user->aggregates, &decoded));
      std::erase_if(decoded.states,
                    [&](const auto& kv) { return catalog.FindSpec(kv.first) == nullptr; });
    }
    user->decoded_aggregates = std::move(decoded);
    user->aggregates.clear();  // stale from here on; Flush encodes the decoded form
  }
  *out = &*user->decoded_aggregates;
  return Status::Ok();
}

Status StaticCohortsOf(const UserState& user, std::vector<std::string>* ids) {
  ids->clear();
  if (user.static_cohorts.empty()) return Status::Ok();
  return store::DecodeStaticCohorts(user.static_cohorts, ids);
}

void SetStaticCohorts(UserState* user, const std::vector<std::string>& ids) {
  user->static_cohorts = ids.empty() ? std::string() : store::EncodeStaticCohorts(ids);
  user->static_cohorts_changed = true;
}

Status MergeUserState(WorkingSet& ws, std::string_view project, const MergeContext& context,
                      uint64_t from_id, UserState* from, uint64_t into_id, UserState* into) {
  bool from_has_aggregates =
      !from->aggregates.empty() ||
      (from->decoded_aggregates && !from->decoded_aggregates->states.empty());
  static const compute::ProjectCatalog kNoSpecs;  // NOLINT(readability-identifier-naming)
  const compute::ProjectCatalog& catalog = context.catalog ? *context.catalog : kNoSpecs;
  if (from_has_aggregates) {
    compute::UserAggregates* source = nullptr;
    compute::UserAggregates* target = nullptr;
    PROFILED_RETURN_IF_ERROR(MutableAggregates(from, catalog, &source));
    PROFILED_RETURN_IF_ERROR(MutableAggregates(into, catalog, &target));
    for (const auto& [id, state] : source->states) {
      const compute::SpecEntry* spec = catalog.FindSpec(id);
      if (spec != nullptr) target->states[id].Merge(spec->spec, state, context.now_ms);
    }
  }
  std::vector<std::string> from_cohorts, into_cohorts;
  PROFILED_RETURN_IF_ERROR(StaticCohortsOf(*from, &from_cohorts));
  if (!from_cohorts.empty()) {
    PROFILED_RETURN_IF_ERROR(StaticCohortsOf(*into, &into_cohorts));
    for (const auto& id : from_cohorts) {
      ws.DeleteRaw(store::Table::kMeta, store::StaticMemberKey(project, id, from_id));
      ws.PutRaw(store::Table::kMeta, store::StaticMemberKey(project, id, into_id), "");
      auto at = std::lower_bound(into_cohorts.begin(), into_cohorts.end(), id);
      if (at == into_cohorts.end() || *at != id) into_cohorts.insert(at, id);
    }
    SetStaticCohorts(into, into_cohorts);
  }
  // The user remembers every id merged into it, so a privacy deletion of the user finds the
  // anonymous id's logged events and merge record.
  std::vector<uint64_t> merged, from_merged;
  PROFILED_RETURN_IF_ERROR(MergedIdsOf(*into, &merged));
  PROFILED_RETURN_IF_ERROR(MergedIdsOf(*from, &from_merged));
  merged.push_back(from_id);
  merged.insert(merged.end(), from_merged.begin(), from_merged.end());
  into->merged_ids = store::EncodeIdList(merged);
  into->merged_ids_changed = true;
  bool groups_changed = false;
  std::string damaged;
  MergeGroupMembership(from->groups, &into->groups, &groups_changed, &damaged);
  if (groups_changed) into->groups_changed = true;
  if (!damaged.empty()) {
    LogWarn("project " + std::string(project) + ": merge of amplitude_id " +
            std::to_string(from_id) + " into " + std::to_string(into_id) +
            ": group memberships: " + damaged);
  }
  return Status::Ok();
}

Status MergedIdsOf(const UserState& user, std::vector<uint64_t>* ids) {
  ids->clear();
  if (user.merged_ids.empty()) return Status::Ok();
  return store::DecodeIdList(user.merged_ids, ids);
}

Status ResolveIdentity(WorkingSet& ws, std::string_view project, std::string_view user_id,
                       std::string_view device_id, const MergeContext& context,
                       uint64_t* amplitude_id, UserState** user) {
  std::optional<uint64_t> device_amp;
  UserState* device_user = nullptr;
  if (!device_id.empty()) {
    PROFILED_RETURN_IF_ERROR(ws.GetDevice(project, device_id, &device_amp));
    if (device_amp) {
      PROFILED_RETURN_IF_ERROR(ws.GetUserState(project, *device_amp, &device_user));
      // A mapping to an id without a profile is stale: its user was deleted (a privacy
      // deletion leaves the mappings it could not find). The device starts afresh.
      if (device_user == nullptr) device_amp.reset();
    }
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
  if (user_amp) {
    PROFILED_RETURN_IF_ERROR(ws.GetUserState(project, *user_amp, user));
    if (*user == nullptr) user_amp.reset();  // stale, as above: a deleted user
  }
  bool device_anonymous = device_user != nullptr && device_user->profile.user_id.empty();

  if (user_amp) {
    *amplitude_id = *user_amp;  // *user was read above
    if (device_amp && *device_amp != *user_amp && device_anonymous) {
      Profile& into = (*user)->profile;
      FillInProperties(ws, device_user->profile, &into);
      FillIn(device_user->profile.builtins, &into.builtins);
      PROFILED_RETURN_IF_ERROR(
          MergeUserState(ws, project, context, *device_amp, device_user, *user_amp, *user));
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
