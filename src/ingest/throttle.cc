#include "ingest/throttle.h"

#include <algorithm>
#include <cmath>

namespace profiled::ingest {

double Throttle::Refill(Bucket& b, int64_t now) const {
  if (now > b.updated_ms) {
    b.tokens =
        std::min(capacity_, b.tokens + eps_ * static_cast<double>(now - b.updated_ms) / 1000.0);
    b.updated_ms = now;
  }
  return b.tokens;
}

void Throttle::SetLimits(double events_per_second, int window_seconds) {
  eps_ = events_per_second;
  window_seconds_ = window_seconds;
  capacity_ = events_per_second * window_seconds;
  if (!enabled()) {
    buckets_.clear();
    return;
  }
  for (auto& [key, bucket] : buckets_) bucket.tokens = std::min(bucket.tokens, capacity_);
}

void Throttle::Prune(int64_t now) {
  // A bucket that has refilled completely carries no state worth keeping.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (Refill(it->second, now) >= capacity_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

int Throttle::RateOver(double tokens, int demand) const {
  // The window holds capacity - tokens events already; with the batch's it would hold more
  // than capacity, i.e. more than eps x window.
  double in_window = capacity_ - tokens + demand;
  double rate = in_window / std::max(1, window_seconds_);
  return static_cast<int>(std::min(std::ceil(rate - 1e-9), 2e9));
}

ThrottleReport Throttle::Admit(const std::string& project, const std::vector<Event>& events) {
  ThrottleReport report;
  report.eps_threshold = eps_;
  if (!enabled()) return report;
  int64_t now = clock_.NowMs();
  if (++admits_since_prune_ >= 4096) {
    admits_since_prune_ = 0;
    Prune(now);
  }

  // Demand per bucket key; 'd'/'u' keep device and user ids apart.
  std::map<std::string, int> demand;
  auto key = [&](char kind, const std::string& id) { return project + '\0' + kind + id; };
  for (const Event& e : events) {
    if (!e.device_id.empty()) ++demand[key('d', e.device_id)];
    if (!e.user_id.empty()) ++demand[key('u', e.user_id)];
  }
  std::map<std::string, int> over;  // key -> its rate in events per second
  for (const auto& [k, n] : demand) {
    auto it = buckets_.find(k);
    double tokens = it == buckets_.end() ? capacity_ : Refill(it->second, now);
    if (n > tokens + 1e-9) over[k] = RateOver(tokens, n);
  }
  if (over.empty()) {
    for (const auto& [k, n] : demand) {
      auto [it, inserted] = buckets_.try_emplace(k, Bucket{capacity_, now});
      if (!inserted) Refill(it->second, now);
      it->second.tokens -= n;
    }
    return report;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    auto device_over = e.device_id.empty() ? over.end() : over.find(key('d', e.device_id));
    auto user_over = e.user_id.empty() ? over.end() : over.find(key('u', e.user_id));
    if (device_over != over.end()) report.throttled_devices[e.device_id] = device_over->second;
    if (user_over != over.end()) report.throttled_users[e.user_id] = user_over->second;
    if (device_over != over.end() || user_over != over.end())
      report.throttled_events.push_back(static_cast<int>(i));
  }
  return report;
}

void ProjectThrottle::Refill(Bucket& b, int64_t now) {
  if (now > b.updated_ms) {
    b.tokens =
        std::min(b.capacity, b.tokens + b.eps * static_cast<double>(now - b.updated_ms) / 1000.0);
    b.updated_ms = now;
  }
}

void ProjectThrottle::SetLimits(const std::map<std::string, double>& events_per_second,
                                int window_seconds) {
  int64_t now = clock_.NowMs();
  std::map<std::string, Bucket> next;
  for (const auto& [project, eps] : events_per_second) {
    if (eps <= 0) continue;
    Bucket b{eps, eps * window_seconds, eps * window_seconds, now};
    if (auto it = rates_.find(project); it != rates_.end()) {
      Refill(it->second, now);
      // The events the window holds stay in it.
      double used = it->second.capacity - it->second.tokens;
      b.tokens = std::max(0.0, b.capacity - used);
    }
    next.emplace(project, b);
  }
  rates_ = std::move(next);
}

ThrottleReport ProjectThrottle::Check(const std::string& project, size_t events) {
  ThrottleReport report;
  auto it = rates_.find(project);
  if (it == rates_.end()) return report;
  Bucket& b = it->second;
  Refill(b, clock_.NowMs());
  if (static_cast<double>(events) <= b.tokens + 1e-9 || b.tokens >= b.capacity - 1e-9) {
    return report;
  }
  report.project = true;
  report.eps_threshold = b.eps;
  report.throttled_events.reserve(events);
  for (size_t i = 0; i < events; ++i) report.throttled_events.push_back(static_cast<int>(i));
  return report;
}

void ProjectThrottle::Take(const std::string& project, size_t events) {
  auto it = rates_.find(project);
  if (it != rates_.end()) it->second.tokens -= static_cast<double>(events);
}

void ProjectThrottle::GiveBack(const std::string& project, size_t events) {
  auto it = rates_.find(project);
  if (it == rates_.end()) return;
  Bucket& b = it->second;
  b.tokens = std::min(b.capacity, b.tokens + static_cast<double>(events));
}

}  // namespace profiled::ingest
