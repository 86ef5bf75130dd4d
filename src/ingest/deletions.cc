#include "ingest/deletions.h"

#include <chrono>
#include <cstdio>

#include "core/coding.h"
#include "store/keys.h"

namespace profiled::ingest {

namespace {
constexpr uint8_t kJobVersion = 1;
Status Bad() { return Status::Corruption("a deletion job record does not decode"); }
}  // namespace

const char* DeletionStatusName(DeletionStatus status) {
  switch (status) {
    case DeletionStatus::kStaging: return "staging";
    case DeletionStatus::kSubmitted: return "submitted";
    case DeletionStatus::kDone: return "done";
  }
  return "staging";
}

std::string EncodeDeletionJob(const DeletionJob& job) {
  std::string out;
  out.push_back(static_cast<char>(kJobVersion));
  PutVarint64(&out, static_cast<uint64_t>(job.created_ms));
  PutVarint64(&out, static_cast<uint64_t>(job.run_at_ms));
  out.push_back(static_cast<char>(job.status));
  PutVarint64(&out, job.entries.size());
  for (const DeletionEntry& e : job.entries) {
    PutVarint64(&out, e.amplitude_id);
    PutLengthPrefixed(&out, e.requester);
    PutLengthPrefixed(&out, e.requested_on_day);
  }
  PutVarint64(&out, job.targets.size());
  for (uint64_t id : job.targets) PutVarint64(&out, id);
  out.push_back(static_cast<char>(job.phase));
  PutLengthPrefixed(&out, job.cursor);
  PutVarint64(&out, job.events_deleted);
  PutVarint64(&out, static_cast<uint64_t>(job.done_ms));
  return out;
}

Status DecodeDeletionJob(std::string_view in, DeletionJob* job) {
  if (in.empty() || static_cast<uint8_t>(in[0]) != kJobVersion) return Bad();
  in.remove_prefix(1);
  uint64_t created = 0;
  uint64_t run_at = 0;
  if (!GetVarint64(&in, &created) || !GetVarint64(&in, &run_at) || in.empty()) return Bad();
  job->created_ms = static_cast<int64_t>(created);
  job->run_at_ms = static_cast<int64_t>(run_at);
  auto status = static_cast<uint8_t>(in[0]);
  if (status > static_cast<uint8_t>(DeletionStatus::kDone)) return Bad();
  job->status = static_cast<DeletionStatus>(status);
  in.remove_prefix(1);
  uint64_t n = 0;
  if (!GetVarint64(&in, &n) || n > in.size()) return Bad();
  job->entries.clear();
  for (uint64_t i = 0; i < n; ++i) {
    DeletionEntry e;
    std::string_view requester, day;
    if (!GetVarint64(&in, &e.amplitude_id) || !GetLengthPrefixed(&in, &requester) ||
        !GetLengthPrefixed(&in, &day)) {
      return Bad();
    }
    e.requester.assign(requester);
    e.requested_on_day.assign(day);
    job->entries.push_back(std::move(e));
  }
  if (!GetVarint64(&in, &n) || n > in.size()) return Bad();
  job->targets.clear();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    if (!GetVarint64(&in, &id)) return Bad();
    job->targets.push_back(id);
  }
  if (in.empty() || static_cast<uint8_t>(in[0]) > static_cast<uint8_t>(DeletionPhase::kIdentity)) {
    return Bad();
  }
  job->phase = static_cast<DeletionPhase>(in[0]);
  in.remove_prefix(1);
  std::string_view cursor;
  uint64_t done = 0;
  if (!GetLengthPrefixed(&in, &cursor) || !GetVarint64(&in, &job->events_deleted) ||
      !GetVarint64(&in, &done) || !in.empty()) {
    return Bad();
  }
  job->cursor.assign(cursor);
  job->done_ms = static_cast<int64_t>(done);
  return Status::Ok();
}

std::string DayOf(int64_t time_ms) {
  using namespace std::chrono;  // NOLINT(google-build-using-namespace)
  const year_month_day date{floor<days>(sys_time<milliseconds>(milliseconds(time_ms)))};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buf;
}

bool ParseDay(std::string_view day, int64_t* days_out) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return false;
  auto digits = [&](size_t from, size_t count, int* out) {
    int v = 0;
    for (size_t i = from; i < from + count; ++i) {
      if (day[i] < '0' || day[i] > '9') return false;
      v = v * 10 + (day[i] - '0');
    }
    *out = v;
    return true;
  };
  int y = 0, m = 0, d = 0;
  if (!digits(0, 4, &y) || !digits(5, 2, &m) || !digits(8, 2, &d)) return false;
  using namespace std::chrono;  // NOLINT(google-build-using-namespace)
  const year_month_day date{year(y), month(static_cast<unsigned>(m)),
                            std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok()) return false;
  *days_out = sys_days(date).time_since_epoch().count();
  return true;
}

Status ListDeletionJobs(store::Store& store, std::string_view project,
                        std::vector<DeletionJob>* jobs) {
  jobs->clear();
  const std::string prefix = store::DeletionJobPrefix(project);
  Status failure;
  PROFILED_RETURN_IF_ERROR(store.Scan(store::Table::kMeta, prefix, store::PrefixEnd(prefix),
                                      [&](std::string_view key, std::string_view value) {
                                        std::string_view tail = key.substr(prefix.size());
                                        DeletionJob job;
                                        if (!GetFixed64BE(&tail, &job.id) || !tail.empty()) {
                                          return true;
                                        }
                                        failure = DecodeDeletionJob(value, &job);
                                        if (!failure.ok()) return false;
                                        jobs->push_back(std::move(job));
                                        return true;
                                      }));
  return failure;
}

}  // namespace profiled::ingest
