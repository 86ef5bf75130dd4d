#include "ingest/throttle.h"

#include <algorithm>

namespace profiled::ingest {

double Throttle::Refill(Bucket& b, int64_t now) const {
  if (now > b.updated_ms) {
    b.tokens =
        std::min(capacity_, b.tokens + eps_ * static_cast<double>(now - b.updated_ms) / 1000.0);
    b.updated_ms = now;
  }
  return b.tokens;
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
  std::map<std::string, bool> over;
  for (const auto& [k, n] : demand) {
    auto it = buckets_.find(k);
    double tokens = it == buckets_.end() ? capacity_ : Refill(it->second, now);
    if (n > tokens + 1e-9) over[k] = true;
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
    bool device_over = !e.device_id.empty() && over.count(key('d', e.device_id)) != 0;
    bool user_over = !e.user_id.empty() && over.count(key('u', e.user_id)) != 0;
    if (device_over) report.throttled_devices[e.device_id] = demand[key('d', e.device_id)];
    if (user_over) report.throttled_users[e.user_id] = demand[key('u', e.user_id)];
    if (device_over || user_over) report.throttled_events.push_back(static_cast<int>(i));
  }
  return report;
}

}  // namespace profiled::ingest
