#include "read/profile_reader.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json/monotonic_resource.hpp>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "compute/evaluate.h"
#include "core/log.h"
#include "core/value_text.h"
#include "read/stored_properties.h"
#include "recs/model.h"
#include "store/keys.h"
#include "store/profile_lookup.h"
#include "store/records.h"

namespace profiled::read {

namespace {

using store::UserRecord;

// What a read may need of a user, in this order: the profile, the aggregates, the static
// cohorts, and the groups (only for cohorts with a group property condition).
constexpr UserRecord kRecords[] = {UserRecord::kProfile, UserRecord::kAggregates,
                                   UserRecord::kStaticCohorts, UserRecord::kGroups};
// What an evaluation reads: the profile and the aggregates, the static memberships when a
// static cohort is served, everything when a group property condition is.
size_t EvaluationRecords(const compute::ProjectCatalog& catalog) {
  if (catalog.needs_groups()) return std::size(kRecords);
  return catalog.needs_static_cohorts() ? 3 : 2;
}

// ---- Groups (docs/API.md, "Groups"). A damaged group record is shared by every member of the
// group, so it must not make them all unreadable: it reads as a group without properties, and
// a damaged membership record as a user in no group, each kind logged once per process (a
// damaged record stays so; one line is enough to send someone looking).

std::atomic<bool> damaged_membership_logged{false};
std::atomic<bool> damaged_group_logged{false};

// A store key in a log line: printable bytes as they are, others as \xNN.
std::string KeyForLog(std::string_view key) {
  std::string out;
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
  }
  return out;
}

void LogDamaged(std::atomic<bool>* logged, const std::string& what) {
  if (!logged->exchange(true)) {
    LogError(what + "; read as empty (further damaged records of this kind are not logged)");
  }
}

// One type of a user's groups and its names.
struct MembershipType {
  std::string type;
  std::vector<std::string> names;
};

// The user's groups from its membership record (empty = none): each type's names in the
// order set, at most store::kMaxUserGroupTypes types of store::kMaxUserGroupNames names (a
// record written before the limits is served within them). What does not decode is left out.
void ParseMembership(std::string_view record, std::vector<MembershipType>* out) {
  out->clear();
  if (record.empty()) return;
  boost::json::object groups;
  if (Status s = ParseStoredObject(record, &groups); !s.ok()) {
    LogDamaged(&damaged_membership_logged, "a user's group membership record: " + s.message());
    return;
  }
  for (const auto& kv : groups) {
    if (out->size() == store::kMaxUserGroupTypes) break;
    if (!kv.value().is_array()) {
      LogDamaged(&damaged_membership_logged, "a user's group membership record: not a list");
      continue;
    }
    MembershipType& m = out->emplace_back();
    m.type.assign(kv.key());
    for (const boost::json::value& name : kv.value().get_array()) {
      if (m.names.size() == store::kMaxUserGroupNames) break;
      if (name.is_string()) m.names.emplace_back(name.get_string());
    }
    if (m.names.empty()) out->pop_back();
  }
}

// The properties text of a group record as a read returned it (`read`: its status): "{}" for
// a group without a record, or with a damaged one. Errors: the store's.
Status GroupPropertiesText(const Status& read, std::string_view key, std::string_view value,
                           std::string_view* text) {
  *text = "{}";
  if (read.IsNotFound()) return Status::Ok();
  PROFILED_RETURN_IF_ERROR(read);
  std::string_view decoded;
  if (Status s = store::DecodeGroup(value, &decoded); !s.ok()) {
    LogDamaged(&damaged_group_logged,
               "the group record at meta key " + KeyForLog(key) + ": " + s.message());
    return Status::Ok();
  }
  *text = decoded;
  return Status::Ok();
}

// The properties of groups read for one user or for several at once (a scan's chunk of users:
// one MultiGet for all of them instead of a round trip per user), by store::GroupKey.
class GroupRecords {
 public:
  // Reads the groups of `keys` not held yet, with one MultiGet (none when all are held). A
  // group without a record, or with a damaged one, has no properties. Errors: the store's.
  Status Load(store::Store& store, std::vector<std::string> keys) {
    std::erase_if(keys, [this](const std::string& k) { return groups_.contains(k); });
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    if (keys.empty()) return Status::Ok();
    std::vector<std::string> values;
    std::vector<Status> statuses;
    PROFILED_RETURN_IF_ERROR(store.MultiGet(store::Table::kMeta, keys, &values, &statuses));
    for (size_t i = 0; i < keys.size(); ++i) {
      std::string_view text;
      PROFILED_RETURN_IF_ERROR(GroupPropertiesText(statuses[i], keys[i], values[i], &text));
      boost::json::object& properties = groups_[keys[i]];
      if (Status s = ParseStoredObject(text, &properties); !s.ok()) {
        properties.clear();
        LogDamaged(&damaged_group_logged,
                   "the group record at meta key " + KeyForLog(keys[i]) + ": " + s.message());
      }
      std::string().swap(values[i]);  // parsed: the raw bytes are not held for the chunk
    }
    return Status::Ok();
  }
  // The group's properties; nullptr when Load did not read it.
  const boost::json::object* Find(const std::string& key) const {
    auto it = groups_.find(key);
    return it == groups_.end() ? nullptr : &it->second;
  }
  size_t size() const { return groups_.size(); }
  void Clear() { groups_.clear(); }

