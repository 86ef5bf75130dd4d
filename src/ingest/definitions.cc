#include "ingest/definitions.h"

#include <algorithm>
#include <set>

#include "core/coding.h"
#include "core/log.h"
#include "store/keys.h"
#include "store/records.h"

namespace profiled::ingest {

namespace {

using compute::Cohort;
using compute::CohortCondition;
using compute::Computation;
using compute::Recommendation;
using store::Table;
using Typed = TypedDefinition;

constexpr char kDefinitionRecordV1 = 1;
constexpr char kSpecRecordV1 = 1;

// Definition record: u8 version || lp(served source) || lp(pending source)
//                    || varint(created_ms) || varint(updated_ms). An empty source = none.
std::string EncodeDefinition(std::string_view served, std::string_view pending, int64_t created,
                             int64_t updated) {
  std::string out(1, kDefinitionRecordV1);
  PutLengthPrefixed(&out, served);
  PutLengthPrefixed(&out, pending);
  PutVarint64(&out, static_cast<uint64_t>(created));
  PutVarint64(&out, static_cast<uint64_t>(updated));
  return out;
}

Status DecodeDefinition(std::string_view in, std::string_view* served, std::string_view* pending,
                        int64_t* created, int64_t* updated) {
  uint64_t c = 0, u = 0;
  if (in.empty() || in.front() != kDefinitionRecordV1) {
    return Status::Corruption("cannot decode definition version");
  }
  in.remove_prefix(1);
  if (!GetLengthPrefixed(&in, served) || !GetLengthPrefixed(&in, pending) ||
      !GetVarint64(&in, &c) || !GetVarint64(&in, &u) || !in.empty()) {
    return Status::Corruption("cannot decode definition");
  }
  *created = static_cast<int64_t>(c);
  *updated = static_cast<int64_t>(u);
  return Status::Ok();
}

// Spec record: u8 version || lp(canonical) || u8 ready || varint(until_seq) || lp(cursor)
//              || varint(scanned) || varint(from_ms) || varint(until_ms).
// T is DefinitionRegistry::Spec (private there, hence the templates): decoded straight into
// it, written straight from it.
template <typename T>
Status DecodeSpec(std::string_view in, T* s) {
  if (in.size() < 2 || in.front() != kSpecRecordV1) return Status::Corruption("spec version");
  in.remove_prefix(1);
  std::string_view canonical, cursor;
  uint64_t from = 0, until = 0;
  if (!GetLengthPrefixed(&in, &canonical) || in.empty()) return Status::Corruption("spec");
  s->ready = in.front() != 0;
  in.remove_prefix(1);
  if (!GetVarint64(&in, &s->until_seq) || !GetLengthPrefixed(&in, &cursor) ||
      !GetVarint64(&in, &s->scanned) || !GetVarint64(&in, &from) || !GetVarint64(&in, &until) ||
      !in.empty()) {
    return Status::Corruption("spec");
  }
  s->canonical.assign(canonical);
  s->cursor.assign(cursor);
  s->from_ms = static_cast<int64_t>(from);
  s->until_ms = static_cast<int64_t>(until);
  return Status::Ok();
}

template <typename T>
std::string EncodeSpec(const T& s) {
  std::string out(1, kSpecRecordV1);
  PutLengthPrefixed(&out, s.canonical);
  out.push_back(s.ready ? 1 : 0);
  PutVarint64(&out, s.until_seq);
  PutLengthPrefixed(&out, s.cursor);
  PutVarint64(&out, s.scanned);
  PutVarint64(&out, static_cast<uint64_t>(s.from_ms));
  PutVarint64(&out, static_cast<uint64_t>(s.until_ms));
  return out;
}

// The cohorts and computations a definition references.
void References(const Typed& t, std::vector<std::string>* cohorts,
                std::vector<std::string>* computations) {
  const auto* cohort = std::get_if<Cohort>(&t);
  if (cohort == nullptr) return;
  for (const auto& clause : cohort->all_of) {
    for (const auto& c : clause.any_of) {
      if (c.kind == CohortCondition::Kind::kCohort) cohorts->push_back(c.cohort_id);
      if (c.kind == CohortCondition::Kind::kComputedProperty) {
        computations->push_back(c.filter.prop);
      }
    }
  }
}

// An event's ingest time, from its key (P || be64(ingest_ms) || be64(seq)).
int64_t IngestMsOfKey(std::string_view key) {
  if (key.size() < 16) return 0;
  std::string_view tail = key.substr(key.size() - 16, 8);
  uint64_t ms = 0;
  return GetFixed64BE(&tail, &ms) ? static_cast<int64_t>(ms) : 0;
}

// How log lines name a kind.
const char* KindWord(DefinitionKind kind) {
  switch (kind) {
    case DefinitionKind::kComputation: return "computation";
    case DefinitionKind::kCohort: return "cohort";
    case DefinitionKind::kRecommendation: return "recommendation";
  }
  return "definition";
}

}  // namespace

DefinitionKind Definition::kind() const {
  if (std::holds_alternative<Computation>(typed)) return DefinitionKind::kComputation;
  if (std::holds_alternative<Cohort>(typed)) return DefinitionKind::kCohort;
  return DefinitionKind::kRecommendation;
}

std::vector<const compute::AggregateSpec*> SpecsOf(const Typed& typed) {
  std::vector<const compute::AggregateSpec*> out;
  if (const auto* c = std::get_if<Computation>(&typed)) {
    out.push_back(&c->spec);
    return out;
  }
  if (const auto* r = std::get_if<Recommendation>(&typed)) {
    out.push_back(&r->history);
    return out;
  }
  for (const auto& clause : std::get<Cohort>(typed).all_of) {
    for (const auto& c : clause.any_of) {
      if (c.kind == CohortCondition::Kind::kEvent) out.push_back(&c.spec);
    }
  }
  return out;
}

DefinitionRegistry::DefinitionRegistry(store::Store& store, compute::CatalogHolder& catalogs,
                                       DefinitionParser parser, const Clock& clock,
                                       store::Store* unlocked)
    : store_(store),
      unlocked_(unlocked != nullptr ? *unlocked : store),
      catalogs_(catalogs),
      parser_(std::move(parser)),
      clock_(clock),
      shared_(store.Shared()) {}

Status DefinitionRegistry::Load(const std::vector<std::string>& projects) {
  uint64_t next_seq = 0;
  {
    std::string value;
    Status s = store_.Get(Table::kMeta, store::EventSeqKey(), &value);
    if (!s.IsNotFound()) {
      PROFILED_RETURN_IF_ERROR(s);
      PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &next_seq));
    }
  }
  for (const auto& project : projects) {
    uint64_t version = 0;
    if (shared_) {
      // Locked until the commit below: nodes starting together load one after the other.
      std::string value;
      Status s = store_.Get(Table::kMeta, store::DefinitionsVersionKey(project), &value);
      if (!s.IsNotFound()) {
        PROFILED_RETURN_IF_ERROR(s);
        PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &version));
      }
    }
    Project p;
    PROFILED_RETURN_IF_ERROR(ReadProject(store_, project, &p));
    p.version = version;
    store::WriteSet writes;
    Reconcile(project, &p, next_seq, &writes);
    if (!writes.empty()) BumpVersion(project, &p, &writes);
    PROFILED_RETURN_IF_ERROR(store_.Commit(writes, true));
    std::lock_guard<std::mutex> lock(mu_);
    Publish(project, p);
    projects_[project] = std::move(p);
  }
  return Status::Ok();
}

