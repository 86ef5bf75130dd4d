#include "read/profile_reader.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>

#include "compute/evaluate.h"
#include "read/stored_properties.h"
#include "recs/model.h"
#include "store/keys.h"
#include "store/profile_lookup.h"

namespace profiled::read {

namespace {

using store::UserRecord;

constexpr UserRecord kRecords[] = {UserRecord::kProfile, UserRecord::kAggregates,
                                   UserRecord::kStaticCohorts};

// The user properties of one stored profile, picked out of its JSON text (only the names
// served cohorts read) when evaluation first needs them, into a stack buffer.
class StoredUserProperties : public compute::UserPropertySource {
 public:
  StoredUserProperties(const std::vector<std::string>& names, const store::ProfileView& profile)
      : names_(names),
        profile_(profile),
        resource_(buffer_, sizeof(buffer_)),
        properties_(&resource_),
        builtins_(&resource_) {}
  StoredUserProperties(const StoredUserProperties&) = delete;
  StoredUserProperties& operator=(const StoredUserProperties&) = delete;

  Status Load(bool builtins, const boost::json::object** out) override {
    boost::json::object* object = builtins ? &builtins_ : &properties_;
    PROFILED_RETURN_IF_ERROR(PickStoredProperties(
        builtins ? profile_.builtins_json : profile_.properties_json, names_, object));
    *out = object;
    return Status::Ok();
  }

 private:
  const std::vector<std::string>& names_;
  const store::ProfileView& profile_;
  unsigned char buffer_[1024];
  boost::json::monotonic_resource resource_;  // over buffer_, then the heap
  boost::json::object properties_;
  boost::json::object builtins_;
};

// What evaluation needs of a user, read from its raw records (which must outlive it): the
// aggregates stay encoded (read in place), user properties are picked when first needed.
struct Decoded {
  Decoded(const compute::ProjectCatalog& catalog, const store::ProfileView& profile)
      : properties(catalog.user_property_names(), profile) {}

  compute::AggregatesView aggregates;
  StoredUserProperties properties;
  std::vector<std::string> static_cohorts;
  compute::UserView view;
};

Status DecodeForEvaluation(std::string_view aggregates, std::string_view static_cohorts,
                           Decoded* d) {
  PROFILED_RETURN_IF_ERROR(d->aggregates.Parse(aggregates));
  if (!static_cohorts.empty()) {
    PROFILED_RETURN_IF_ERROR(store::DecodeStaticCohorts(static_cohorts, &d->static_cohorts));
  }
  d->view.aggregates = &d->aggregates;
  d->view.property_source = &d->properties;
  d->view.static_cohorts = &d->static_cohorts;
  return Status::Ok();
}

}  // namespace

ProfileReader::ProfileReader(store::Store& store, const compute::CatalogHolder& catalogs,
                             const Clock& clock, const recs::ModelShelf* shelf)
    : store_(store),
      catalogs_(catalogs),
      clock_(clock),
      shelf_(shelf),
      cache_user_ids_(store.Shared()) {}

bool ProfileReader::UserIdCache::Find(const std::string& key, uint64_t* id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = ids_.find(key);
  if (it == ids_.end()) return false;
  *id = it->second;
  return true;
}

void ProfileReader::UserIdCache::Put(std::string key, uint64_t id) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (ids_.size() >= kUserIdCacheEntries) ids_.clear();
  ids_.emplace(std::move(key), id);
}

