// Micro benchmark of recs::Serve: what one recommendation adds to a profile read.
//
// Trains a model (ease by default) on a generated data set (6,000 items, 600 users, clustered
// tastes over a long-tailed popularity) or on a MovieLens ratings file, then times Serve one
// call at a time for users with a history of --history items, --candidates top-n candidates
// (and, separately, a fixed list of that many random items), limit --limit, and prints p50,
// p99 and max in microseconds. Not built by `all`:
//
//   cmake --build build -j2 --target recs_serve_bench
//   build/src/recs/recs_serve_bench [--ratings ratings.csv] [--model ease] [--reads 20000]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "recs/ratings.h"
#include "recs/serving.h"

namespace {

using profiled::Result;
using namespace profiled::recs;

struct Flags {
  std::string ratings;
  std::string model = "ease";
  size_t history = 50;
  int64_t candidates = 1000;
  size_t limit = 10;
  size_t reads = 20000;
  size_t users = 0;  // 0: every user with enough items; else only the first N (hot caches)
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: recs_serve_bench [--ratings FILE] [--model ease|itemknn|popular] "
               "[--history 50] [--candidates 1000] [--limit 10] [--reads 20000] [--users N]\n");
  std::exit(2);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string_view name = argv[i];
    if (i + 1 >= argc) Usage();
    const char* value = argv[++i];
    if (name == "--ratings") {
      f.ratings = value;
    } else if (name == "--model") {
      f.model = value;
    } else if (name == "--history") {
      f.history = std::strtoul(value, nullptr, 10);
    } else if (name == "--candidates") {
      f.candidates = std::strtol(value, nullptr, 10);
    } else if (name == "--limit") {
      f.limit = std::strtoul(value, nullptr, 10);
    } else if (name == "--users") {
      f.users = std::strtoul(value, nullptr, 10);
    } else if (name == "--reads") {
      f.reads = std::strtoul(value, nullptr, 10);
    } else {
      Usage();
    }
  }
  return f;
}

// Users' item lists as keys. Generated: item i's base popularity falls off as 1/(i+10); each
// user has one of 30 taste clusters of 200 items and takes 60–150 items, 60 % from the
// cluster and 40 % by popularity.
std::vector<std::vector<std::string>> Generated() {
  constexpr int kItems = 6000;
  constexpr int kUsers = 600;
  constexpr int kClusters = 30;
  constexpr int kClusterSize = kItems / kClusters;
  std::mt19937_64 engine(1);
  std::vector<double> weights(kItems);
  for (int i = 0; i < kItems; ++i) weights[static_cast<size_t>(i)] = 1.0 / (i + 10);
  std::discrete_distribution<int> popular(weights.begin(), weights.end());
  std::vector<std::vector<std::string>> users(kUsers);
  for (int u = 0; u < kUsers; ++u) {
    const int cluster = u % kClusters;
    const int n = 60 + static_cast<int>(engine() % 91);
    for (int k = 0; k < n; ++k) {
      int item = engine() % 10 < 6
                     ? static_cast<int>((cluster + kClusters * (engine() % kClusterSize)) % kItems)
                     : popular(engine);
      users[static_cast<size_t>(u)].push_back("item-" + std::to_string(item));
    }
  }
  return users;
}

std::vector<std::vector<std::string>> FromRatings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream text;
  text << in.rdbuf();
  Result<std::vector<Rating>> ratings = ParseRatings(text.str(), RatingsFormat::kMovieLensCsv);
  if (!ratings.ok()) {
    std::fprintf(stderr, "%s\n", ratings.status().ToString().c_str());
    std::exit(2);
  }
  Positives positives = PositivesOf(*ratings, 4.0);
  std::vector<std::vector<std::string>> users(static_cast<size_t>(positives.data.num_users()));
  for (int32_t u = 0; u < positives.data.num_users(); ++u) {
    for (int32_t i : positives.data.items_of(u)) {
      users[static_cast<size_t>(u)].push_back(
          std::to_string(positives.item_ids[static_cast<size_t>(i)]));
    }
  }
  return users;
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles Of(std::vector<double> micros) {
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 99 / 100], micros.back()};
}

