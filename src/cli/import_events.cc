#include "cli/import_events.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cli/export_event.h"
#include "cli/http_client.h"
#include "cli/import_source.h"
#include "cli/progress.h"
#include "core/hash.h"
#include "core/json_writer.h"
#include "core/value_text.h"

namespace profiled::cli {

namespace json = boost::json;

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;
constexpr size_t kMaxBatchBytes = 5 << 20;  // well under /batch's 20 MiB
constexpr size_t kMaxQuotedAnswer = 1000;
constexpr int kNotedSkips = 10;  // skipped lines described one by one; the rest only counted
constexpr int kStateVersion = 1;
constexpr uint64_t kFingerprintBytes = 64 << 10;

// How far an import got; what the state file holds.
struct ImportState {
  std::string mode;  // "amplitude-export" | "ndjson"
  std::string input;
  uint64_t input_bytes = 0;
  std::string fingerprint;
  std::string target;  // the URL and a hash of the api_key
  size_t entry = 0;    // lines of entry `entry` up to `line` are done (and every earlier entry)
  std::string entry_name;
  uint64_t line = 0;
  bool complete = false;
  uint64_t lines_read = 0;
  uint64_t events_accepted = 0;
  uint64_t batches = 0;
  std::map<std::string, uint64_t> skipped;  // by reason
};

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// The input's size and a hash of its first and last 64 KiB (a zip's central directory is at
// its end), so a state file is not applied to another file.
Status Fingerprint(const std::string& path, uint64_t* size, std::string* fingerprint) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::InvalidArgument(path + ": cannot open");
  *size = static_cast<uint64_t>(in.tellg());
  StableHasher h;
  h.Add(*size);
  std::string buf(std::min(*size, kFingerprintBytes), '\0');
  in.seekg(0);
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  h.Add(buf);
  in.seekg(static_cast<std::streamoff>(*size - buf.size()));
  in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
  h.Add(buf);
  if (!in) return Status::InvalidArgument(path + ": cannot read");
  *fingerprint = Hex(h.Finish());
  return Status::Ok();
}

std::string StateText(const ImportState& s) {
  std::string out = "{\"version\":";
  AppendJsonInt(&out, kStateVersion);
  out += ",\"mode\":";
  AppendJsonString(&out, s.mode);
  out += ",\"input\":";
  AppendJsonString(&out, s.input);
  out += ",\"input_bytes\":";
  AppendJsonUint(&out, s.input_bytes);
  out += ",\"fingerprint\":";
  AppendJsonString(&out, s.fingerprint);
  out += ",\"target\":";
  AppendJsonString(&out, s.target);
  out += ",\"entry\":";
  AppendJsonUint(&out, s.entry);
  out += ",\"entry_name\":";
  AppendJsonString(&out, s.entry_name);
  out += ",\"line\":";
  AppendJsonUint(&out, s.line);
  out += ",\"complete\":";
  out += s.complete ? "true" : "false";
  out += ",\"lines_read\":";
  AppendJsonUint(&out, s.lines_read);
  out += ",\"events_accepted\":";
  AppendJsonUint(&out, s.events_accepted);
  out += ",\"batches\":";
  AppendJsonUint(&out, s.batches);
  out += ",\"skipped\":{";
  bool first = true;
  for (const auto& [reason, count] : s.skipped) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(&out, reason);
    out += ':';
    AppendJsonUint(&out, count);
  }
  out += "}}\n";
  return out;
}

