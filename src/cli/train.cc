#include "cli/train.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <thread>

#include "cli/http_client.h"
#include "core/config.h"
#include "core/value_text.h"

namespace profiled::cli {

namespace {

namespace json = boost::json;

constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;
constexpr int kBarWidth = 30;

int Fail(std::FILE* err, int code, const std::string& message) {
  std::fprintf(err, "profiled train: %s\n", message.c_str());
  return code;
}

// The "training" object of a definition's GET body; null when the body has none.
const json::object* TrainingOf(const json::value& body) {
  if (!body.is_object()) return nullptr;
  const json::value* t = body.get_object().if_contains("training");
  return t != nullptr && t->is_object() ? &t->get_object() : nullptr;
}

int64_t IntOf(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

std::string StringOf(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

double ProgressOf(const json::object& o) {
  const json::value* v = o.if_contains("progress");
  if (v == nullptr) return 0;
  if (v->is_double()) return std::clamp(v->get_double(), 0.0, 1.0);
  if (v->is_int64()) return std::clamp(static_cast<double>(v->get_int64()), 0.0, 1.0);
  return 0;
}

// A bar redrawn in place on a terminal; elsewhere a line whenever the phase or the tenth changes.
class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* err) : err_(err), terminal_(isatty(fileno(err)) != 0) {}

  void Show(const std::string& phase, double fraction) {
    int percent = static_cast<int>(std::floor(fraction * 100));
    if (terminal_) {
      int filled = percent * kBarWidth / 100;
      std::fprintf(err_, "\r%-12s [%s%s] %3d%%", phase.c_str(), std::string(filled, '#').c_str(),
                   std::string(kBarWidth - filled, '.').c_str(), percent);
      shown_ = true;
    } else if (phase != last_phase_ || percent / 10 != last_tenth_) {
      std::fprintf(err_, "train: %s %d%%\n", phase.c_str(), percent);
    }
    last_phase_ = phase;
    last_tenth_ = percent / 10;
    std::fflush(err_);
  }
  void Done() {
    if (terminal_ && shown_) std::fputc('\n', err_);
    std::fflush(err_);
  }

 private:
  std::FILE* err_;
  bool terminal_;
  bool shown_ = false;
  std::string last_phase_;
  int last_tenth_ = -1;
};

}  // namespace

int Train(const TrainFlags& flags, std::FILE* out, std::FILE* err, std::chrono::milliseconds poll) {
  if (!(flags.timeout_seconds > 0)) return Fail(err, kExitBadInput, "--timeout must be > 0");
  // The id rule of definitions (docs/API.md): it goes into a URL path as it is.
  if (flags.rec.empty() || flags.rec.size() > 128 ||
      !std::all_of(flags.rec.begin(), flags.rec.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
      })) {
    return Fail(
        err, kExitBadInput,
        "--rec must be 1 to 128 characters of A-Z a-z 0-9 _ . -, not \"" + flags.rec + "\"");
  }
  Result<ServerTarget> resolved =
      ResolveServerTarget(flags.config_path, flags.project, flags.server, flags.ca_file);
  if (!resolved.ok()) return Fail(err, kExitBadInput, resolved.status().message());
  const ServerConfig& server = resolved->server;
  const std::string path = "/admin/v1/projects/" + flags.project + "/recommendations/" + flags.rec;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + resolved->config.admin_token}};
  auto call = [&](std::string_view method, const std::string& target,
                  json::value* body) -> Result<int> {
    Result<HttpAnswer> answer = HttpRequest(server.host, server.port, method, target, headers, "",
                                            std::chrono::seconds(120), resolved->https);
    if (!answer.ok()) return answer.status();
    boost::system::error_code ec;
    *body = json::parse(answer->body, ec);
    if (ec) *body = nullptr;
    return answer->status;
  };
  auto error_of = [](const json::value& body) {
    return body.is_object() ? StringOf(body.get_object(), "error") : std::string();
  };

  json::value body;
  Result<int> status = call("GET", path, &body);
  if (!status.ok()) return Fail(err, kExitFailed, status.status().message());
  if (*status == 404) {
    return Fail(err, kExitBadInput,
                "no recommendation \"" + flags.rec + "\" in project " + flags.project);
  }
  if (*status != 200) {
    return Fail(err, kExitFailed,
                "GET " + path + ": HTTP " + std::to_string(*status) + " " + error_of(body));
  }
  const json::object* training = TrainingOf(body);
  int64_t trainings = training != nullptr ? IntOf(*training, "trainings") : 0;
  int64_t failures = training != nullptr ? IntOf(*training, "failures") : 0;

  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(flags.timeout_seconds));
  ProgressBar bar(err);
  bool requested = false;
  while (true) {
    if (std::chrono::steady_clock::now() > deadline) {
      bar.Done();
      return Fail(err, kExitFailed,
                  "timed out after " + std::to_string(flags.timeout_seconds) +
                      " s; the server goes on training");
    }
    if (!requested) {
      status = call("POST", path + "/train", &body);
      if (!status.ok()) return Fail(err, kExitFailed, status.status().message());
      if (*status == 202) {
        requested = true;
      } else if (*status == 409) {
        bar.Show("backfilling", 0);  // the definition's history is not served yet
      } else {
        bar.Done();
        return Fail(
            err, kExitFailed,
            "POST " + path + "/train: HTTP " + std::to_string(*status) + " " + error_of(body));
      }
    }
    if (requested) {
      status = call("GET", path, &body);
      if (!status.ok()) return Fail(err, kExitFailed, status.status().message());
      if (*status != 200) {
        bar.Done();
        return Fail(err, kExitFailed,
                    "GET " + path + ": HTTP " + std::to_string(*status) + " " + error_of(body));
      }
      training = TrainingOf(body);
      if (training == nullptr) {
        bar.Done();
        return Fail(err, kExitFailed, "the server reports no training for " + flags.rec);
      }
      if (IntOf(*training, "failures") > failures) {
        bar.Done();
        return Fail(err, kExitFailed, "training failed: " + StringOf(*training, "error"));
      }
      if (IntOf(*training, "trainings") > trainings) {
        bar.Show("trained", 1);
        bar.Done();
        std::fprintf(out, "%s\n", ObjectText(*training).c_str());
        return 0;
      }
      std::string state = StringOf(*training, "status");
      bar.Show(state == "training" ? "training" : "queued",
               state == "training" ? ProgressOf(*training) : 0);
    }
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace profiled::cli
