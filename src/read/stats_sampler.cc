#include "read/stats_sampler.h"

#include <algorithm>
#include <chrono>

#include "core/log.h"

namespace profiled::read {

namespace {

double PerSecond(uint64_t before, uint64_t after, int64_t elapsed_ms) {
  if (after <= before) return 0;
  return static_cast<double>(after - before) * 1000.0 / static_cast<double>(elapsed_ms);
}

template <typename T>
void PushBounded(std::deque<T>* ring, T sample, size_t capacity) {
  ring->push_back(std::move(sample));
  while (ring->size() > capacity) ring->pop_front();
}

}  // namespace

CohortSizeMap CohortSeries::SizesAt(size_t i) const {
  CohortSizeMap out;
  const std::vector<uint64_t>& sizes = samples.at(i).sizes;
  for (size_t k = 0; k < sizes.size() && k < ids.size(); ++k) {
    if (sizes[k] != CohortSample::kNotCounted) out.emplace(ids[k], sizes[k]);
  }
  return out;
}

RateSample RatesBetween(const Metrics::Totals& before, int64_t before_ms,
                        const Metrics::Totals& after, int64_t after_ms) {
  const int64_t elapsed = std::max<int64_t>(1, after_ms - before_ms);
  RateSample r;
  r.t_ms = after_ms;
  r.events_ingested_per_second = PerSecond(before.events_ingested, after.events_ingested, elapsed);
  r.profile_reads_per_second = PerSecond(before.profile_reads, after.profile_reads, elapsed);
  r.requests_per_second = PerSecond(before.requests, after.requests, elapsed);
  return r;
}

StatsSampler::StatsSampler(const Metrics& metrics, const Clock& clock, CohortSizer sizer,
                           int rate_seconds, int cohort_seconds, std::vector<std::string> projects)
    : metrics_(metrics),
      clock_(clock),
      sizer_(std::move(sizer)),
      rate_seconds_(rate_seconds),
      cohort_seconds_(cohort_seconds),
      started_ms_(clock.NowMs()),
      projects_(std::move(projects)) {}

StatsSampler::~StatsSampler() { Stop(); }

void StatsSampler::Start() {
  rate_thread_ = std::thread([this] { Loop(rate_seconds_, &StatsSampler::SampleRates); });
  if (cohort_seconds_ > 0) {
    cohort_thread_ = std::thread([this] { Loop(cohort_seconds_, &StatsSampler::SampleCohorts); });
  }
}

void StatsSampler::Stop() {
  cancel_.store(true, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (rate_thread_.joinable()) rate_thread_.join();
  if (cohort_thread_.joinable()) cohort_thread_.join();
}

void StatsSampler::Loop(int seconds, void (StatsSampler::*round)()) {
  // Rounds are due on a fixed grid from the start (steady time), so a slow round does not push
  // every later one back; a round that overran its slot skips the slots it missed.
  using Steady = std::chrono::steady_clock;
  const auto period = std::chrono::seconds(seconds);
  auto due = Steady::now();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_cv_.wait_until(lock, due, [this] { return stopping_; })) return;
    }
    (this->*round)();
    const auto now = Steady::now();
    do {
      due += period;
    } while (due <= now);
  }
}

void StatsSampler::SetProjects(std::vector<std::string> projects) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = cohorts_.begin(); it != cohorts_.end();) {
    if (std::find(projects.begin(), projects.end(), it->first) == projects.end()) {
      it = cohorts_.erase(it);
    } else {
      ++it;
    }
  }
  projects_ = std::move(projects);
}

void StatsSampler::SampleRates() {
  const Metrics::Totals totals = metrics_.ReadTotals();
  const int64_t now = clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  // A clock moved back (the testing clock) gives no rate: the reading is the next baseline.
  if (have_totals_ && now > last_totals_ms_) {
    PushBounded(&rates_, RatesBetween(last_totals_, last_totals_ms_, totals, now), kMaxRateSamples);
  }
  have_totals_ = true;
  last_totals_ = totals;
  last_totals_ms_ = now;
}

