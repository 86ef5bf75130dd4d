#include "recs/ials.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <new>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace profiled::recs {

namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Vector = Eigen::VectorXd;

// N(0, 1) draws by Box–Muller from the engine's raw output: std::normal_distribution is
// implementation-defined, and a model must not depend on the standard library it was built with.
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : engine_(seed) {}

  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    // Uniforms in (0, 1] and [0, 1) from the top 53 bits.
    const double u1 = static_cast<double>((engine_() >> 11) + 1) * 0x1.0p-53;
    const double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * M_PI * u2;
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// The regularisation of a row with `count` positives, against `others` rows on the other side.
double RowLambda(const IalsOptions& o, size_t count, int32_t others) {
  return o.lambda * std::pow(static_cast<double>(count) + o.alpha0 * others, o.reg_exponent);
}

// Scratch of SolveRow, kept across rows so that a side allocates once.
struct RowScratch {
  Matrix gathered;  // √c_k f_k, one per column: its rank update is Σ c_k f_k f_kᵀ
  Matrix weighted;  // c_k f_k, one per column: its row sums are Σ c_k f_k
  Matrix a;
};

// Solves one row's d × d system into `x`:
//   (gramian + Σ_k c_k f_k f_kᵀ + λ_r I) x = Σ_k c_k f_k,   f_k = fixed.col(list[k]),
// with c_k = weights[k], or 1 for every k when `weights` is empty. Only gramian's lower
// triangle is read. False when the Cholesky fails. REQUIRES: list non-empty; weights empty
// or as long as list.
bool SolveRow(const Eigen::Ref<const Matrix>& fixed, const Eigen::Ref<const Matrix>& gramian,
              std::span<const int32_t> list, std::span<const float> weights, double lambda_r,
              RowScratch* s, Eigen::Ref<Vector> x) {
  const auto count = static_cast<Eigen::Index>(list.size());
  s->gathered.resize(fixed.rows(), count);
  if (weights.empty()) {
    // Unweighted rows keep the arithmetic they had before confidences existed, so a model
    // trained without them does not move by a bit.
    for (Eigen::Index k = 0; k < count; ++k) s->gathered.col(k) = fixed.col(list[k]);
  } else {
    // √1 = 1 and 1·f = f exactly, so weights of 1 give the unweighted row's bits too.
    s->weighted.resize(fixed.rows(), count);
    for (Eigen::Index k = 0; k < count; ++k) {
      const auto c = static_cast<double>(weights[static_cast<size_t>(k)]);
      s->gathered.col(k) = fixed.col(list[k]) * std::sqrt(c);
      s->weighted.col(k) = fixed.col(list[k]) * c;
    }
  }
  s->a = gramian;
  s->a.selfadjointView<Eigen::Lower>().rankUpdate(s->gathered);
  s->a.diagonal().array() += lambda_r;
  Eigen::LLT<Matrix, Eigen::Lower> llt(s->a);
  if (llt.info() != Eigen::Success) return false;
  const Matrix& rhs_terms = weights.empty() ? s->gathered : s->weighted;
  x = llt.solve(Vector(rhs_terms.rowwise().sum()));
  return true;
}

// Solves every row of one side with the other side fixed. `fixed` is d × (other rows), one
// embedding per column; `lists[r]` the positives of row r (indices of fixed's columns) and
// `weights` empty (every pair weighs 1) or weights[r] the confidences of lists[r]; the
// result, d × lists.size(), goes to `out`. Each row is SolveRow's system with gramian
// α₀ FᵀF.
Status SolveSide(const Matrix& fixed, const std::vector<std::span<const int32_t>>& lists,
                 const std::vector<std::span<const float>>& weights, const IalsOptions& o,
                 Matrix* out) {
  const Eigen::Index d = fixed.rows();
  Matrix gramian = Matrix::Zero(d, d);
  gramian.selfadjointView<Eigen::Lower>().rankUpdate(fixed, o.alpha0);
  out->setZero(d, static_cast<Eigen::Index>(lists.size()));
  RowScratch scratch;
  for (size_t r = 0; r < lists.size(); ++r) {
    std::span<const int32_t> list = lists[r];
    if (list.empty()) continue;  // the right-hand side is 0, so is the solution
    const std::span<const float> row_weights =
        weights.empty() ? std::span<const float>() : weights[r];
    auto x = out->col(static_cast<Eigen::Index>(r));
    if (!SolveRow(fixed, gramian, list, row_weights,
                  RowLambda(o, list.size(), static_cast<int32_t>(fixed.cols())), &scratch, x)) {
      return Status::Internal("ials: Cholesky failed");
    }
  }
  return Status::Ok();
}