// This thread's CPU time: unlike the wall clock, it does not count time the thread spent
// preempted, which on a shared machine is most of a wall-clock p99.
double ThreadMicros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

struct Timing {
  Percentiles wall, cpu;
};

Timing Measure(const ServingModel& model, const std::vector<std::vector<std::string_view>>& hs,
               const Flags& f, std::span<const std::string> fixed) {
  std::vector<double> wall;
  std::vector<double> cpu;
  wall.reserve(f.reads);
  cpu.reserve(f.reads);
  Served out;
  for (size_t r = 0; r < f.reads + f.reads / 10; ++r) {  // the first tenth warms up
    ServeRequest request;
    request.amplitude_id = r;
    request.rec_id = "r1";
    request.history = hs[r % hs.size()];
    request.limit = f.limit;
    request.candidates_top_n = f.candidates;
    request.candidate_items = fixed;
    const double cpu_start = ThreadMicros();
    auto start = std::chrono::steady_clock::now();
    profiled::Status s = Serve(model, request, &out);
    auto end = std::chrono::steady_clock::now();
    const double cpu_end = ThreadMicros();
    if (!s.ok() || out.items.size() != f.limit) {
      std::fprintf(stderr, "serve failed: %s, %zu items\n", s.ToString().c_str(), out.items.size());
      std::exit(1);
    }
    if (r >= f.reads / 10) {
      wall.push_back(std::chrono::duration<double, std::micro>(end - start).count());
      cpu.push_back(cpu_end - cpu_start);
    }
  }
  return {Of(std::move(wall)), Of(std::move(cpu))};
}

void Print(const char* what, const Timing& t) {
  std::printf(
      "%-26s wall p50 %6.1f us  p99 %7.1f us  max %8.1f us | cpu p50 %6.1f us  p99 %6.1f us\n",
      what, t.wall.p50, t.wall.p99, t.wall.max, t.cpu.p50, t.cpu.p99);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f = ParseFlags(argc, argv);
  Result<ModelKind> kind = ParseModelKind(f.model);
  if (!kind.ok()) Usage();
  std::vector<std::vector<std::string>> users =
      f.ratings.empty() ? Generated() : FromRatings(f.ratings);

  TrainingSet set;
  for (size_t u = 0; u < users.size(); ++u) {
    for (const std::string& item : users[u]) set.Add(u, item);
  }
  ModelOptions options;
  options.kind = *kind;
  Result<std::shared_ptr<const ServingModel>> trained = TrainServingModel(options, set, 0);
  if (!trained.ok()) {
    std::fprintf(stderr, "%s\n", trained.status().ToString().c_str());
    return 1;
  }
  const ServingModel& model = **trained;

  // Histories: --history distinct items of each user who has that many, in random order.
  std::mt19937_64 engine(2);
  std::vector<std::vector<std::string_view>> histories;
  for (std::vector<std::string>& items : users) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    if (items.size() < f.history) continue;
    std::shuffle(items.begin(), items.end(), engine);
    histories.emplace_back(items.begin(), items.begin() + static_cast<ptrdiff_t>(f.history));
    if (histories.size() == f.users) break;
  }
  if (histories.empty()) {
    std::fprintf(stderr, "no user has %zu items\n", f.history);
    return 1;
  }
  std::vector<std::string> fixed;
  for (int64_t k = 0; k < f.candidates; ++k) {
    fixed.push_back(model.items[engine() % model.items.size()]);
  }

  std::printf("model %s (%s) items %zu users %lld interactions %lld train_seconds %.2f\n",
              std::string(ModelName(model.used)).c_str(), model.note.c_str(), model.items.size(),
              static_cast<long long>(model.users), static_cast<long long>(model.interactions),
              model.train_seconds);
  std::printf("histories %zu of %zu items, limit %zu, %zu timed reads each\n", histories.size(),
              f.history, f.limit, f.reads);
  std::string top = "top-" + std::to_string(f.candidates) + " candidates";
  Print(top.c_str(), Measure(model, histories, f, {}));
  std::string list = "fixed list of " + std::to_string(f.candidates);
  Print(list.c_str(), Measure(model, histories, f, fixed));
  return 0;
}