void StatsSampler::SampleCohorts() {
  std::vector<std::string> projects;
  {
    std::lock_guard<std::mutex> lock(mu_);
    projects = projects_;
  }
  for (const std::string& project : projects) {
    struct {
      int64_t t_ms;
      CohortSizeMap sizes;
    } sample{clock_.NowMs(), {}};
    // The scan runs without the lock: Snapshot is never kept waiting by one.
    Status s = sizer_(project, &sample.sizes, cancel_);
    if (cancel_.load(std::memory_order_relaxed)) return;
    if (!s.ok()) {
      LogError("console: the cohort sizes of project " + project + " failed: " + s.ToString());
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    // A project a reload removed meanwhile is not brought back.
    if (std::find(projects_.begin(), projects_.end(), project) == projects_.end()) continue;
    Push(&cohorts_[project], sample.t_ms, sample.sizes);
  }
}

void StatsSampler::Push(CohortRing* ring, int64_t t_ms, const CohortSizeMap& sizes) {
  CohortSample sample;
  sample.t_ms = t_ms;
  sample.sizes.assign(ring->ids.size(), CohortSample::kNotCounted);
  for (const auto& [id, size] : sizes) {
    auto it = std::find(ring->ids.begin(), ring->ids.end(), id);
    if (it == ring->ids.end()) {
      ring->ids.push_back(id);
      sample.sizes.push_back(size);
    } else {
      sample.sizes[static_cast<size_t>(it - ring->ids.begin())] = size;
    }
  }
  PushBounded(&ring->samples, std::move(sample), kMaxCohortSamples);
  // Drop the ids no kept sample counted (deleted cohorts), so the list does not grow forever.
  std::vector<bool> used(ring->ids.size(), false);
  for (const CohortSample& s : ring->samples) {
    for (size_t k = 0; k < s.sizes.size(); ++k) {
      if (s.sizes[k] != CohortSample::kNotCounted) used[k] = true;
    }
  }
  if (std::find(used.begin(), used.end(), false) == used.end()) return;
  std::vector<size_t> keep;
  for (size_t k = 0; k < used.size(); ++k) {
    if (used[k]) keep.push_back(k);
  }
  std::vector<std::string> ids;
  ids.reserve(keep.size());
  for (size_t k : keep) ids.push_back(std::move(ring->ids[k]));
  ring->ids = std::move(ids);
  for (CohortSample& s : ring->samples) {
    std::vector<uint64_t> kept;
    kept.reserve(keep.size());
    for (size_t k : keep)
      kept.push_back(k < s.sizes.size() ? s.sizes[k] : CohortSample::kNotCounted);
    s.sizes = std::move(kept);
  }
}

StatsSnapshot StatsSampler::Snapshot(const StatsFilter& filter) const {
  StatsSnapshot out;
  out.started_ms = started_ms_;
  out.rate_seconds = rate_seconds_;
  out.cohort_seconds = cohort_seconds_;
  const auto after = [&](const auto& sample) { return sample.t_ms > filter.since_ms; };
  std::lock_guard<std::mutex> lock(mu_);
  // Samples are oldest first: the wanted ones are a tail.
  out.rates.assign(std::find_if(rates_.begin(), rates_.end(), after), rates_.end());
  for (const std::string& project : projects_) {
    if (!filter.project.empty() && project != filter.project) continue;
    CohortSeries& series = out.cohorts[project];
    auto it = cohorts_.find(project);
    if (it == cohorts_.end()) continue;
    const std::deque<CohortSample>& samples = it->second.samples;
    auto first = std::find_if(samples.begin(), samples.end(), after);
    if (first == samples.end()) continue;
    series.ids = it->second.ids;
    series.samples.assign(first, samples.end());
  }
  return out;
}

}  // namespace profiled::read