// Confidences are empty or one list per user, matching the user's items, each weight finite
// and positive.
Status ValidateConfidences(const Interactions& data,
                           std::span<const std::vector<float>> confidences) {
  if (confidences.empty()) return Status::Ok();
  if (confidences.size() != static_cast<size_t>(data.num_users())) {
    return Status::InvalidArgument("ials: confidences hold " + std::to_string(confidences.size()) +
                                   " lists for " + std::to_string(data.num_users()) + " users");
  }
  for (int32_t u = 0; u < data.num_users(); ++u) {
    const std::vector<float>& list = confidences[static_cast<size_t>(u)];
    if (list.size() != data.items_of(u).size()) {
      return Status::InvalidArgument("ials: user " + std::to_string(u) + " has " +
                                     std::to_string(list.size()) + " confidences for " +
                                     std::to_string(data.items_of(u).size()) + " items");
    }
    for (size_t k = 0; k < list.size(); ++k) {
      if (!std::isfinite(list[k]) || !(list[k] > 0)) {
        return Status::InvalidArgument("ials: confidence " + std::to_string(k) + " of user " +
                                       std::to_string(u) + " is " + std::to_string(list[k]) +
                                       "; it must be finite and > 0");
      }
    }
  }
  return Status::Ok();
}

Status Validate(const IalsOptions& o) {
  if (o.factors < 1 || o.factors > 4096) {
    return Status::InvalidArgument("ials: factors must be in [1, 4096]");
  }
  if (!(o.alpha0 >= 0) || !std::isfinite(o.alpha0)) {
    return Status::InvalidArgument("ials: alpha0 must be a number ≥ 0");
  }
  if (!(o.lambda > 0) || !std::isfinite(o.lambda)) {
    return Status::InvalidArgument("ials: lambda must be a positive number");
  }
  if (!(o.reg_exponent >= 0) || o.reg_exponent > 4) {
    return Status::InvalidArgument("ials: reg_exponent must be in [0, 4]");
  }
  if (o.epochs < 1 || o.epochs > 1000) {
    return Status::InvalidArgument("ials: epochs must be in [1, 1000]");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<IalsModel>> IalsModel::Train(
    const Interactions& data, const IalsOptions& options,
    std::span<const std::vector<float>> confidences) {
  PROFILED_RETURN_IF_ERROR(Validate(options));
  PROFILED_RETURN_IF_ERROR(ValidateConfidences(data, confidences));
  auto model = std::make_unique<IalsModel>();
  const int32_t n = data.num_items();
  const int32_t d = options.factors;
  model->num_items_ = n;
  model->factors_ = d;
  model->alpha0_ = options.alpha0;
  model->lambda_ = options.lambda;
  model->reg_exponent_ = options.reg_exponent;
  try {
    std::vector<std::span<const int32_t>> items_of_user;
    items_of_user.reserve(static_cast<size_t>(data.num_users()));
    for (int32_t u = 0; u < data.num_users(); ++u) items_of_user.push_back(data.items_of(u));
    std::vector<std::vector<int32_t>> users_of(static_cast<size_t>(n));
    for (int32_t u = 0; u < data.num_users(); ++u) {
      for (int32_t i : data.items_of(u)) users_of[static_cast<size_t>(i)].push_back(u);
    }
    std::vector<std::span<const int32_t>> users_of_item(users_of.begin(), users_of.end());
    // The pair (u, i) weighs c_ui in both steps: the item step reads the same confidences,
    // regrouped by item in users_of's order.
    std::vector<std::span<const float>> weights_of_user(confidences.begin(), confidences.end());
    std::vector<std::vector<float>> weights_of(confidences.empty() ? 0 : static_cast<size_t>(n));
    for (size_t u = 0; u < confidences.size(); ++u) {
      std::span<const int32_t> items = data.items_of(static_cast<int32_t>(u));
      for (size_t k = 0; k < items.size(); ++k) {
        weights_of[static_cast<size_t>(items[k])].push_back(confidences[u][k]);
      }
    }
    std::vector<std::span<const float>> weights_of_item(weights_of.begin(), weights_of.end());

    Matrix h(d, n);  // one item per column
    Gaussian gaussian(options.seed);
    const double stddev = 0.1 / std::sqrt(static_cast<double>(d));
    for (Eigen::Index i = 0; i < h.cols(); ++i) {
      for (Eigen::Index f = 0; f < h.rows(); ++f) h(f, i) = stddev * gaussian.Next();
    }
    Matrix w;
    for (int32_t epoch = 0; epoch < options.epochs; ++epoch) {
      PROFILED_RETURN_IF_ERROR(SolveSide(h, items_of_user, weights_of_user, options, &w));
      PROFILED_RETURN_IF_ERROR(SolveSide(w, users_of_item, weights_of_item, options, &h));
    }
    // Column-major d × n is row-major n × d: item i's embedding is contiguous.
    model->item_factors_.assign(h.data(), h.data() + h.size());
    Matrix gramian = Matrix::Zero(d, d);
    gramian.selfadjointView<Eigen::Lower>().rankUpdate(h, options.alpha0);
    gramian.triangularView<Eigen::StrictlyUpper>() = gramian.transpose();
    model->gramian_.assign(gramian.data(), gramian.data() + gramian.size());
  } catch (const std::bad_alloc&) {
    return Status::Internal("ials: out of memory for " + std::to_string(n) + " items");
  }
  return model;
}

std::span<const double> IalsModel::item_embedding(int32_t item) const {
  return std::span<const double>(item_factors_)
      .subspan(static_cast<size_t>(item) * static_cast<size_t>(factors_),
               static_cast<size_t>(factors_));
}

std::vector<double> IalsModel::FoldIn(std::span<const int32_t> history,
                                      std::span<const float> weights) const {
  if (num_items_ == 0 || history.empty()) return {};
  const Eigen::Index d = factors_;
  Eigen::Map<const Matrix> h(item_factors_.data(), d, num_items_);
  Eigen::Map<const Matrix> gramian(gramian_.data(), d, d);
  IalsOptions o;
  o.alpha0 = alpha0_;
  o.lambda = lambda_;
  o.reg_exponent = reg_exponent_;
  std::vector<double> user(static_cast<size_t>(d));
  Eigen::Map<Vector> x(user.data(), d);
  RowScratch scratch;
  // The system is λ-positive definite, so the Cholesky cannot fail.
  if (!SolveRow(h, gramian, history, weights, RowLambda(o, history.size(), num_items_), &scratch,
                x)) {
    return {};
  }
  return user;
}

void IalsModel::ScoreFoldIn(std::span<const double> w, std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0F);
  // No history: the fold-in is 0 and so is every score.
  if (w.empty()) return;
  Eigen::Map<const Vector> user(w.data(), factors_);
  Eigen::Map<const Matrix> h(item_factors_.data(), factors_, num_items_);
  // Column by column, as ScoreItems does, so both give the same float for an item.
  for (Eigen::Index j = 0; j < num_items_; ++j) {
    scores[static_cast<size_t>(j)] = static_cast<float>(h.col(j).dot(user));
  }
}

void IalsModel::Score(std::span<const int32_t> history, std::span<float> scores) const {
  ScoreFoldIn(FoldIn(history), scores);
}

void IalsModel::ScoreWeighted(std::span<const WeightedItem> history,
                              std::span<float> scores) const {
  std::vector<int32_t> items;
  std::vector<float> weights;
  items.reserve(history.size());
  weights.reserve(history.size());
  for (const WeightedItem& entry : history) {
    items.push_back(entry.item);
    weights.push_back(entry.weight);
  }
  ScoreFoldIn(FoldIn(items, weights), scores);
}

void IalsModel::ScoreItems(std::span<const int32_t> history, std::span<const int32_t> items,
                           std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0F);
  const std::vector<double> w = FoldIn(history);
  if (w.empty()) return;
  Eigen::Map<const Vector> user(w.data(), factors_);
  Eigen::Map<const Matrix> h(item_factors_.data(), factors_, num_items_);
  for (size_t k = 0; k < items.size(); ++k) {
    out[k] = static_cast<float>(h.col(items[k]).dot(user));
  }
}

}  // namespace profiled::recs
