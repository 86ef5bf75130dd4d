// Throttle: Amplitude's per-id event rate limit (events per second per user_id and per
// device_id), off when the rate is 0.
//
// The rate is averaged over a window, as Amplitude averages over 30 s: each id has a token
// bucket holding rate x window events, refilled at the rate. A batch is admitted whole or
// not at all: if any id in it lacks the tokens for its events, nothing is taken and the
// report names the ids and events. (So one request carrying more than rate x window events
// for a single id is always refused.) Used only by the ingest writer thread; not
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

}  // namespace profiled::ingest