 private:
  // Node-based: the pointers Find hands out stay valid while more are loaded.
  std::unordered_map<std::string, boost::json::object> groups_;
};

// The keys of the groups of `types` (sorted) among `membership`.
void GroupKeysOf(std::string_view project, const std::vector<MembershipType>& membership,
                 const std::vector<std::string>& types, std::vector<std::string>* keys) {
  for (const MembershipType& m : membership) {
    if (!std::binary_search(types.begin(), types.end(), m.type)) continue;
    for (const std::string& name : m.names) keys->push_back(store::GroupKey(project, m.type, name));
  }
}

// The user properties of one stored profile, picked out of its JSON text (only the names
// served cohorts read) when evaluation first needs them, into a stack buffer.
class StoredUserProperties : public compute::UserPropertySource {
 public:
  StoredUserProperties(const std::vector<std::string>& names, const store::ProfileView& profile)
      : names_(names),
        profile_(profile),
        resource_(buffer_, sizeof(buffer_)),
        values_{boost::json::array(&resource_), boost::json::array(&resource_)} {}
  StoredUserProperties(const StoredUserProperties&) = delete;
  StoredUserProperties& operator=(const StoredUserProperties&) = delete;

  Status Load(bool builtins, const std::vector<const boost::json::value*>** out) override {
    const size_t part = builtins ? 1 : 0;
    PROFILED_RETURN_IF_ERROR(
        PickStoredProperties(builtins ? profile_.builtins_json : profile_.properties_json, names_,
                             &values_[part], &found_[part]));
    *out = &found_[part];
    return Status::Ok();
  }

  // Where LoadGroups reads: the user's membership record (store::UserRecord::kGroups; empty =
  // no group), the store holding the group records, the group types the catalog's conditions
  // read (sorted), and where the group records are kept: `shared` when the caller reads them
  // for several users at once, else the source's own. All must outlive the source.
  void SetGroups(store::Store* store, std::string_view project, std::string_view record,
                 const std::vector<std::string>* types, GroupRecords* shared = nullptr) {
    store_ = store;
    project_ = project;
    groups_record_ = record;
    group_types_ = types;
    records_ = shared != nullptr ? shared : &own_records_;
  }

  Status LoadGroups(std::string_view group_type,
                    std::vector<const boost::json::object*>* out) override {
    out->clear();
    if (store_ == nullptr || groups_record_.empty()) return Status::Ok();
    if (!groups_parsed_) {
      ParseMembership(groups_record_, &membership_);
      groups_parsed_ = true;
      // Every group any condition may read, with one MultiGet (none for groups already read).
      std::vector<std::string> keys;
      GroupKeysOf(project_, membership_, *group_types_, &keys);
      PROFILED_RETURN_IF_ERROR(records_->Load(*store_, std::move(keys)));
    }
    for (const MembershipType& m : membership_) {
      if (m.type != group_type) continue;
      std::vector<std::string> keys;
      keys.reserve(m.names.size());
      for (const std::string& name : m.names)
        keys.push_back(store::GroupKey(project_, m.type, name));
      PROFILED_RETURN_IF_ERROR(records_->Load(*store_, keys));  // a type no condition named
      for (const std::string& key : keys) {
        if (const boost::json::object* properties = records_->Find(key)) out->push_back(properties);
      }
    }
    return Status::Ok();
  }

 private:
  // LoadGroups: the source of its reads, and what it read.
  store::Store* store_ = nullptr;
  std::string_view project_;
  std::string_view groups_record_;
  const std::vector<std::string>* group_types_ = nullptr;
  bool groups_parsed_ = false;
  std::vector<MembershipType> membership_;
  GroupRecords own_records_;
  GroupRecords* records_ = &own_records_;