Status DefinitionRegistry::ReadProject(store::Store& from, const std::string& project, Project* p) {
  std::string value;
  Status s = from.Get(Table::kMeta, store::NextSpecIdKey(project), &value);
  if (!s.IsNotFound()) {
    PROFILED_RETURN_IF_ERROR(s);
    PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &p->next_spec_id));
  }
  std::string prefix = store::DefinitionKeyPrefix(project);
  bool unreadable = false;  // a stored definition this binary cannot read
  PROFILED_RETURN_IF_ERROR(from.Scan(
      Table::kMeta, prefix, store::PrefixEnd(prefix),
      [&](std::string_view key, std::string_view bytes) {
        std::string_view rest = key.substr(prefix.size());
        if (rest.empty()) return true;
        auto kind = static_cast<DefinitionKind>(rest.front());
        std::string id(rest.substr(1));
        std::string_view served, pending;
        Entry e;
        if (Status d = DecodeDefinition(bytes, &served, &pending, &e.created_ms, &e.updated_ms);
            !d.ok()) {
          std::string line = "project " + project;
          line += ": definition " + id + " left as stored: ";
          LogError(line + d.ToString());
          unreadable = true;
          return true;
        }
        for (auto [source, slot] : {std::pair{served, &e.served}, {pending, &e.pending}}) {
          if (source.empty()) continue;
          Definition def;
          if (Status ps = parser_(kind, id, source, &def); !ps.ok()) {
            // Left as stored (record and specs), so that a binary that reads it again
            // finds it whole; not served meanwhile.
            std::string line = "project " + project;
            line += ": stored definition " + id + " no longer parses; left as stored: ";
            LogError(line + ps.ToString());
            unreadable = true;
            return true;
          }
          slot->emplace(Version{std::string(source), std::move(def.typed)});
        }
        if (e.served || e.pending) p->entries.emplace(EntryKey{kind, std::move(id)}, std::move(e));
        return true;
      }));
  std::string spec_prefix = store::SpecKeyPrefix(project);
  PROFILED_RETURN_IF_ERROR(from.Scan(
      Table::kMeta, spec_prefix, store::PrefixEnd(spec_prefix),
      [&](std::string_view key, std::string_view bytes) {
        std::string_view rest = key.substr(spec_prefix.size());
        uint64_t id = 0;
        Spec spec;
        if (!GetFixed64BE(&rest, &id) || !DecodeSpec(bytes, &spec).ok()) {
          LogError("project " + project + ": a spec record does not decode; it is rebuilt");
          return true;
        }
        p->spec_by_canonical[spec.canonical] = id;
        p->specs.emplace(id, std::move(spec));
        p->next_spec_id = std::max(p->next_spec_id, id + 1);
        return true;
      }));
  // The typed specs come from the definitions that use them.
  std::set<uint64_t> used;
  for (auto& [key, e] : p->entries) {
    for (auto* v : {&e.served, &e.pending}) {
      if (!*v) continue;
      for (const auto* spec : SpecsOf((*v)->typed)) {
        auto it = p->spec_by_canonical.find(spec->Canonical());
        if (it == p->spec_by_canonical.end()) continue;
        p->specs[it->second].spec = *spec;
        used.insert(it->second);
      }
    }
  }
  if (unreadable) {
    // The specs no readable definition uses may be an unreadable one's: keep their
    // records as they are (they stay out of the catalog, so nothing updates them).
    for (auto it = p->specs.begin(); it != p->specs.end();) {
      if (used.count(it->first) != 0) {
        ++it;
        continue;
      }
      p->spec_by_canonical.erase(it->second.canonical);
      it = p->specs.erase(it);
    }
  }
  return Status::Ok();
}