Status ProfileReader::Read(std::string_view project, std::string_view user_id,
                           std::string_view device_id, const ReadOptions& options,
                           UserData* out) const {
  std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(project);
  // Only served computations and cohorts have values: a project whose only definitions are
  // recommendations (or definitions still backfilling) reads just the profile, unless the
  // read asks for recommendations.
  bool evaluate = (options.computations && !catalog->computations().empty()) ||
                  (options.cohorts && !catalog->cohorts().empty());
  bool recommend = options.recs.wanted && shelf_ != nullptr && !catalog->recommendations().empty();
  // The profile; the aggregates too for recommendations (item histories); everything to
  // evaluate.
  size_t records = evaluate ? std::size(kRecords) : recommend ? 2 : 1;
  std::vector<std::string> keys;
  Status s;
  // A merge can move the user between the identity read and the record read; the second
  // attempt then finds the user under the id it was merged into.
  // Per thread, so a read allocates no key once its thread has read a long one.
  thread_local std::string cache_key;
  cache_key.clear();
  if (cache_user_ids_ && !user_id.empty()) {
    cache_key.append(project).push_back('\0');
    cache_key.append(user_id);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint64_t id = 0;
    if (attempt == 0 && !cache_key.empty() && user_ids_.Find(cache_key, &id)) {
      s = Status::Ok();
    } else {
      s = user_id.empty() ? store::LookupDevice(store_, project, device_id, &id)
                          : store::LookupUser(store_, project, user_id, &id);
      PROFILED_RETURN_IF_ERROR(s);
      if (!cache_key.empty()) user_ids_.Put(cache_key, id);
    }
    out->amplitude_id = id;
    keys.clear();
    for (size_t r = 0; r < records; ++r) {
      keys.push_back(store::UserRecordKey(project, id, kRecords[r]));
    }
    std::vector<Status> statuses;
    PROFILED_RETURN_IF_ERROR(
        store_.MultiGet(store::Table::kProfiles, keys, &out->records, &statuses));
    for (size_t i = 1; i < statuses.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        out->records[i].clear();
      } else {
        PROFILED_RETURN_IF_ERROR(statuses[i]);
      }
    }
    s = statuses[0];
    if (!s.IsNotFound()) break;
  }
  PROFILED_RETURN_IF_ERROR(s);
  out->records.resize(std::size(kRecords));
  PROFILED_RETURN_IF_ERROR(store::DecodeProfile(out->records[0], &out->profile));
  // Evaluate fills in what it is asked for, reusing the strings of a previous read.
  if (!evaluate || !options.computations) out->computed.clear();
  if (!evaluate || !options.cohorts) out->cohort_ids.clear();
  out->recommendations.clear();
  if (evaluate) {
    Decoded d(*catalog, out->profile);
    PROFILED_RETURN_IF_ERROR(DecodeForEvaluation(out->records[1], out->records[2], &d));
    PROFILED_RETURN_IF_ERROR(compute::Evaluate(*catalog, d.view, clock_.NowMs(),
                                               options.computation_ids,
                                               options.computations ? &out->computed : nullptr,
                                               options.cohorts ? &out->cohort_ids : nullptr));
  }
  if (!recommend) return Status::Ok();
  return ServeRecommendations(project, *catalog, out->records[1], options.recs, out);
}

Status ProfileReader::ServeRecommendations(std::string_view project,
                                           const compute::ProjectCatalog& catalog,
                                           std::string_view aggregates, const RecsOptions& options,
                                           UserData* out) const {
  compute::AggregatesView view;
  PROFILED_RETURN_IF_ERROR(view.Parse(aggregates));
  int64_t now = clock_.NowMs();
  int64_t day = now >= 0 ? now / 86'400'000 : (now - 86'399'999) / 86'400'000;
  std::vector<size_t> wanted;
  if (options.ids.empty()) {
    for (size_t i = 0; i < catalog.recommendations().size(); ++i) wanted.push_back(i);
  } else {
    for (const std::string& id : options.ids) {
      size_t i = catalog.FindRecommendation(id);
      if (i != compute::ProjectCatalog::kUnresolved) wanted.push_back(i);
    }
  }
  std::vector<std::string_view> history;
  for (size_t i : wanted) {
    const compute::ServedRecommendation& served_rec = catalog.recommendations()[i];
    const compute::Recommendation& def = served_rec.definition;
    // Only a model trained for this version of the definition (the next one is on its way).
    std::shared_ptr<const recs::ServingModel> model =
        shelf_->Get(project, def.id, served_rec.training_key);
    if (model == nullptr) continue;  // not trained yet
    size_t spec = catalog.RecommendationSpecIndex(i);
    history.clear();
    if (spec != compute::ProjectCatalog::kUnresolved) {
      const compute::SpecEntry& entry = catalog.specs()[spec];
      PROFILED_RETURN_IF_ERROR(compute::ItemsOf(entry.spec, view.Find(entry.id), now, &history));
    }
    recs::ServeRequest request;
    request.amplitude_id = out->amplitude_id;
    request.rec_id = def.id;
    request.control_key = def.control_group_of.empty() ? def.id : def.control_group_of;
    request.control_percentage = def.control_percentage;
    request.override = options.override;
    request.history = history;
    int limit = options.limit > 0 ? options.limit : def.max_items;
    request.limit = static_cast<size_t>(std::min(limit, kMaxRecommendedItems));
    request.candidates_top_n = def.candidates_top_n;
    request.candidate_items = def.candidate_items;
    request.exclude_items = def.exclude_items;
    request.exclude_seen = def.exclude_seen;
    request.day = day;
    recs::Served served;
    PROFILED_RETURN_IF_ERROR(recs::Serve(*model, request, &served));
    ServedRecommendation& r = out->recommendations.emplace_back();
    r.rec_id = def.id;
    r.title = def.title;
    r.items = std::move(served.items);
    r.is_control = served.is_control;
    r.type = served.random ? "random" : std::string(recs::ModelName(model->used));
    r.last_updated_ms = model->trained_at_ms;
  }
  return Status::Ok();
}

