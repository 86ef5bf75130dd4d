// `profiled train`: asks a running server to train one recommendation now, and follows the
// training to its end (docs/RECS.md, "Training in the server").
//
// It POSTs /admin/v1/projects/{project}/recommendations/{rec}/train with the config's
// admin_token (while the definition's item history still backfills the server answers 409:
// it asks again every poll), then polls GET on the definition until the server reports a
// training more than it did before (`training.trainings`) or a failure more
// (`training.failures`). A terminal gets a progress bar on `err`, anything else a line per
// tenth. The final `training` object is printed on `out` as one JSON line.
//
// Thread-compatible free functions.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace profiled::cli {

struct TrainFlags {
  std::string config_path;
  std::string project;
  std::string rec;
  std::string server;   // HOST:PORT; empty: the config's server.listen
  std::string ca_file;  // TLS on in the config: the CA (PEM) the server's certificate chains to
  double timeout_seconds = 3600;  // give up (exit 1) after this long
};

// Runs the command, over HTTPS when the config's server has TLS on (ServerTarget). Returns
// the exit code: 0 once the model is trained; 2 for bad flags (--ca-file without TLS in the
// config), an unreadable config or CA file, an unknown project or recommendation; 1 when the
// server cannot be reached, its certificate is not trusted (at once, a "TLS:" message),
// it refuses, the training fails (its error is printed) or the timeout passes.
// `poll` is the pause between two polls (a test seam).
int Train(const TrainFlags& flags, std::FILE* out, std::FILE* err,
          std::chrono::milliseconds poll = std::chrono::milliseconds(200));

}  // namespace profiled::cli