void DefinitionRegistry::BumpVersion(const std::string& project, Project* next,
                                     store::WriteSet* writes) const {
  if (!shared_) return;
  ++next->version;
  writes->Put(Table::kMeta, store::DefinitionsVersionKey(project), store::EncodeId(next->version));
}

Status DefinitionRegistry::Sync(const std::string& project, bool* changed) {
  return SyncWith(store_, project, changed);
}

Status DefinitionRegistry::SyncWith(store::Store& from, const std::string& project, bool* changed) {
  if (changed != nullptr) *changed = false;
  if (!shared_) return Status::Ok();
  uint64_t version = 0;
  std::string value;
  Status s = from.Get(Table::kMeta, store::DefinitionsVersionKey(project), &value);
  if (!s.IsNotFound()) {
    PROFILED_RETURN_IF_ERROR(s);
    PROFILED_RETURN_IF_ERROR(store::DecodeId(value, &version));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = projects_.find(project);
    if (it != projects_.end() && it->second.version == version) return Status::Ok();
  }
  // Another node's change: what it committed is this node's state now. Reconcile only
  // recomputes what is served; its writes were that node's to make.
  Project p;
  PROFILED_RETURN_IF_ERROR(ReadProject(from, project, &p));
  p.version = version;
  store::WriteSet ignored;
  Reconcile(project, &p, 0, &ignored);
  std::lock_guard<std::mutex> lock(mu_);
  Publish(project, p);
  projects_[project] = std::move(p);
  if (changed != nullptr) *changed = true;
  return Status::Ok();
}

