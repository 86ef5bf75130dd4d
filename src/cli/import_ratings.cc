#include "cli/import_ratings.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "cli/http_client.h"
#include "cli/progress.h"
#include "core/config.h"
#include "core/json_writer.h"

namespace profiled::cli {

namespace {

constexpr int kExitRefused = 1;
constexpr int kExitBadInput = 2;
constexpr size_t kMaxQuotedAnswer = 1000;  // bytes of a refusing answer quoted in the message

int Fail(std::FILE* err, int code, const std::string& message) {
  std::fprintf(err, "profiled import-ratings: %s\n", message.c_str());
  return code;
}

}  // namespace

int64_t TimeShiftMs(std::span<const recs::Rating> ratings, bool shifted, int64_t now_ms) {
  if (!shifted || ratings.empty()) return 0;
  int64_t newest = 0;
  for (const recs::Rating& r : ratings) newest = std::max(newest, r.timestamp);
  return now_ms - newest * 1000;
}

std::string BatchBody(std::span<const recs::Rating> ratings, std::string_view api_key,
                      std::string_view event_type, int64_t shift_ms) {
  std::string out = "{\"api_key\":";
  AppendJsonString(&out, api_key);
  out.append(",\"events\":[");
  for (size_t i = 0; i < ratings.size(); ++i) {
    const recs::Rating& r = ratings[i];
    const std::string user = std::to_string(r.user);
    const std::string item = std::to_string(r.item);
    if (i > 0) out.push_back(',');
    out.append("{\"user_id\":\"user-").append(user).append("\",\"event_type\":");
    AppendJsonString(&out, event_type);
    out.append(",\"time\":");
    AppendJsonInt(&out, r.timestamp * 1000 + shift_ms);
    out.append(",\"insert_id\":\"rating-").append(user).append("-").append(item);
    out.append("\",\"event_properties\":{\"movie_id\":\"").append(item);
    out.append("\",\"rating\":");
    AppendJsonDouble(&out, r.rating);
    out.append("}}");
  }
  out.append("]}");
  return out;
}

int ImportRatings(const ImportRatingsFlags& flags, int64_t now_ms, std::FILE* err) {
  Result<recs::RatingsFormat> format = recs::ParseRatingsFormat(flags.format);
  if (!format.ok()) return Fail(err, kExitBadInput, "--format: " + format.status().message());
  if (flags.time != "shifted" && flags.time != "original") {
    return Fail(err, kExitBadInput,
                "--time must be shifted or original, not \"" + flags.time + "\"");
  }
  if (!std::isfinite(flags.min_rating) || flags.min_rating < 0) {
    return Fail(err, kExitBadInput, "--min-rating must be a number, 0 or more");
  }
  if (flags.event_type.empty()) return Fail(err, kExitBadInput, "--event-type must not be empty");
  Result<ServerTarget> target =
      ResolveServerTarget(flags.config_path, flags.project, flags.server, flags.ca_file);
  if (!target.ok()) return Fail(err, kExitBadInput, target.status().message());
  const ServerConfig& server = target->server;

  std::ifstream in(flags.ratings_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Fail(err, kExitBadInput, "cannot read " + flags.ratings_path);
  Result<std::vector<recs::Rating>> ratings = recs::ParseRatings(text.str(), *format);
  if (!ratings.ok()) {
    return Fail(err, kExitBadInput, flags.ratings_path + ": " + ratings.status().message());
  }
  std::vector<recs::Rating> positives;
  for (const recs::Rating& r : *ratings) {
    if (r.rating >= flags.min_rating) positives.push_back(r);
  }
  if (positives.empty()) {
    return Fail(err, kExitBadInput,
                flags.ratings_path + ": no rating is at or above --min-rating " +
                    std::to_string(flags.min_rating));
  }

  const auto start = std::chrono::steady_clock::now();
  const int64_t shift_ms = TimeShiftMs(positives, flags.time == "shifted", now_ms);
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"}};
  ProgressDisplay progress(err);
  for (size_t first = 0; first < positives.size(); first += kImportBatchEvents) {
    const size_t count = std::min(kImportBatchEvents, positives.size() - first);
    std::string body = BatchBody(std::span(positives).subspan(first, count),
                                 target->project.api_key, flags.event_type, shift_ms);
    Result<HttpAnswer> answer = HttpRequest(server.host, server.port, "POST", "/batch", headers,
                                            body, std::chrono::seconds(120), target->https);
    if (!answer.ok()) {
      return Fail(err, kExitRefused, "cannot send to the server: " + answer.status().message());
    }
    if (answer->status != 200) {
      std::string_view quoted = Utf8Prefix(answer->body, kMaxQuotedAnswer);
      return Fail(err, kExitRefused,
                  "the server refused events " + std::to_string(first + 1) + "-" +
                      std::to_string(first + count) + " of " + std::to_string(positives.size()) +
                      ": HTTP " + std::to_string(answer->status) + " " + std::string(quoted) +
                      (quoted.size() < answer->body.size() ? "..." : ""));
    }
    const size_t sent = first + count;
    progress.Show(sent, positives.size(),
                  "import-ratings: " + std::to_string(sent) + "/" +
                      std::to_string(positives.size()) + " events sent",
                  sent == positives.size());
  }
  progress.End();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(err,
               "import-ratings: %zu events (ratings >= %g of %zu) sent to project %s in %.1f s\n",
               positives.size(), flags.min_rating, ratings->size(), flags.project.c_str(), seconds);
  return 0;
}

}  // namespace profiled::cli
