// The input of `profiled import`: an Amplitude export archive or an NDJSON file through
// cli::OpenAmplitudeExport / OpenNdjson (libzip, then our gzip member handling and line
// splitting), each line through cli::MapExportLine / MapNdjsonLine, as the command reads a
// file an operator names. Checks that opening refuses with InvalidArgument, reading fails only
// with Corruption or IoError, lines come in order without newlines and within the line limit,
// and every mapped event is a JSON object the server can take: a non-empty event_type and
// insert_id, a user_id or device_id, and (export lines) an integer time.
// The input: a mode byte (0: zip archive, 1: NDJSON file, 2: one export line, 3: one NDJSON
// line; the value / 4 picks the user-properties mode), then the file or the line.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdint>
#include <fstream>
#include <string>

#include "cli/export_event.h"
#include "cli/import_source.h"
#include "core/value_text.h"
#include "fuzz_input.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue

void CheckEvent(const cli::LineVerdict& verdict, bool export_line) {
  if (!verdict.event) return;
  boost::system::error_code ec;
  boost::json::value v = ParseJson(verdict.event->json, kMaxJsonDepth, &ec);
  FUZZ_CHECK(!ec && v.is_object());
  const boost::json::object& o = v.get_object();
  const boost::json::value* type = o.if_contains("event_type");
  FUZZ_CHECK(type != nullptr && type->is_string() && !type->get_string().empty());
  const boost::json::value* insert_id = o.if_contains("insert_id");
  FUZZ_CHECK(insert_id != nullptr && insert_id->is_string() && !insert_id->get_string().empty());
  FUZZ_CHECK(!verdict.event->user_id.empty() || !verdict.event->device_id.empty());
  if (export_line) {
    const boost::json::value* time = o.if_contains("time");
    FUZZ_CHECK(time != nullptr && time->is_int64() && time->get_int64() >= 0);
  }
}

constexpr cli::UserPropertiesMode kModes[] = {cli::UserPropertiesMode::kReplace,
                                              cli::UserPropertiesMode::kSet,
                                              cli::UserPropertiesMode::kIgnore};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  const uint8_t mode_byte = input.Byte();
  const cli::UserPropertiesMode mode = kModes[(mode_byte / 4) % 3];
  const std::string_view rest = input.Rest();
  switch (mode_byte % 4) {
    case 2: CheckEvent(cli::MapExportLine(rest, "import:f:1", mode), true); return 0;
    case 3: CheckEvent(cli::MapNdjsonLine(rest, "import:f:1"), false); return 0;
    default: break;
  }
  static const std::string path = "/tmp/profiled-import-fuzz-" + std::to_string(::getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(rest.data(), static_cast<std::streamsize>(rest.size()));
  }
  const bool archive = mode_byte % 4 == 0;
  Result<std::unique_ptr<cli::LineSource>> source =
      archive ? cli::OpenAmplitudeExport(path) : cli::OpenNdjson(path);
  if (!source.ok()) {
    FUZZ_CHECK(source.status().code() == ErrorCode::kInvalidArgument);
    return 0;
  }
  cli::Line line;
  cli::LinePosition last;
  for (int n = 0; n < 10000; ++n) {
    Result<bool> got = (*source)->Next(&line);
    if (!got.ok()) {
      FUZZ_CHECK(got.status().code() == ErrorCode::kCorruption ||
                 got.status().code() == ErrorCode::kIoError);
      break;
    }
    if (!*got) break;
    FUZZ_CHECK(line.where.entry < (*source)->Entries().size());
    FUZZ_CHECK(line.where.entry > last.entry ||
               (line.where.entry == last.entry && line.where.line > last.line));
    last = line.where;
    FUZZ_CHECK(line.text.size() <= cli::kMaxLineBytes);
    FUZZ_CHECK(line.text.find('\n') == std::string::npos);
    FUZZ_CHECK(!line.too_long || line.text.empty());
    if (!line.too_long) {
      CheckEvent(archive ? cli::MapExportLine(line.text, "import:f:1", mode)
                         : cli::MapNdjsonLine(line.text, "import:f:1"),
                 archive);
    }
  }
  FUZZ_CHECK((*source)->BytesRead() <= (*source)->TotalBytes());
  return 0;
}