Status DefinitionRegistry::SyncAll() {
  std::vector<std::string> projects;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [project, p] : projects_) projects.push_back(project);
  }
  for (const auto& project : projects) {
    PROFILED_RETURN_IF_ERROR(SyncWith(unlocked_, project, nullptr));
  }
  return Status::Ok();
}

Status DefinitionRegistry::CheckReferences(const Project& p, const Definition& d) const {
  if (const auto* cohort = std::get_if<Cohort>(&d.typed)) {
    auto it = p.entries.find({DefinitionKind::kCohort, d.id});
    if (it != p.entries.end()) {
      const Version& latest = it->second.pending ? *it->second.pending : *it->second.served;
      bool was_static = std::get<Cohort>(latest.typed).is_static;
      if (was_static != cohort->is_static) {
        return Status::InvalidArgument(
            "cohort " + d.id +
            (was_static ? " is a static cohort (its members come from /api/3/cohorts); delete it "
                          "before defining a behavioral cohort under its id"
                        : " is a behavioral cohort; delete it before uploading a static one "
                          "under its id"));
      }
    }
  }
  std::vector<std::string> cohorts, computations;
  References(d.typed, &cohorts, &computations);
  for (const auto& c : computations) {
    if (p.entries.count({DefinitionKind::kComputation, c}) == 0) {
      return Status::InvalidArgument("computed_property condition references computation " + c +
                                     ", which is not defined");
    }
  }
  for (const auto& c : cohorts) {
    if (c == d.id) return Status::InvalidArgument("cohort " + c + " references itself");
    if (p.entries.count({DefinitionKind::kCohort, c}) == 0) {
      return Status::InvalidArgument("cohort condition references cohort " + c +
                                     ", which is not defined");
    }
  }
  // A cycle through the new version. Reads serve older versions while newer ones backfill,
  // so a cycle through any mix of versions must be refused: walk the references of every
  // version (served and pending) of the others, and of this one's served version too, and
  // fail on reaching this cohort again.
  std::vector<std::string> stack = cohorts;
  if (auto self = p.entries.find({DefinitionKind::kCohort, d.id});
      self != p.entries.end() && self->second.served) {
    std::vector<std::string> ignored;
    References(self->second.served->typed, &stack, &ignored);
  }
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string id = std::move(stack.back());
    stack.pop_back();
    if (id == d.id) {
      return Status::InvalidArgument("cohort " + d.id +
                                     " would reference itself through another cohort (a cycle)");
    }
    if (!seen.insert(id).second) continue;
    auto it = p.entries.find({DefinitionKind::kCohort, id});
    if (it == p.entries.end()) continue;
    for (const auto* v : {&it->second.served, &it->second.pending}) {
      std::vector<std::string> ignored;
      if (*v) References((*v)->typed, &stack, &ignored);
    }
  }
  return Status::Ok();
}

