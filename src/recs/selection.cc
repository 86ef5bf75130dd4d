#include "recs/selection.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "recs/blend.h"
#include "recs/ease.h"
#include "recs/ials.h"

namespace profiled::recs {

Result<std::vector<std::vector<std::pair<std::string, std::string>>>> GridPoints(
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
  return points;
}

Result<std::vector<Candidate>> ExpandGrid(ModelKind kind,
                                          const std::vector<ParameterValues>& grid) {
  Result<std::vector<std::vector<std::pair<std::string, std::string>>>> points = GridPoints(grid);
  if (!points.ok()) return points.status();
  std::vector<Candidate> candidates;
  for (auto& point : *points) {
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

namespace {

// The trained parts of the blend candidates of one validation fold, by their options: a grid
// that varies only ials_weight (or only one part's parameters) trains each distinct part once.
class BlendParts {
 public:
  explicit BlendParts(const Interactions& data) : data_(data) {}

  Result<std::unique_ptr<ItemModel>> Blend(const ModelOptions& o) {
    char key[160];
    std::snprintf(key, sizeof(key), "%.17g %.17g %d", o.lambda, o.popularity_exponent,
                  o.max_dense_items);
    auto ease = ease_.find(key);
    if (ease == ease_.end()) {
      Result<std::unique_ptr<EaseModel>> trained = EaseModel::Train(
          data_, o.lambda, o.max_dense_items, EaseModel::Form::kAuto, o.popularity_exponent);
      if (!trained.ok()) return trained.status();
      ease = ease_.emplace(key, std::move(trained.value())).first;
    }
    const IalsOptions& i = o.ials;
    std::snprintf(key, sizeof(key), "%d %.17g %.17g %.17g %d %llu", i.factors, i.alpha0, i.lambda,
                  i.reg_exponent, i.epochs, static_cast<unsigned long long>(i.seed));
    auto ials = ials_.find(key);
    if (ials == ials_.end()) {
      Result<std::unique_ptr<IalsModel>> trained = IalsModel::Train(data_, i);
      if (!trained.ok()) return trained.status();
      ials = ials_.emplace(key, std::move(trained.value())).first;
    }
    if (!(o.ials_weight >= 0 && o.ials_weight <= 1)) {
      return Status::InvalidArgument("blend: ials_weight must be in [0, 1]");
    }
    return std::unique_ptr<ItemModel>(
        std::make_unique<BlendModel>(ease->second, ials->second, o.ials_weight));
  }

 private:
  const Interactions& data_;
  std::map<std::string, std::shared_ptr<const ItemModel>> ease_;
  std::map<std::string, std::shared_ptr<const ItemModel>> ials_;
};

// Evaluate, with blends assembled from `parts`; train_seconds then covers only what this
// candidate trained anew.
Result<EvalReport> EvaluateCandidate(const EvalSplit& validation, const ModelOptions& options,
                                     std::span<const size_t> ks, BlendParts* parts) {
  if (options.kind != ModelKind::kBlend) return Evaluate(validation, options, ks);
  auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<ItemModel>> model = parts->Blend(options);
  if (!model.ok()) return model.status();
  std::chrono::duration<double> trained = std::chrono::steady_clock::now() - start;
  EvalReport report = EvaluateTrained(validation, **model, ks);
  report.train_seconds = trained.count();
  return report;
}

}  // namespace

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
    BlendParts parts(validation.train);
    for (size_t c = 0; c < candidates.size(); ++c) {
      Result<EvalReport> report = EvaluateCandidate(validation, candidates[c].options, ks, &parts);
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
