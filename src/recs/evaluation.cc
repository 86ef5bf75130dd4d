#include "recs/evaluation.h"

#include <algorithm>
#include <chrono>

#include "recs/metrics.h"

namespace profiled::recs {

EvalReport EvaluateScores(const EvalSplit& split, const UserScorer& score,
                          std::span<const size_t> ks) {
  EvalReport report;
  report.protocol = split.protocol;
  report.users = split.users.size();
  report.items = split.train.num_items();
  for (size_t k : ks) report.cutoffs.push_back({k, 0, 0});
  const size_t depth = std::max(kCoverageCutoff, *std::max_element(ks.begin(), ks.end()));

  const auto n = static_cast<size_t>(split.train.num_items());
  std::vector<float> scores(n);
  std::vector<uint8_t> excluded(n, 0);
  std::vector<uint8_t> recommended(n, 0);
  std::vector<int32_t> ranked;
  for (size_t e = 0; e < split.users.size(); ++e) {
    const EvalUser& user = split.users[e];
    score(e, scores);
    for (int32_t i : user.history) excluded[static_cast<size_t>(i)] = 1;
    std::vector<ScoredItem> top = TopItems(scores, excluded, depth);
    for (int32_t i : user.history) excluded[static_cast<size_t>(i)] = 0;
    ranked.clear();
    for (const ScoredItem& s : top) ranked.push_back(s.item);
    for (CutoffMetrics& c : report.cutoffs) {
      c.recall += RecallAtK(ranked, user.held_out, c.k);
      c.ndcg += NdcgAtK(ranked, user.held_out, c.k);
    }
    for (size_t r = 0; r < std::min(kCoverageCutoff, ranked.size()); ++r) {
      recommended[static_cast<size_t>(ranked[r])] = 1;
    }
    report.rankings.push_back(ranked);
  }
  if (!split.users.empty()) {
    for (CutoffMetrics& c : report.cutoffs) {
      c.recall /= static_cast<double>(split.users.size());
      c.ndcg /= static_cast<double>(split.users.size());
    }
  }
  if (n > 0) {
    report.coverage_at_10 =
        static_cast<double>(std::count(recommended.begin(), recommended.end(), 1)) /
        static_cast<double>(n);
  }
  return report;
}

EvalReport EvaluateTrained(const EvalSplit& split, const ItemModel& model,
                           std::span<const size_t> ks) {
  EvalReport report = EvaluateScores(
      split,
      [&](size_t e, std::span<float> scores) { model.Score(split.users[e].history, scores); }, ks);
  report.model = model.kind();
  return report;
}

Result<EvalReport> Evaluate(const EvalSplit& split, const ModelOptions& options,
                            std::span<const size_t> ks) {
  if (ks.empty() || std::find(ks.begin(), ks.end(), size_t{0}) != ks.end()) {
    return Status::InvalidArgument("cutoffs k must be positive integers");
  }
  auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<ItemModel>> model = TrainModel(options, split.train);
  if (!model.ok()) return model.status();
  std::chrono::duration<double> trained = std::chrono::steady_clock::now() - start;
  EvalReport report = EvaluateTrained(split, **model, ks);
  report.train_seconds = trained.count();
  return report;
}

}  // namespace profiled::recs