std::set<DefinitionRegistry::EntryKey> DefinitionRegistry::Publishable(const Project& p) {
  // Computations and recommendations with a served version are served; a cohort is when its
  // served version's references all are (a fixpoint: a cycle, which Put refuses, would serve
  // neither).
  std::set<EntryKey> out;
  for (const auto& [key, e] : p.entries) {
    if (key.first != DefinitionKind::kCohort && e.served) out.insert(key);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [key, e] : p.entries) {
      if (key.first != DefinitionKind::kCohort || !e.served || out.count(key) != 0) continue;
      if (ReferencesServed(e.served->typed, out)) {
        out.insert(key);
        grew = true;
      }
    }
  }
  return out;
}

bool DefinitionRegistry::ReferencesServed(const Typed& typed, const std::set<EntryKey>& served) {
  std::vector<std::string> cohorts, computations;
  References(typed, &cohorts, &computations);
  for (const auto& c : cohorts) {
    if (served.count({DefinitionKind::kCohort, c}) == 0) return false;
  }
  for (const auto& c : computations) {
    if (served.count({DefinitionKind::kComputation, c}) == 0) return false;
  }
  return true;
}

void DefinitionRegistry::SetLimits(const DefinitionsConfig& limits) {
  max_computations_.store(limits.max_computations, std::memory_order_relaxed);
  max_cohorts_.store(limits.max_cohorts, std::memory_order_relaxed);
  max_recommendations_.store(limits.max_recommendations, std::memory_order_relaxed);
}

Status DefinitionRegistry::CheckCount(const std::string& project, const Project& p,
                                      const Definition& d) const {
  const DefinitionKind kind = d.kind();
  if (p.entries.count({kind, d.id}) != 0) return Status::Ok();  // a change is always allowed
  const char* key = "definitions.max_computations";
  int max = max_computations_.load(std::memory_order_relaxed);
  if (kind == DefinitionKind::kCohort) {
    key = "definitions.max_cohorts";
    max = max_cohorts_.load(std::memory_order_relaxed);
  } else if (kind == DefinitionKind::kRecommendation) {
    key = "definitions.max_recommendations";
    max = max_recommendations_.load(std::memory_order_relaxed);
  }
  auto first = p.entries.lower_bound({kind, std::string()});
  int64_t count = 0;
  for (auto it = first; it != p.entries.end() && it->first.first == kind; ++it) ++count;
  if (count < max) return Status::Ok();
  std::string plural = std::string(KindWord(kind)) + "s";
  return Status::InvalidArgument(
      "project " + project + " already has " + std::to_string(count) + " " + plural +
      ", the most it may have (" + key + " = " + std::to_string(max) +
      (kind == DefinitionKind::kCohort ? ", static cohorts included" : "") +
      "); change or delete an existing one, or raise " + key);
}

Status DefinitionRegistry::Put(const std::string& project, Definition definition,
                               uint64_t next_seq) {
  store::WriteSet writes;
  PROFILED_RETURN_IF_ERROR(StagePut(project, std::move(definition), next_seq, &writes));
  Status s = store_.Commit(writes, true);
  CommitStaged(s.ok());
  return s;
}

Status DefinitionRegistry::StagePut(const std::string& project, Definition definition,
                                    uint64_t next_seq, store::WriteSet* writes) {
  Project next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next = projects_[project];
  }
  PROFILED_RETURN_IF_ERROR(CheckCount(project, next, definition));
  PROFILED_RETURN_IF_ERROR(CheckReferences(next, definition));
  std::string what = KindWord(definition.kind()) + (" " + definition.id);
  int64_t now = clock_.NowMs();
  Entry& e = next.entries[{definition.kind(), definition.id}];
  if (e.created_ms == 0) e.created_ms = now;
  e.updated_ms = now;
  e.pending.emplace(Version{std::move(definition.source), std::move(definition.typed)});
  Reconcile(project, &next, next_seq, writes);
  BumpVersion(project, &next, writes);
  bool backfills = e.pending.has_value();  // Reconcile served it when nothing needs a backfill
  staged_.emplace(project, std::move(next));
  staged_log_ = "project " + project + ": " + what + (backfills ? " saved; backfilling" : " saved");
  return Status::Ok();
}

