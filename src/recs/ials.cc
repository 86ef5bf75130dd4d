#include "recs/ials.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <new>
#include <random>
#include <string>

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

// Solves every row of one side with the other side fixed. `fixed` is d × (other rows), one
// embedding per column; `lists[r]` the positives of row r (indices of fixed's columns); the
// result, d × lists.size(), goes to `out`. Each row is the d × d system
//   (α₀ FᵀF + Σ_{i∈list} f_i f_iᵀ + λ_r I) x = Σ_{i∈list} f_i.
Status SolveSide(const Matrix& fixed, const std::vector<std::span<const int32_t>>& lists,
                 const IalsOptions& o, Matrix* out) {
  const Eigen::Index d = fixed.rows();
  Matrix gramian = Matrix::Zero(d, d);
  gramian.selfadjointView<Eigen::Lower>().rankUpdate(fixed, o.alpha0);
  out->setZero(d, static_cast<Eigen::Index>(lists.size()));
  Matrix gathered;
  Matrix a;
  for (size_t r = 0; r < lists.size(); ++r) {
    std::span<const int32_t> list = lists[r];
    if (list.empty()) continue;  // the right-hand side is 0, so is the solution
    gathered.resize(d, static_cast<Eigen::Index>(list.size()));
    for (size_t k = 0; k < list.size(); ++k) {
      gathered.col(static_cast<Eigen::Index>(k)) = fixed.col(list[k]);
    }
    a = gramian;
    a.selfadjointView<Eigen::Lower>().rankUpdate(gathered);
    a.diagonal().array() += RowLambda(o, list.size(), static_cast<int32_t>(fixed.cols()));
    Eigen::LLT<Matrix, Eigen::Lower> llt(a);
    if (llt.info() != Eigen::Success) return Status::Internal("ials: Cholesky failed");
    out->col(static_cast<Eigen::Index>(r)) = llt.solve(Vector(gathered.rowwise().sum()));
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

Result<std::unique_ptr<IalsModel>> IalsModel::Train(const Interactions& data,
                                                    const IalsOptions& options) {
  PROFILED_RETURN_IF_ERROR(Validate(options));
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

    Matrix h(d, n);  // one item per column
    Gaussian gaussian(options.seed);
    const double stddev = 0.1 / std::sqrt(static_cast<double>(d));
    for (Eigen::Index i = 0; i < h.cols(); ++i) {
      for (Eigen::Index f = 0; f < h.rows(); ++f) h(f, i) = stddev * gaussian.Next();
    }
    Matrix w;
    for (int32_t epoch = 0; epoch < options.epochs; ++epoch) {
      PROFILED_RETURN_IF_ERROR(SolveSide(h, items_of_user, options, &w));
      PROFILED_RETURN_IF_ERROR(SolveSide(w, users_of_item, options, &h));
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

std::vector<double> IalsModel::FoldIn(std::span<const int32_t> history) const {
  if (num_items_ == 0 || history.empty()) return {};
  const Eigen::Index d = factors_;
  Eigen::Map<const Matrix> h(item_factors_.data(), d, num_items_);
  Matrix a = Eigen::Map<const Matrix>(gramian_.data(), d, d);
  Matrix gathered(d, static_cast<Eigen::Index>(history.size()));
  for (size_t k = 0; k < history.size(); ++k) {
    gathered.col(static_cast<Eigen::Index>(k)) = h.col(history[k]);
  }
  a.selfadjointView<Eigen::Lower>().rankUpdate(gathered);
  IalsOptions o;
  o.alpha0 = alpha0_;
  o.lambda = lambda_;
  o.reg_exponent = reg_exponent_;
  a.diagonal().array() += RowLambda(o, history.size(), num_items_);
  Eigen::LLT<Matrix, Eigen::Lower> llt(a);
  if (llt.info() != Eigen::Success) return {};  // cannot happen: a is λ-positive definite
  std::vector<double> user(static_cast<size_t>(d));
  Eigen::Map<Vector>(user.data(), d) = llt.solve(Vector(gathered.rowwise().sum()));
  return user;
}

void IalsModel::Score(std::span<const int32_t> history, std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0F);
  // No history: the fold-in is 0 and so is every score.
  const std::vector<double> w = FoldIn(history);
  if (w.empty()) return;
  Eigen::Map<const Vector> user(w.data(), factors_);
  Eigen::Map<const Matrix> h(item_factors_.data(), factors_, num_items_);
  // Column by column, as ScoreItems does, so both give the same float for an item.
  for (Eigen::Index j = 0; j < num_items_; ++j) {
    scores[static_cast<size_t>(j)] = static_cast<float>(h.col(j).dot(user));
  }
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