  const std::vector<std::string>& names_;
  const store::ProfileView& profile_;
  unsigned char buffer_[1024];
  boost::json::monotonic_resource resource_;  // over buffer_, then the heap
  // The picked custom properties and built-in fields (PickStoredProperties).
  std::array<boost::json::array, 2> values_;
  std::array<std::vector<const boost::json::value*>, 2> found_;
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
  std::unordered_map<std::string, uint64_t> full;  // freed after the lock: a million strings
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (ids_.size() >= kUserIdCacheEntries) full.swap(ids_);
  ids_.insert_or_assign(std::move(key), id);
  lock.unlock();
}

void ProfileReader::Plan(std::string_view project, const ReadOptions& options,
                         PreparedRead* out) const {
  out->project = project;
  out->catalog = catalogs_.Get(project);
  // Only served computations and cohorts have values: a project whose only definitions are
  // recommendations (or definitions still backfilling) reads just the profile, unless the
  // read asks for recommendations.
  out->evaluate = (options.computations && !out->catalog->computations().empty()) ||
                  (options.cohorts && !out->catalog->cohorts().empty());
  out->recommend =
      options.recs.wanted && shelf_ != nullptr && !out->catalog->recommendations().empty();
}

void ProfileReader::SetKeys(uint64_t amplitude_id, PreparedRead* out) {
  out->amplitude_id = amplitude_id;
  // The profile; the aggregates too for recommendations (item histories); what evaluation
  // reads to evaluate (EvaluationRecords).
  size_t records = out->evaluate ? EvaluationRecords(*out->catalog) : out->recommend ? 2 : 1;
  out->keys.clear();
  for (size_t r = 0; r < records; ++r) {
    out->keys.push_back(store::UserRecordKey(out->project, amplitude_id, kRecords[r]));
  }
}

void ProfileReader::Prepare(std::string_view project, std::string_view user_id,
                            std::string_view device_id, const ReadOptions& options,
                            PreparedRead* out) const {
  Plan(project, options, out);
  out->keys.clear();
  out->identity_key =
      user_id.empty() ? store::DeviceKey(project, device_id) : store::UserKey(project, user_id);
  out->cache_key.clear();
  if (cache_user_ids_ && !user_id.empty()) {
    out->cache_key.append(project).push_back('\0');
    out->cache_key.append(user_id);
    uint64_t id = 0;
    if (user_ids_.Find(out->cache_key, &id)) SetKeys(id, out);
  }
}

Status ProfileReader::Resolve(std::string_view identity_value, PreparedRead* out) const {
  uint64_t id = 0;
  PROFILED_RETURN_IF_ERROR(store::DecodeId(identity_value, &id));
  if (!out->cache_key.empty()) user_ids_.Put(out->cache_key, id);
  SetKeys(id, out);
  return Status::Ok();
}

Status ProfileReader::Read(std::string_view project, std::string_view user_id,
                           std::string_view device_id, const ReadOptions& options,
                           UserData* out) const {
  // Per thread, so a warm read allocates no keys; its catalog is not kept past the read.
  thread_local PreparedRead prepared;
  struct DropCatalog {
    ~DropCatalog() { prepared.catalog.reset(); }
  } drop_catalog;
  Prepare(project, user_id, device_id, options, &prepared);
  std::vector<Status> statuses;
  // A merge can move the user between the identity read and the record read; the second
  // attempt then finds the user under the id it was merged into.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0 || prepared.keys.empty()) {
      std::string value;
      PROFILED_RETURN_IF_ERROR(store_.Get(store::Table::kIdentity, prepared.identity_key, &value));
      PROFILED_RETURN_IF_ERROR(Resolve(value, &prepared));
    }
    PROFILED_RETURN_IF_ERROR(
        store_.MultiGet(store::Table::kProfiles, prepared.keys, &out->records, &statuses));
    if (!statuses[0].IsNotFound()) break;
  }
  PROFILED_RETURN_IF_ERROR(Finish(prepared, statuses, options, out));
  out->groups.clear();
  if (options.groups) PROFILED_RETURN_IF_ERROR(ReadGroups(project, out));
  return Status::Ok();
}