Status DefinitionRegistry::Delete(const std::string& project, DefinitionKind kind,
                                  std::string_view id) {
  Project next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next = projects_[project];
  }
  auto it = next.entries.find({kind, std::string(id)});
  if (it == next.entries.end()) return Status::NotFound("no such definition");
  // Cohorts reference cohorts and computations; nothing references a recommendation.
  for (const auto& [key, e] : next.entries) {
    if (kind == DefinitionKind::kRecommendation) break;
    for (const auto* v : {&e.served, &e.pending}) {
      if (!*v) continue;
      std::vector<std::string> cohorts, computations;
      References((*v)->typed, &cohorts, &computations);
      const auto& refs = kind == DefinitionKind::kCohort ? cohorts : computations;
      if (std::find(refs.begin(), refs.end(), id) != refs.end()) {
        return Status::InvalidArgument("cohort " + key.second + " references it; change or " +
                                       "delete that cohort first");
      }
    }
  }
  next.entries.erase(it);
  store::WriteSet writes;
  writes.Delete(Table::kMeta, store::DefinitionKey(project, static_cast<char>(kind), id));
  Reconcile(project, &next, 0, &writes);
  BumpVersion(project, &next, &writes);
  return CommitAndPublish(project, std::move(next), writes);
}

void DefinitionRegistry::Reconcile(const std::string& project, Project* p, uint64_t next_seq,
                                   store::WriteSet* writes) const {
  int64_t now = clock_.NowMs();
  auto spec_id = [&](const compute::AggregateSpec& spec) {
    std::string canonical = spec.Canonical();
    auto [it, inserted] = p->spec_by_canonical.emplace(canonical, p->next_spec_id);
    if (inserted) {
      Spec s;
      s.spec = spec;
      s.canonical = std::move(canonical);
      if (shared_) {
        // Cut by time: every node applies it live from until_ms (see the header).
        s.until_seq = kTimeCutoff;
        s.until_ms = now + kActivationMs;
        s.ready = false;
      } else {
        s.until_seq = next_seq;
        s.until_ms = now;
        s.ready = next_seq == 0;  // an empty log needs no backfill
      }
      p->specs.emplace(p->next_spec_id++, std::move(s));
    }
    return it->second;
  };
  // Every version gets its spec ids first. Then a pending version replaces the served one
  // once its specs are ready and everything it references is served (so reads never lose a
  // cohort to a reference that is still backfilling), repeated while that serves more.
  std::set<uint64_t> live;
  for (auto& [key, e] : p->entries) {
    for (auto* v : {&e.served, &e.pending}) {
      if (!*v) continue;
      for (const auto* spec : SpecsOf((*v)->typed)) live.insert(spec_id(*spec));
    }
  }
  for (bool promoted = true; promoted;) {
    promoted = false;
    std::set<EntryKey> served = Publishable(*p);
    for (auto& [key, e] : p->entries) {
      if (!e.pending || !ReferencesServed(e.pending->typed, served)) continue;
      bool ready = true;
      for (const auto* spec : SpecsOf(e.pending->typed))
        ready = ready && p->specs[spec_id(*spec)].ready;
      if (!ready) continue;
      e.served = std::move(e.pending);
      e.pending.reset();
      promoted = true;
    }
  }
  live.clear();
  for (auto& [key, e] : p->entries) {
    for (auto* v : {&e.served, &e.pending}) {
      if (!*v) continue;
      for (const auto* spec : SpecsOf((*v)->typed)) live.insert(spec_id(*spec));
    }
    writes->Put(Table::kMeta,
                store::DefinitionKey(project, static_cast<char>(key.first), key.second),
                EncodeDefinition(e.served ? e.served->source : "",
                                 e.pending ? e.pending->source : "", e.created_ms, e.updated_ms));
  }
  for (auto it = p->specs.begin(); it != p->specs.end();) {
    if (live.count(it->first) == 0) {
      writes->Delete(Table::kMeta, store::SpecKey(project, it->first));
      p->spec_by_canonical.erase(it->second.canonical);
      it = p->specs.erase(it);
      continue;
    }
    writes->Put(Table::kMeta, store::SpecKey(project, it->first), EncodeSpec(it->second));
    ++it;
  }
  writes->Put(Table::kMeta, store::NextSpecIdKey(project), store::EncodeId(p->next_spec_id));
}

