// Throttle: Amplitude's per-id event rate limit (events per second per user_id and per
// device_id), off when the rate is 0. ProjectThrottle: the per-project one (events per second
// of all a project's ids together, [[projects]] events_per_second), off for a project whose
// rate is 0. Both answer Amplitude's 429 (docs/API.md, "Limits").
//
// The rate is averaged over a window, as Amplitude averages over 30 s: each id has a token
// bucket holding rate x window events, refilled at the rate. A batch is admitted whole or
// not at all: if any id in it lacks the tokens for its events, nothing is taken and the
// report names the ids and events. (So one request carrying more than rate x window events
// for a single id is always refused.) Used only by the ingest writer thread; neither class is
// thread-safe.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "ingest/event.h"

namespace profiled::ingest {

struct ThrottleReport {
  // Whether the project's rate refused the batch (ProjectThrottle: every event is listed, no
  // id is named), rather than some ids' rates (Throttle).
  bool project = false;
  double eps_threshold = 0;
  std::vector<int> throttled_events;  // batch indices
  // id -> the id's rate in events per second, averaged over the window and counting this
  // batch (the events the window already holds plus the batch's, divided by the window),
  // rounded up to a whole number as Amplitude reports it (so never below eps_threshold).
  std::map<std::string, int> throttled_devices;
  std::map<std::string, int> throttled_users;
  bool any() const { return !throttled_events.empty(); }
};

class Throttle {
 public:
  Throttle(double events_per_second, int window_seconds, const Clock& clock)
      : eps_(events_per_second),
        window_seconds_(window_seconds),
        capacity_(events_per_second * window_seconds),
        clock_(clock) {}

  bool enabled() const { return eps_ > 0; }

  // Takes a new rate and window (a configuration reload). Each id keeps the events its
  // window holds, up to the new capacity; a rate of 0 turns throttling off and forgets them.
  void SetLimits(double events_per_second, int window_seconds);

  // Admits the batch (taking tokens) and returns an empty report, or returns which ids
  // and events are over the limit and takes nothing.
  ThrottleReport Admit(const std::string& project, const std::vector<Event>& events);

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  double Refill(Bucket& b, int64_t now) const;
  void Prune(int64_t now);
  int RateOver(double tokens, int demand) const;

  double eps_;
  int window_seconds_;
  double capacity_;
  const Clock& clock_;
  std::unordered_map<std::string, Bucket> buckets_;
  int admits_since_prune_ = 0;
};

// Each project with a rate has one token bucket holding rate x window events, refilled at the
// rate; the writer checks a batch's events against it before the per-id Throttle (Check), and
// takes them once both admitted the batch (Take), so a refused batch takes nothing from either.
class ProjectThrottle {
 public:
  explicit ProjectThrottle(const Clock& clock) : clock_(clock) {}

  bool enabled() const { return !rates_.empty(); }

  // Takes each project's rate in events per second (0 or absent: no limit) and the window
  // (ingest.throttle_window_seconds). A project keeps the events its window holds, up to its
  // new capacity; a project without a rate forgets them.
  void SetLimits(const std::map<std::string, double>& events_per_second, int window_seconds);

  // An empty report when `project` may send `events` events now; otherwise one naming every
  // index 0..events-1, with the project's rate as eps_threshold. Takes nothing. A full bucket
  // admits a request of any size (its tokens then go below zero and refill at the rate), so
  // a request larger than rate x window is delayed like any other, never refused for good.
  ThrottleReport Check(const std::string& project, size_t events);
  // Takes `events` from the project's bucket. REQUIRES: Check admitted them just before.
  void Take(const std::string& project, size_t events);
  // Gives back what Take took for a request that was then not applied (refused while
  // applying, or the store failed), so its retry is not throttled for it.
  void GiveBack(const std::string& project, size_t events);

 private:
  struct Bucket {
    double eps = 0;
    double capacity = 0;
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  static void Refill(Bucket& b, int64_t now);

  const Clock& clock_;
  std::map<std::string, Bucket> rates_;  // projects with a rate only
};

}  // namespace profiled::ingest
