#include "recs/model_shelf.h"

#include <utility>

namespace profiled::recs {

std::shared_ptr<const ServingModel> ModelShelf::Get(std::string_view project,
                                                    std::string_view rec_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = projects_.find(project);
  if (p == projects_.end()) return nullptr;
  auto r = p->second.find(rec_id);
  return r == p->second.end() ? nullptr : r->second.model;
}

std::shared_ptr<const ServingModel> ModelShelf::Get(std::string_view project,
                                                    std::string_view rec_id,
                                                    std::string_view training_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = projects_.find(project);
  if (p == projects_.end()) return nullptr;
  auto r = p->second.find(rec_id);
  if (r == p->second.end() || r->second.training_key != training_key) return nullptr;
  return r->second.model;
}

void ModelShelf::Set(std::string_view project, std::string_view rec_id,
                     std::shared_ptr<const ServingModel> model, std::string training_key) {
  if (model == nullptr) {
    Erase(project, rec_id);
    return;
  }
  // The replaced model is released after the lock, so its destructor never runs inside it.
  std::shared_ptr<const ServingModel> old;
  std::lock_guard<std::mutex> lock(mu_);
  auto p = projects_.find(project);
  if (p == projects_.end()) p = projects_.emplace(std::string(project), RecModels()).first;
  auto r = p->second.find(rec_id);
  if (r == p->second.end()) {
    p->second.emplace(std::string(rec_id), Shelved{std::move(model), std::move(training_key)});
  } else {
    old = std::exchange(r->second.model, std::move(model));
    r->second.training_key = std::move(training_key);
  }
}

bool ModelShelf::Erase(std::string_view project, std::string_view rec_id) {
  std::shared_ptr<const ServingModel> old;
  std::lock_guard<std::mutex> lock(mu_);
  auto p = projects_.find(project);
  if (p == projects_.end()) return false;
  auto r = p->second.find(rec_id);
  if (r == p->second.end()) return false;
  old = std::move(r->second.model);
  p->second.erase(r);
  if (p->second.empty()) projects_.erase(p);
  return true;
}

}  // namespace profiled::recs