Status DefinitionRegistry::CommitAndPublish(const std::string& project, Project next,
                                            const store::WriteSet& writes) {
  PROFILED_RETURN_IF_ERROR(store_.Commit(writes, true));
  std::lock_guard<std::mutex> lock(mu_);
  Publish(project, next);
  projects_[project] = std::move(next);
  return Status::Ok();
}

void DefinitionRegistry::Publish(const std::string& project, const Project& p) const {
  std::vector<compute::SpecEntry> specs;
  for (const auto& [id, s] : p.specs) {
    specs.push_back({id, s.spec, s.ready, s.until_seq == kTimeCutoff ? s.until_ms : 0});
  }
  auto spec_id = [&](const compute::AggregateSpec& spec) {
    auto it = p.spec_by_canonical.find(spec.Canonical());
    return it == p.spec_by_canonical.end() ? uint64_t{0} : it->second;
  };
  std::vector<compute::ServedComputation> computations;
  std::vector<const Cohort*> cohorts;
  std::vector<compute::ServedRecommendation> recommendations;
  for (const auto& [key, e] : p.entries) {
    if (!e.served) continue;
    if (const auto* c = std::get_if<Computation>(&e.served->typed)) {
      computations.push_back({*c, spec_id(c->spec)});
    } else if (const auto* r = std::get_if<Recommendation>(&e.served->typed)) {
      recommendations.push_back({*r, spec_id(r->history), {}});
    } else {
      cohorts.push_back(&std::get<Cohort>(e.served->typed));
    }
  }
  std::sort(computations.begin(), computations.end(),
            [](const auto& a, const auto& b) { return a.definition.id < b.definition.id; });
  // Dependency order: a cohort goes out once every cohort it references has; only those
  // whose references are all served go out at all.
  std::set<EntryKey> publishable = Publishable(p);
  std::vector<compute::ServedCohort> served;
  std::set<std::string> out;
  for (bool progress = true; progress;) {
    progress = false;
    for (const Cohort* c : cohorts) {
      if (out.count(c->id) != 0 || publishable.count({DefinitionKind::kCohort, c->id}) == 0) {
        continue;
      }
      std::vector<std::string> refs, ignored;
      References(*c, &refs, &ignored);
      if (!std::all_of(refs.begin(), refs.end(), [&](const auto& r) { return out.count(r); })) {
        continue;
      }
      compute::ServedCohort sc{*c, {}};
      for (const auto& clause : c->all_of) {
        auto& ids = sc.spec_ids.emplace_back();
        for (const auto& cond : clause.any_of) {
          ids.push_back(cond.kind == CohortCondition::Kind::kEvent ? spec_id(cond.spec) : 0);
        }
      }
      served.push_back(std::move(sc));
      out.insert(c->id);
      progress = true;
    }
  }
  catalogs_.Set(project, std::make_shared<const compute::ProjectCatalog>(
                             std::move(specs), std::move(computations), std::move(served),
                             std::move(recommendations)));
}

DefinitionInfo DefinitionRegistry::Info(const Project& p, const EntryKey& key,
                                        const Entry& e) const {
  DefinitionInfo info;
  info.kind = key.first;
  info.id = key.second;
  const Version& latest = e.pending ? *e.pending : *e.served;
  info.source = latest.source;
  info.ready = !e.pending;
  info.created_ms = e.created_ms;
  info.updated_ms = e.updated_ms;
  if (const auto* c = std::get_if<Cohort>(&latest.typed)) info.is_static = c->is_static;
  if (e.pending) {
    info.progress = 1;
    for (const auto* spec : SpecsOf(e.pending->typed)) {
      auto it = p.spec_by_canonical.find(spec->Canonical());
      if (it == p.spec_by_canonical.end()) continue;
      const Spec& s = p.specs.at(it->second);
      info.events_scanned = std::max(info.events_scanned, s.scanned);
      if (s.ready) continue;
      double span = static_cast<double>(s.until_ms - s.from_ms);
      double done = s.cursor.empty() || span <= 0
                        ? 0.0
                        : static_cast<double>(IngestMsOfKey(s.cursor) - s.from_ms) / span;
      info.progress = std::min(info.progress, std::clamp(done, 0.0, 0.99));
    }
  }
  return info;
}