// Writes the state to `path` atomically: a temporary file, fsynced, renamed over it.
Status SaveState(const std::string& path, const ImportState& s) {
  const std::string tmp = path + ".tmp";
  const std::string text = StateText(s);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError(tmp + ": " + std::generic_category().message(errno));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = tmp + ": " + std::generic_category().message(errno);
      ::close(fd);
      return Status::IoError(std::move(why));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::IoError(tmp + ": " + std::generic_category().message(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError(path + ": " + std::generic_category().message(errno));
  }
  return Status::Ok();
}

uint64_t UintField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v != nullptr && v->is_uint64()) return v->get_uint64();
  if (v != nullptr && v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  return 0;
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The state in `path`: nullopt when there is no such file; InvalidArgument when it is not
// a state file.
Result<std::optional<ImportState>> LoadState(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<ImportState>();
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  json::value v = ParseJson(text, kMaxJsonDepth, &ec);
  if (ec || !v.is_object() || UintField(v.get_object(), "version") != kStateVersion) {
    return Status::InvalidArgument(path + " is not a state file of profiled import (delete it, " +
                                   "or give --restart, to import from the start)");
  }
  const json::object& o = v.get_object();
  ImportState s;
  s.mode = StringField(o, "mode");
  s.input = StringField(o, "input");
  s.input_bytes = UintField(o, "input_bytes");
  s.fingerprint = StringField(o, "fingerprint");
  s.target = StringField(o, "target");
  s.entry = UintField(o, "entry");
  s.entry_name = StringField(o, "entry_name");
  s.line = UintField(o, "line");
  const json::value* complete = o.if_contains("complete");
  s.complete = complete != nullptr && complete->is_bool() && complete->get_bool();
  s.lines_read = UintField(o, "lines_read");
  s.events_accepted = UintField(o, "events_accepted");
  s.batches = UintField(o, "batches");
  if (const json::value* sk = o.if_contains("skipped"); sk != nullptr && sk->is_object()) {
    for (const auto& kv : sk->get_object()) {
      if (kv.value().is_uint64() || kv.value().is_int64()) {
        s.skipped[std::string(kv.key())] = UintField(sk->get_object(), kv.key());
      }
    }
  }
  return std::optional<ImportState>(std::move(s));
}

std::string WithThousands(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

struct PendingEvent {
  ImportedEvent event;
  LinePosition where;
};

// One run of the command: the input, the server, and the counts.
class Importer {
 public:
  Importer(const ImportFlags& flags, HostPort server, LineSource& source, ImportState& state,
           std::string state_path, std::FILE* err)
      : flags_(flags),
        server_(std::move(server)),
        source_(source),
        state_(state),
        state_path_(std::move(state_path)),
        err_(err),
        progress_(err),
        start_(std::chrono::steady_clock::now()) {}

  // Reads and sends everything after the state's position. Ok when the input is done;
  // otherwise the reason the run stopped (the state holds how far it got).
  Status Run() {
    const bool ndjson = state_.mode == "ndjson";
    const std::optional<UserPropertiesMode> mode = ParseUserPropertiesMode(flags_.user_properties);
    LinePosition at{state_.entry, state_.line};
    Line line;
    for (;;) {
      Result<bool> got = source_.Next(&line);
      if (!got.ok()) {
        // What was read before the damage still goes in.
        PROFILED_RETURN_IF_ERROR(Flush(at));
        return got.status();
      }
      if (!*got) break;
      at = line.where;
      ++lines_read_;
      const std::string& entry_name = source_.Entries()[line.where.entry];
      LineVerdict verdict;
      if (line.too_long) {
        verdict.problem = LineProblem::kTooLong;
      } else {
        // An NDJSON file's name without its directory: the same file named another way
        // (./f, /abs/f) on a resumed run must give the same ids.
        const std::string source_name =
            ndjson ? std::filesystem::path(entry_name).filename().string() : entry_name;
        const std::string fallback_id =
            "import:" + source_name + ":" + std::to_string(line.where.line);
        verdict = ndjson ? MapNdjsonLine(line.text, fallback_id)
                         : MapExportLine(line.text, fallback_id, *mode);
      }
      if (!verdict.event) {
        Skip(std::string(LineProblemName(verdict.problem)), line.where, verdict.detail);
      } else {
        batch_bytes_ += verdict.event->json.size() + 1;
        batch_.push_back({std::move(*verdict.event), line.where});
        if (batch_.size() >= flags_.batch_events || batch_bytes_ >= kMaxBatchBytes) {
          PROFILED_RETURN_IF_ERROR(Flush(at));
        }
      }
      if ((lines_read_ & 255) == 0) ShowProgress(false);
    }
    PROFILED_RETURN_IF_ERROR(Flush({source_.Entries().size(), 0}));
    state_.complete = true;
    PROFILED_RETURN_IF_ERROR(SaveState(state_path_, state_));
    ShowProgress(true);
    progress_.End();
    return Status::Ok();
  }

  uint64_t lines_read() const { return lines_read_; }
  uint64_t accepted_this_run() const { return accepted_; }
  size_t user_ids() const { return user_ids_.size(); }
  size_t device_ids() const { return device_ids_.size(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  const std::map<std::string, std::string>& first_skip() const { return first_skip_; }
  void EndProgress() { progress_.End(); }

 private:
  std::string Where(LinePosition p) const {
    return source_.Entries()[p.entry] + " line " + std::to_string(p.line);
  }

  void Skip(const std::string& reason, LinePosition where, const std::string& detail) {
    // Counted in the state only once a flush records the position past this line, so a
    // resumed run that reads it again does not count it twice.
    ++pending_skips_[reason];
    first_skip_.emplace(reason, Where(where));
    if (noted_ < kNotedSkips) {
      progress_.End();
      std::fprintf(err_, "profiled import: skipped %s: %s%s%s\n", Where(where).c_str(),
                   reason.c_str(), detail.empty() ? "" : ": ", detail.c_str());
      if (++noted_ == kNotedSkips) {
        std::fprintf(err_, "profiled import: further skipped lines are only counted\n");
      }
    }
  }

  void ShowProgress(bool force) {
    const uint64_t done = source_.BytesRead(), total = source_.TotalBytes();
    const double secs = seconds();
    const uint64_t events = state_.events_accepted;
    // The bar on a terminal only; a log gets the figures.
    std::string text = progress_.terminal() ? "import " + ProgressBar(done, total, 30) + " "
                                            : std::string("profiled import: ");
    const int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
    text += std::to_string(percent) + "%  " + WithThousands(events) + " events";
    if (secs > 0.5) {
      text +=
          "  " + WithThousands(static_cast<uint64_t>(static_cast<double>(accepted_) / secs)) + "/s";
    }
    if (source_.Entries().size() > 1) {
      text += "  file " + std::to_string(std::min(current_entry_ + 1, source_.Entries().size())) +
              "/" + std::to_string(source_.Entries().size());
    }
    progress_.Show(done, total, text, force);
  }

  // Sends the batch, then records `done` (the last line read) as the state's position.
  Status Flush(LinePosition done) {
    if (!batch_.empty()) {
      PROFILED_RETURN_IF_ERROR(Send(std::span<PendingEvent>(batch_)));
      ++state_.batches;
    }
    batch_.clear();
    batch_bytes_ = 0;
    for (const auto& [reason, count] : pending_skips_) state_.skipped[reason] += count;
    pending_skips_.clear();
    state_.lines_read += lines_read_ - recorded_lines_;
    recorded_lines_ = lines_read_;
    state_.entry = done.entry;
    state_.line = done.line;
    state_.entry_name =
        done.entry < source_.Entries().size() ? source_.Entries()[done.entry] : std::string();
    current_entry_ = done.entry;
    return SaveState(state_path_, state_);
  }

  std::string Body(std::span<const PendingEvent> events) const {
    std::string body = "{\"api_key\":";
    AppendJsonString(&body, flags_.api_key);
    body += ",\"events\":[";
    for (size_t i = 0; i < events.size(); ++i) {
      if (i > 0) body.push_back(',');
      body += events[i].event.json;
    }
    body += ']';
    if (flags_.min_id_length > 0) {
      body += ",\"options\":{\"min_id_length\":";
      AppendJsonInt(&body, flags_.min_id_length);
      body += '}';
    }
    body += '}';
    return body;
  }

  void Accepted(std::span<const PendingEvent> events) {
    accepted_ += events.size();
    state_.events_accepted += events.size();
    for (const PendingEvent& e : events) {
      if (!e.event.user_id.empty()) user_ids_.insert(StableHasher().Add(e.event.user_id).Finish());
      if (!e.event.device_id.empty()) {
        device_ids_.insert(StableHasher().Add(e.event.device_id).Finish());
      }
    }
  }

  static std::string Quote(const HttpAnswer& answer) {
    const std::string_view quoted = Utf8Prefix(answer.body, kMaxQuotedAnswer);
    return "HTTP " + std::to_string(answer.status) + " " + std::string(quoted) +
           (quoted.size() < answer.body.size() ? "..." : "");
  }

  // The events a 400 answer names, each with its reason ("rejected by the server: invalid
  // time") and the answer's detail line for it; empty when the answer names none.
  static std::map<size_t, std::pair<std::string, std::string>> Rejected(const HttpAnswer& answer,
                                                                        size_t count) {
    std::map<size_t, std::pair<std::string, std::string>> out;
    boost::system::error_code ec;
    json::value v = ParseJson(answer.body, kMaxJsonDepth, &ec);
    if (ec || !v.is_object()) return out;
    const json::object& o = v.get_object();
    static constexpr std::pair<std::string_view, std::string_view> kMaps[] = {
        {"events_with_invalid_fields", "invalid "},
        {"events_with_missing_fields", "missing "},
        {"events_with_invalid_id_lengths", "id too short: "}};
    for (const auto& [key, what] : kMaps) {
      const json::value* m = o.if_contains(key);
      if (m == nullptr || !m->is_object()) continue;
      for (const auto& kv : m->get_object()) {
        if (!kv.value().is_array()) continue;
        for (const json::value& i : kv.value().get_array()) {
          if (!i.is_int64() || i.get_int64() < 0 || static_cast<size_t>(i.get_int64()) >= count) {
            continue;
          }
          out.emplace(
              static_cast<size_t>(i.get_int64()),
              std::make_pair("rejected by the server: " + std::string(what) + std::string(kv.key()),
                             std::string()));
        }
      }
    }
    // "details": ["events[3].time: ..."], the server's words for each.
    if (const json::value* d = o.if_contains("details"); d != nullptr && d->is_array()) {
      for (const json::value& line : d->get_array()) {
        if (!line.is_string()) continue;
        const std::string_view text = line.get_string();
        if (text.substr(0, 7) != "events[") continue;
        size_t i = 0, at = 7;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
          i = i * 10 + static_cast<size_t>(text[at++] - '0');
        }
        auto it = out.find(i);
        if (it != out.end() && it->second.second.empty()) it->second.second = std::string(text);
      }
    }
    return out;
  }

  std::chrono::milliseconds Backoff(int attempt, const HttpAnswer* answer) const {
    if (answer != nullptr && !answer->retry_after.empty()) {
      const int seconds = std::atoi(answer->retry_after.c_str());
      if (seconds > 0) return std::chrono::milliseconds(std::min(seconds, 60) * 1000);
    }
    const int64_t ms = std::min<int64_t>(30000, int64_t{500} << std::min(attempt, 6));
    return std::chrono::milliseconds(ms);
  }

  Status Send(std::span<PendingEvent> events) {
    std::vector<PendingEvent> remaining;  // what is left after a 400 took some out
    int failures = 0, throttled = 0;
    for (;;) {
      const std::string body = Body(events);
      Result<HttpAnswer> answer = HttpRequest(
          server_.host, server_.port, "POST", "/batch", {{"Content-Type", "application/json"}},
          body, std::chrono::seconds(120), HttpsOptions{server_.https, flags_.ca_file});
      if (answer.ok() && answer->status == 200) {
        Accepted(events);
        return Status::Ok();
      }
      if (answer.ok() && answer->status == 413 && events.size() > 1) {
        const size_t half = events.size() / 2;
        PROFILED_RETURN_IF_ERROR(Send(events.first(half)));
        return Send(events.subspan(half));
      }
      if (answer.ok() && answer->status == 413) {
        Skip("rejected by the server: too large", events[0].where, Quote(*answer));
        return Status::Ok();
      }
      if (answer.ok() && answer->status == 400) {
        auto rejected = Rejected(*answer, events.size());
        if (rejected.empty()) {
          return Status::InvalidArgument("the server refused the events of " +
                                         Where(events.front().where) + " to " +
                                         Where(events.back().where) + ": " + Quote(*answer));
        }
        std::vector<PendingEvent> kept;
        for (size_t i = 0; i < events.size(); ++i) {
          auto it = rejected.find(i);
          if (it == rejected.end()) {
            kept.push_back(std::move(events[i]));
          } else {
            Skip(it->second.first, events[i].where, it->second.second);
          }
        }
        remaining = std::move(kept);
        events = std::span<PendingEvent>(remaining);
        if (events.empty()) return Status::Ok();
        continue;
      }
      // A TLS failure (an untrusted certificate) stops at once: trying again cannot help.
      if (!answer.ok() && answer.status().code() == ErrorCode::kUnauthenticated) {
        return answer.status();
      }
      const bool retry = !answer.ok() || answer->status == 429 || answer->status >= 500;
      if (!retry) {
        return Status::InvalidArgument("the server refused the events of " +
                                       Where(events.front().where) + " to " +
                                       Where(events.back().where) + ": " + Quote(*answer));
      }
      if (answer.ok() && answer->status == 429 && ++throttled >= 3 && events.size() > 1) {
        // One id over its rate within this batch alone: smaller batches get through.
        const size_t half = events.size() / 2;
        PROFILED_RETURN_IF_ERROR(Send(events.first(half)));
        return Send(events.subspan(half));
      }
      if (failures >= flags_.max_retries) {
        const std::string why =
            answer.ok() ? Quote(*answer) : "cannot reach the server: " + answer.status().message();
        return Status::Unavailable(why + " (" + std::to_string(failures + 1) + " tries)");
      }
      const auto wait = Backoff(failures, answer.ok() ? &*answer : nullptr);
      ++failures;
      progress_.End();
      std::fprintf(err_, "profiled import: %s; retrying in %.1f s\n",
                   answer.ok() ? Quote(*answer).c_str() : answer.status().message().c_str(),
                   static_cast<double>(wait.count()) / 1000);
      std::this_thread::sleep_for(wait);
    }
  }

  const ImportFlags& flags_;
  HostPort server_;
  LineSource& source_;
  ImportState& state_;
  std::string state_path_;
  std::FILE* err_;
  ProgressDisplay progress_;
  std::chrono::steady_clock::time_point start_;
  std::vector<PendingEvent> batch_;
  size_t batch_bytes_ = 0;
  size_t current_entry_ = 0;
  uint64_t lines_read_ = 0, recorded_lines_ = 0, accepted_ = 0;
  std::map<std::string, uint64_t> pending_skips_;
  std::map<std::string, std::string> first_skip_;
  int noted_ = 0;
  std::unordered_set<uint64_t> user_ids_, device_ids_;
};

int Fail(std::FILE* err, int code, const std::string& message) {
  std::fprintf(err, "profiled import: %s\n", message.c_str());
  return code;
}

}  // namespace

Result<HostPort> ParseServerUrl(const std::string& url) {
  HostPort out;
  std::string_view rest = url;
  if (rest.substr(0, 8) == "https://") {
    out.https = true;
    out.port = 443;
    rest.remove_prefix(8);
  } else if (rest.substr(0, 7) == "http://") {
    rest.remove_prefix(7);
  } else {
    return Status::InvalidArgument("--url must be http://HOST:PORT or https://HOST:PORT, not \"" +
                                   url + "\"");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos ||
      rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("--url must be http(s)://HOST:PORT (no path), not \"" + url +
                                   "\"");
  }
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("--url: unclosed [");
    out.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status::InvalidArgument("--url: bad text after ]");
      port = rest.substr(1);
    }
  } else {
    const size_t colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (out.host.empty()) return Status::InvalidArgument("--url names no host: \"" + url + "\"");
  if (!port.empty() || rest.find(':') != std::string_view::npos) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return Status::InvalidArgument("--url: bad port in \"" + url + "\"");
    }
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

int Import(const ImportFlags& flags, std::FILE* out, std::FILE* err) {
  if (flags.amplitude_export.empty() == flags.ndjson.empty()) {
    return Fail(err, kExitBadInput,
                "give exactly one of --amplitude-export FILE and --ndjson FILE");
  }
  Result<HostPort> server = ParseServerUrl(flags.url);
  if (!server.ok()) return Fail(err, kExitBadInput, server.status().message());
  if (flags.api_key.empty()) return Fail(err, kExitBadInput, "--api-key must not be empty");
  if (!flags.ca_file.empty() && !server->https) {
    return Fail(err, kExitBadInput, "--ca-file is for an https:// --url");
  }
  if (!flags.ca_file.empty() && !std::ifstream(flags.ca_file)) {
    return Fail(err, kExitBadInput, "--ca-file: cannot read " + flags.ca_file);
  }
  if (!ParseUserPropertiesMode(flags.user_properties)) {
    return Fail(
        err, kExitBadInput,
        "--user-properties must be replace, set or ignore, not \"" + flags.user_properties + "\"");
  }
  if (flags.batch_events < 1 || flags.batch_events > kMaxImportBatchEvents) {
    return Fail(err, kExitBadInput, "--batch-events must be from 1 to 2000");
  }
  if (flags.min_id_length < 0 || flags.min_id_length > 1024) {
    return Fail(err, kExitBadInput, "--min-id-length must be from 1 to 1024");
  }
  if (flags.max_retries < 0) return Fail(err, kExitBadInput, "--max-retries must be 0 or more");

  const bool ndjson = !flags.ndjson.empty();
  const std::string input = ndjson ? flags.ndjson : flags.amplitude_export;
  Result<std::unique_ptr<LineSource>> source =
      ndjson ? OpenNdjson(input) : OpenAmplitudeExport(input);
  if (!source.ok()) return Fail(err, kExitBadInput, source.status().message());

  ImportState fresh;
  fresh.mode = ndjson ? "ndjson" : "amplitude-export";
  fresh.input = input;
  if (Status s = Fingerprint(input, &fresh.input_bytes, &fresh.fingerprint); !s.ok()) {
    return Fail(err, kExitBadInput, s.message());
  }
  fresh.target = flags.url + " api_key#" + Hex(StableHasher().Add(flags.api_key).Finish());

  const std::string state_path =
      flags.state_path.empty() ? input + ".import-state" : flags.state_path;
  ImportState state = fresh;
  bool resumed = false;
  if (!flags.restart) {
    Result<std::optional<ImportState>> loaded = LoadState(state_path);
    if (!loaded.ok()) return Fail(err, kExitBadInput, loaded.status().message());
    if (loaded->has_value()) {
      const ImportState& old = **loaded;
      if (old.mode != fresh.mode || old.input_bytes != fresh.input_bytes ||
          old.fingerprint != fresh.fingerprint) {
        return Fail(err, kExitBadInput,
                    state_path + " records an import of another file (" + old.input +
                        "); give --state for a new one, or --restart to import this one from "
                        "its start");
      }
      if (old.target != fresh.target) {
        return Fail(err, kExitBadInput,
                    state_path + " records an import to another server or project (" +
                        old.target.substr(0, old.target.find(' ')) +
                        "); give --state for a new one, or --restart");
      }
      if (old.complete) {
        std::fprintf(err,
                     "profiled import: %s was imported completely before (%s events; %s); "
                     "nothing to do (--restart imports it again)\n",
                     input.c_str(), WithThousands(old.events_accepted).c_str(), state_path.c_str());
        std::fprintf(out,
                     "{\"complete\":true,\"already_complete\":true,\"events_accepted\":%llu}\n",
                     static_cast<unsigned long long>(old.events_accepted));
        return 0;
      }
      if (old.entry < (*source)->Entries().size() &&
          old.entry_name != (*source)->Entries()[old.entry]) {
        return Fail(err, kExitBadInput,
                    state_path + " names file " + old.entry_name + " as number " +
                        std::to_string(old.entry + 1) + " of the archive, which holds " +
                        (*source)->Entries()[old.entry] + " there; give --restart");
      }
      state = old;
      state.input = input;
      resumed = true;
      if (Status s = (*source)->Seek(state.entry, state.line); !s.ok()) {
        return Fail(err, kExitFailed, "cannot resume: " + s.message());
      }
      std::fprintf(err,
                   "profiled import: resuming %s after %s line %llu (%s events imported "
                   "before; state in %s)\n",
                   input.c_str(),
                   state.entry < (*source)->Entries().size()
                       ? (*source)->Entries()[state.entry].c_str()
                       : "the last file",
                   static_cast<unsigned long long>(state.line),
                   WithThousands(state.events_accepted).c_str(), state_path.c_str());
    }
  }
  const size_t resumed_entry = state.entry;
  const uint64_t resumed_line = state.line;
  if (!resumed) {
    if (Status s = SaveState(state_path, state); !s.ok()) {
      return Fail(err, kExitBadInput, "cannot write the state file: " + s.message());
    }
  }

  Importer importer(flags, *server, **source, state, state_path, err);
  const Status run = importer.Run();
  importer.EndProgress();
  const double seconds = importer.seconds();
  const double rate = seconds > 0 ? static_cast<double>(importer.accepted_this_run()) / seconds : 0;

  // The summary, for a person (err) and for a program (out).
  uint64_t skipped_total = 0;
  for (const auto& [reason, count] : state.skipped) skipped_total += count;
  std::fprintf(err, "profiled import: %s %s: %s of %zu file%s, %s lines read in this run\n",
               run.ok() ? "finished" : "STOPPED", input.c_str(),
               run.ok()
                   ? "all"
                   : ("up to " + state.entry_name + " line " + std::to_string(state.line)).c_str(),
               (*source)->Entries().size(), (*source)->Entries().size() == 1 ? "" : "s",
               WithThousands(importer.lines_read()).c_str());
  if ((*source)->IgnoredEntries() > 0) {
    std::fprintf(err, "  archive members left out (not .json.gz or .json): %zu\n",
                 (*source)->IgnoredEntries());
  }
  std::fprintf(err, "  events accepted by the server: %s (%s in this run, %.1f s, %s events/s)\n",
               WithThousands(state.events_accepted).c_str(),
               WithThousands(importer.accepted_this_run()).c_str(), seconds,
               WithThousands(static_cast<uint64_t>(rate)).c_str());
  std::fprintf(err, "  distinct users in this run: %s user_ids, %s device_ids\n",
               WithThousands(importer.user_ids()).c_str(),
               WithThousands(importer.device_ids()).c_str());
  std::fprintf(err, "  skipped lines: %s\n", WithThousands(skipped_total).c_str());
  for (const auto& [reason, count] : state.skipped) {
    auto first = importer.first_skip().find(reason);
    std::fprintf(err, "    %10s  %s%s%s\n", WithThousands(count).c_str(), reason.c_str(),
                 first == importer.first_skip().end() ? "" : " (first: ",
                 first == importer.first_skip().end() ? "" : (first->second + ")").c_str());
  }
  if (!run.ok()) {
    std::fprintf(err,
                 "profiled import: %s\nprofiled import: run the same command again to resume"
                 " (state in %s)\n",
                 run.message().c_str(), state_path.c_str());
  }

  std::string summary = "{\"complete\":";
  summary += run.ok() ? "true" : "false";
  summary += ",\"input\":";
  AppendJsonString(&summary, input);
  summary += ",\"files\":";
  AppendJsonUint(&summary, (*source)->Entries().size());
  summary += ",\"ignored_files\":";
  AppendJsonUint(&summary, (*source)->IgnoredEntries());
  summary += ",\"resumed_from\":";
  if (resumed) {
    summary += "{\"entry\":";
    AppendJsonUint(&summary, resumed_entry);
    summary += ",\"line\":";
    AppendJsonUint(&summary, resumed_line);
    summary += '}';
  } else {
    summary += "null";
  }
  summary += ",\"lines_read\":";
  AppendJsonUint(&summary, importer.lines_read());
  summary += ",\"events_accepted\":";
  AppendJsonUint(&summary, state.events_accepted);
  summary += ",\"events_accepted_this_run\":";
  AppendJsonUint(&summary, importer.accepted_this_run());
  summary += ",\"user_ids\":";
  AppendJsonUint(&summary, importer.user_ids());
  summary += ",\"device_ids\":";
  AppendJsonUint(&summary, importer.device_ids());
  summary += ",\"skipped_lines\":";
  AppendJsonUint(&summary, skipped_total);
  summary += ",\"skipped\":{";
  bool first = true;
  for (const auto& [reason, count] : state.skipped) {
    if (!first) summary += ',';
    first = false;
    AppendJsonString(&summary, reason);
    summary += ':';
    AppendJsonUint(&summary, count);
  }
  summary += "},\"seconds\":";
  AppendJsonDouble(&summary, static_cast<double>(static_cast<int64_t>(seconds * 1000)) / 1000);
  summary += ",\"events_per_second\":";
  AppendJsonUint(&summary, static_cast<uint64_t>(rate));
  summary += "}\n";
  std::fputs(summary.c_str(), out);
  std::fflush(out);
  return run.ok() ? 0 : kExitFailed;
}

}  // namespace profiled::cli
