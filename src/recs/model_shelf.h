// ModelShelf: the serving models of every recommendation of every project, keyed by
// (project, rec id). The trainer Sets a new model when one is ready; readers Get the current one
// and keep serving from it even if it is replaced meanwhile (shared_ptr: a model lives until its
// last reader lets go). Thread-safe; every call holds one mutex for a map lookup only.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "recs/serving.h"

namespace profiled::recs {

class ModelShelf {
 public:
  // The model of (project, rec_id), or null when none is set. No allocation.
  std::shared_ptr<const ServingModel> Get(std::string_view project, std::string_view rec_id) const;
  // The same, but null unless the model was set with this training key: a read asks for the
  // model of the definition it serves, and a model trained for an earlier version of it (other
  // item events, another model kind) is not that one.
  std::shared_ptr<const ServingModel> Get(std::string_view project, std::string_view rec_id,
                                          std::string_view training_key) const;
  // Sets (or replaces) the model of (project, rec_id), trained for `training_key`. A null
  // model erases it.
  void Set(std::string_view project, std::string_view rec_id,
           std::shared_ptr<const ServingModel> model, std::string training_key = {});
  // Removes the model of (project, rec_id); true when there was one.
  bool Erase(std::string_view project, std::string_view rec_id);

 private:
  struct Shelved {
    std::shared_ptr<const ServingModel> model;
    std::string training_key;
  };
  using RecModels = std::map<std::string, Shelved, std::less<>>;
  mutable std::mutex mu_;
  std::map<std::string, RecModels, std::less<>> projects_;  // GUARDED_BY mu_
};

}  // namespace profiled::recs
