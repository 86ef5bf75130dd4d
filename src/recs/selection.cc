#include "recs/selection.h"

#include <set>

namespace profiled::recs {

Result<std::vector<Candidate>> ExpandGrid(ModelKind kind,
                                          const std::vector<ParameterValues>& grid) {
  std::set<std::string> seen;
  for (const ParameterValues& p : grid) {
    if (p.values.empty()) return Status::InvalidArgument("parameter " + p.name + " has no value");
    if (!seen.insert(p.name).second) {
      return Status::InvalidArgument("parameter " + p.name + " is given twice");
    }
  }
  std::vector<std::vector<std::pair<std::string, std::string>>> points = {{}};
  for (const ParameterValues& p : grid) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& point : points) {
      for (const std::string& value : p.values) {
        next.push_back(point);
        next.back().emplace_back(p.name, value);
      }
    }
    points = std::move(next);
  }
  std::vector<Candidate> candidates;
  for (auto& point : points) {
    Result<ModelOptions> options = ModelOptionsFrom(kind, point);
    if (!options.ok()) return options.status();
    candidates.push_back({std::move(point), *options});
  }
  return candidates;
}

namespace {

// The SplitMix64 output function (Steele, Lea & Flood 2014) of state z.
uint64_t SplitMix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t ValidationSeed(uint64_t seed, int32_t fold) {
  // Mixed twice so that (seed, fold + 1) and (seed + 1, fold) give unrelated seeds.
  return SplitMix64(SplitMix64(seed) + static_cast<uint64_t>(fold));
}

EvalSplit ValidationSplit(const EvalSplit& split, uint64_t seed, int32_t fold) {
  return MakeSplit(split.train, split.protocol, ValidationSeed(seed, fold));
}

Result<Selection> SelectOnValidation(const EvalSplit& split, uint64_t seed,
                                     const std::vector<Candidate>& candidates, int32_t folds,
                                     const ValidationObserver& observer) {
  if (candidates.empty()) return Status::InvalidArgument("no candidate to select from");
  if (folds < 1) return Status::InvalidArgument("validation folds must be ≥ 1");
  Selection selection;
  selection.validation_ndcg.assign(candidates.size(), 0.0);
  const std::vector<size_t> ks = {kSelectionCutoff};
  for (int32_t fold = 0; fold < folds; ++fold) {
    EvalSplit validation = ValidationSplit(split, seed, fold);
    if (validation.users.empty()) {
      return Status::InvalidArgument("the training data leaves no user to validate on");
    }
    selection.validation_users += validation.users.size();
    for (size_t c = 0; c < candidates.size(); ++c) {
      Result<EvalReport> report = Evaluate(validation, candidates[c].options, ks);
      if (!report.ok()) return report.status();
      selection.validation_ndcg[c] += report->cutoffs[0].ndcg / folds;
      if (observer) observer(c, fold, *report);
    }
  }
  for (size_t c = 1; c < candidates.size(); ++c) {
    if (selection.validation_ndcg[c] > selection.validation_ndcg[selection.chosen]) {
      selection.chosen = c;
    }
  }
  return selection;
}

}  // namespace profiled::recs