Status DefinitionRegistry::Get(std::string_view project, DefinitionKind kind, std::string_view id,
                               DefinitionInfo* info) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = projects_.find(std::string(project));
  if (p == projects_.end()) return Status::NotFound("no such definition");
  auto it = p->second.entries.find({kind, std::string(id)});
  if (it == p->second.entries.end()) return Status::NotFound("no such definition");
  *info = Info(p->second, it->first, it->second);
  return Status::Ok();
}

std::vector<DefinitionInfo> DefinitionRegistry::List(std::string_view project,
                                                     DefinitionKind kind) const {
  std::vector<DefinitionInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto p = projects_.find(std::string(project));
  if (p == projects_.end()) return out;
  for (const auto& [key, e] : p->second.entries) {
    if (key.first == kind) out.push_back(Info(p->second, key, e));
  }
  if (kind == DefinitionKind::kComputation) {
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.id.size() != b.id.size() ? a.id.size() < b.id.size() : a.id < b.id;
    });
  }
  return out;
}

std::optional<BackfillJob> DefinitionRegistry::NextBackfill() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [project, p] : projects_) {
    const Spec* first = nullptr;
    BackfillJob job;
    for (const auto& [id, s] : p.specs) {
      if (s.ready) continue;
      if (first == nullptr) {
        first = &s;
        job.project = project;
        job.until_seq = s.until_seq;
        job.cursor = s.cursor;
        job.from_ms = s.from_ms;
        job.until_ms = s.until_ms;
      }
      // Specs cut by time share a job only with the same cut (until_ms).
      if (s.until_seq == first->until_seq && s.cursor == first->cursor &&
          (s.until_seq != kTimeCutoff || s.until_ms == first->until_ms)) {
        job.spec_ids.push_back(id);
      }
    }
    if (first != nullptr) return job;
  }
  return std::nullopt;
}

void DefinitionRegistry::StageBackfill(const BackfillJob& job, const std::string& cursor,
                                       uint64_t scanned, bool done, store::WriteSet* writes) {
  Project next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    next = projects_[job.project];
  }
  for (uint64_t id : job.spec_ids) {
    auto it = next.specs.find(id);
    if (it == next.specs.end()) continue;
    Spec& s = it->second;
    if (s.cursor.empty() && !cursor.empty()) s.from_ms = IngestMsOfKey(cursor);
    s.cursor = cursor;
    s.scanned += scanned;
    s.ready = done;
  }
  Reconcile(job.project, &next, 0, writes);
  BumpVersion(job.project, &next, writes);  // the cursor moved: another node must not redo it
  staged_.emplace(job.project, std::move(next));
}

void DefinitionRegistry::CommitStaged(bool committed) {
  if (staged_ && committed && !staged_log_.empty()) LogInfo(staged_log_);
  staged_log_.clear();
  if (staged_ && committed) {
    const Project& next = staged_->second;
    for (const auto& [id, spec] : next.specs) {
      std::lock_guard<std::mutex> lock(mu_);
      const Project& before = projects_[staged_->first];
      auto was = before.specs.find(id);
      if (spec.ready && was != before.specs.end() && !was->second.ready) {
        LogInfo("project " + staged_->first + ": aggregate spec " + std::to_string(id) +
                " backfilled from " + std::to_string(spec.scanned) + " logged events");
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    Publish(staged_->first, staged_->second);
    projects_[staged_->first] = std::move(staged_->second);
  }
  staged_.reset();
}

}  // namespace profiled::ingest