Status ProfileReader::ReadById(std::string_view project, uint64_t amplitude_id,
                               const ReadOptions& options, UserData* out) const {
  PreparedRead prepared;
  Plan(project, options, &prepared);
  std::vector<Status> statuses;
  // As Read: a merge can move the user between following the merge records and reading the
  // profile; the second attempt follows the new merge record to the id it went to.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // Merges only go from an anonymous id into a user's, so a chain is short; the bound
    // guards against a damaged store looping.
    for (int hops = 0; hops < 64; ++hops) {
      std::string value;
      Status s =
          store_.Get(store::Table::kIdentity, store::MergeKey(project, amplitude_id), &value);
      if (s.IsNotFound()) break;
      PROFILED_RETURN_IF_ERROR(s);
      PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &amplitude_id));
    }
    SetKeys(amplitude_id, &prepared);
    PROFILED_RETURN_IF_ERROR(
        store_.MultiGet(store::Table::kProfiles, prepared.keys, &out->records, &statuses));
    if (!statuses[0].IsNotFound()) break;
  }
  PROFILED_RETURN_IF_ERROR(Finish(prepared, statuses, options, out));
  out->groups.clear();
  if (options.groups) PROFILED_RETURN_IF_ERROR(ReadGroups(project, out));
  return Status::Ok();
}

Status ProfileReader::ReadGroups(std::string_view project, UserData* out) const {
  std::string record;
  Status s =
      store_.Get(store::Table::kProfiles,
                 store::UserRecordKey(project, out->amplitude_id, UserRecord::kGroups), &record);
  if (s.IsNotFound()) return Status::Ok();
  PROFILED_RETURN_IF_ERROR(s);
  std::vector<MembershipType> membership;
  ParseMembership(record, &membership);
  std::vector<std::string> keys;
  for (MembershipType& m : membership) {
    for (std::string& name : m.names) {
      keys.push_back(store::GroupKey(project, m.type, name));
      UserGroup& g = out->groups.emplace_back();
      g.type = m.type;
      g.name = std::move(name);
    }
  }
  if (keys.empty()) return Status::Ok();
  std::vector<std::string> values;
  std::vector<Status> statuses;
  PROFILED_RETURN_IF_ERROR(store_.MultiGet(store::Table::kMeta, keys, &values, &statuses));
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string_view text;
    PROFILED_RETURN_IF_ERROR(GroupPropertiesText(statuses[i], keys[i], values[i], &text));
    // Served as stored, inside the answer's JSON: only text that parses as an object.
    boost::json::object parsed;
    if (Status bad = ParseStoredObject(text, &parsed); !bad.ok()) {
      LogDamaged(&damaged_group_logged,
                 "the group record at meta key " + KeyForLog(keys[i]) + ": " + bad.message());
      text = "{}";
    }
    out->groups[i].properties_json.assign(text);
  }
  return Status::Ok();
}