Status ProfileReader::ScanUsers(std::string_view project, const compute::ProjectCatalog& catalog,
                                const UserVisitor& fn) const {
  // A user's records are adjacent (P || be64(id) || tag, tags in the order a < p < s), so
  // one ordered scan sees each user's records together.
  uint64_t current = 0;
  std::string profile, aggregates, static_cohorts;
  bool go_on = true;
  Status failure;
  auto flush = [&]() {
    if (current == 0 || profile.empty()) return;
    store::ProfileView view;
    Status st = store::DecodeProfile(profile, &view);
    Decoded d(catalog, view);
    if (st.ok()) st = DecodeForEvaluation(aggregates, static_cohorts, &d);
    if (!st.ok()) {
      failure = st;
      go_on = false;
      return;
    }
    go_on = fn(current, view.user_id, d.view, &failure);
  };
  auto visit = [&](std::string_view key, std::string_view value) {
    store::UserKeyParts parts;
    if (!store::ParseUserKey(key, &parts) || parts.tail.size() != 1) return true;
    if (parts.amplitude_id != current) {
      flush();
      if (!go_on) return false;
      current = parts.amplitude_id;
      profile.clear();
      aggregates.clear();
      static_cohorts.clear();
    }
    switch (static_cast<UserRecord>(parts.tail.front())) {
      case UserRecord::kProfile: profile.assign(value); break;
      case UserRecord::kAggregates: aggregates.assign(value); break;
      case UserRecord::kStaticCohorts: static_cohorts.assign(value); break;
      default: break;
    }
    return true;
  };
  std::string prefix = store::ProjectPrefix(project);
  PROFILED_RETURN_IF_ERROR(
      store_.Scan(store::Table::kProfiles, prefix, store::PrefixEnd(prefix), visit));
  if (go_on) flush();
  return failure;
}

Status ProfileReader::ForEachMember(
    std::string_view project, std::string_view cohort_id,
    const std::function<bool(uint64_t, std::string_view)>& fn) const {
  std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(project);
  if (catalog->CohortIndex(cohort_id) == catalog->cohorts().size()) {
    return Status::NotFound("no served cohort " + std::string(cohort_id));
  }
  int64_t now = clock_.NowMs();
  return ScanUsers(
      project, *catalog,
      [&](uint64_t id, std::string_view user_id, const compute::UserView& user, Status* failure) {
        bool in = false;
        *failure = compute::InCohort(*catalog, user, now, cohort_id, &in);
        return failure->ok() && (!in || fn(id, user_id));
      });
}

Status ProfileReader::CohortSizes(std::string_view project,
                                  std::map<std::string, uint64_t, std::less<>>* sizes) const {
  std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(project);
  sizes->clear();
  for (const auto& c : catalog->cohorts()) (*sizes)[c.definition.id] = 0;
  if (catalog->cohorts().empty()) return Status::Ok();
  int64_t now = clock_.NowMs();
  std::vector<std::string> ids;
  return ScanUsers(project, *catalog,
                   [&](uint64_t, std::string_view, const compute::UserView& user, Status* failure) {
                     *failure = compute::CohortIds(*catalog, user, now, &ids);
                     if (!failure->ok()) return false;
                     for (const std::string& id : ids) ++(*sizes)[id];
                     return true;
                   });
}

}  // namespace profiled::read