Status ProfileReader::Finish(const PreparedRead& prepared, const std::vector<Status>& statuses,
                             const ReadOptions& options, UserData* out) const {
  out->amplitude_id = prepared.amplitude_id;
  if (statuses.size() != prepared.keys.size() || out->records.size() != prepared.keys.size()) {
    return Status::Internal("a profile read's answer does not match its keys");
  }
  PROFILED_RETURN_IF_ERROR(statuses[0]);
  for (size_t i = 1; i < statuses.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out->records[i].clear();
    } else {
      PROFILED_RETURN_IF_ERROR(statuses[i]);
    }
  }
  out->records.resize(std::size(kRecords));
  PROFILED_RETURN_IF_ERROR(store::DecodeProfile(out->records[0], &out->profile));
  // Evaluate fills in what it is asked for, reusing the strings of a previous read.
  if (!prepared.evaluate || !options.computations) out->computed.clear();
  if (!prepared.evaluate || !options.cohorts) out->cohort_ids.clear();
  out->recommendations.clear();
  const compute::ProjectCatalog& catalog = *prepared.catalog;
  if (prepared.evaluate) {
    Decoded d(catalog, out->profile);
    PROFILED_RETURN_IF_ERROR(DecodeForEvaluation(out->records[1], out->records[2], &d));
    // Group records are read when a group property condition is reached (a store read
    // during evaluation: Endpoints reads such users off the I/O loop).
    if (catalog.needs_groups()) {
      d.properties.SetGroups(&store_, prepared.project, out->records[3], &catalog.group_types());
    }
    PROFILED_RETURN_IF_ERROR(compute::Evaluate(catalog, d.view, clock_.NowMs(),
                                               options.computation_ids,
                                               options.computations ? &out->computed : nullptr,
                                               options.cohorts ? &out->cohort_ids : nullptr));
  }
  if (!prepared.recommend) return Status::Ok();
  return ServeRecommendations(prepared.project, catalog, out->records[1], options.recs, out);
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
  // A user's records are adjacent (P || be64(id) || tag, tags in the order a < g < m < p < s),
  // so one ordered scan sees each user's records together.
  struct RawUser {
    uint64_t id = 0;
    std::string profile, aggregates, static_cohorts, groups;
  };
  RawUser current;
  bool go_on = true;
  Status failure;
  // With group property conditions, users wait in a chunk until their groups are read for
  // all of them at once (one MultiGet a chunk, not a round trip a user), then are visited in
  // order. A chunk ends at kScanChunkUsers users, kScanChunkGroups distinct groups, or
  // kScanChunkBytes of the users' raw records, so what it holds at once stays bounded.
  const bool chunked = catalog.needs_groups();
  std::vector<RawUser> chunk;
  std::unordered_set<std::string> chunk_keys;
  size_t chunk_bytes = 0;
  std::vector<std::string> user_keys;
  std::vector<MembershipType> membership;
  GroupRecords records;
  auto visit_user = [&](const RawUser& u) {
    store::ProfileView view;
    Status st = store::DecodeProfile(u.profile, &view);
    Decoded d(catalog, view);
    if (st.ok()) st = DecodeForEvaluation(u.aggregates, u.static_cohorts, &d);
    if (!st.ok()) {
      failure = st;
      return false;
    }
    if (chunked)
      d.properties.SetGroups(&store_, project, u.groups, &catalog.group_types(), &records);
    return fn(u.id, view.user_id, d.view, &failure);
  };
  auto end_chunk = [&]() {
    if (chunk.empty()) return;
    failure = records.Load(store_, {chunk_keys.begin(), chunk_keys.end()});
    go_on = failure.ok();
    for (size_t i = 0; go_on && i < chunk.size(); ++i) go_on = visit_user(chunk[i]);
    chunk.clear();
    chunk_keys.clear();
    chunk_bytes = 0;
    records.Clear();
  };
  auto end_user = [&]() {
    if (current.id == 0 || current.profile.empty()) return;
    if (!chunked) {
      go_on = visit_user(current);
      return;
    }
    ParseMembership(current.groups, &membership);
    user_keys.clear();
    GroupKeysOf(project, membership, catalog.group_types(), &user_keys);
    for (std::string& key : user_keys) chunk_keys.insert(std::move(key));
    chunk_bytes += current.profile.size() + current.aggregates.size() +
                   current.static_cohorts.size() + current.groups.size();
    chunk.push_back(std::move(current));
    current = RawUser();
    if (chunk.size() >= kScanChunkUsers || chunk_keys.size() >= kScanChunkGroups ||
        chunk_bytes >= kScanChunkBytes) {
      end_chunk();
    }
  };
  auto visit = [&](std::string_view key, std::string_view value) {
    store::UserKeyParts parts;
    if (!store::ParseUserKey(key, &parts) || parts.tail.size() != 1) return true;
    if (parts.amplitude_id != current.id) {
      end_user();
      if (!go_on) return false;
      current.id = parts.amplitude_id;
      current.profile.clear();
      current.aggregates.clear();
      current.static_cohorts.clear();
      current.groups.clear();
    }
    switch (static_cast<UserRecord>(parts.tail.front())) {
      case UserRecord::kProfile: current.profile.assign(value); break;
      case UserRecord::kAggregates: current.aggregates.assign(value); break;
      case UserRecord::kStaticCohorts: current.static_cohorts.assign(value); break;
      case UserRecord::kGroups: current.groups.assign(value); break;
      default: break;
    }
    return true;
  };
  std::string prefix = store::ProjectPrefix(project);
  PROFILED_RETURN_IF_ERROR(
      store_.Scan(store::Table::kProfiles, prefix, store::PrefixEnd(prefix), visit));
  if (go_on) end_user();
  if (go_on) end_chunk();
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
                                  std::map<std::string, uint64_t, std::less<>>* sizes,
                                  const std::atomic<bool>* cancel) const {
  std::shared_ptr<const compute::ProjectCatalog> catalog = catalogs_.Get(project);
  sizes->clear();
  for (const auto& c : catalog->cohorts()) (*sizes)[c.definition.id] = 0;
  if (catalog->cohorts().empty()) return Status::Ok();
  int64_t now = clock_.NowMs();
  std::vector<std::string> ids;
  return ScanUsers(project, *catalog,
                   [&](uint64_t, std::string_view, const compute::UserView& user, Status* failure) {
                     if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
                       *failure = Status::Unavailable("the cohort count was cancelled");
                       return false;
                     }
                     *failure = compute::CohortIds(*catalog, user, now, &ids);
                     if (!failure->ok()) return false;
                     for (const std::string& id : ids) ++(*sizes)[id];
                     return true;
                   });
}

}  // namespace profiled::read
