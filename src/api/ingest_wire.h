// The ingestion wire formats (docs/API.md, "Ingestion"): parsing request bodies into
// domain events, and writing Amplitude's response bodies.
//
// Pure functions: no sockets, no store. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/event.h"
#include "ingest/ingestor.h"
#include "ingest/validation.h"

namespace profiled::api {

// Why a request is refused, with everything its Amplitude-shaped body needs.
struct IngestRejection {
  int http_status = 400;
  std::string error;           // Amplitude's "error" text
  std::string missing_field;   // top-level field, e.g. "api_key"; empty if none
  ingest::BatchErrors events;  // per-event problems
  size_t event_count = 0;      // events in the refused request, when known
};

struct ParsedBatch {
  std::string api_key;
  std::vector<ingest::Event> events;
};

// Parses a /2/httpapi or /batch body. On success fills *out (ids cleaned, events in
// order, `time` defaulted to now_ms) and returns true; otherwise fills *rejection. The
// API key is returned unchecked: the caller knows the projects.
bool ParseEventBatch(std::string_view body, int64_t now_ms, ParsedBatch* out,
                     IngestRejection* rejection);

// Parses the `identification` value of /identify (a JSON object or an array of them)
// into $identify events that are neither logged nor counted as activity.
bool ParseIdentification(std::string_view identification, int64_t now_ms,
                         std::vector<ingest::Event>* out, IngestRejection* rejection);

// Amplitude's Group Identify API (POST /groupidentify) takes at most this many
// identifications per request.
inline constexpr size_t kMaxGroupIdentifications = 1024;

// Parses the `identification` value of /groupidentify (an object or an array of at most
// kMaxGroupIdentifications objects {group_type, group_value, group_properties}) into events
// of origin kGroupIdentifyApi, one per object, each naming its one group in `groups` and its
// operations in `group_ops`. False with *rejection (400 naming the field and index; 413 past
// the count) on anything malformed; then *out is empty.
bool ParseGroupIdentification(std::string_view identification, int64_t now_ms,
                              std::vector<ingest::Event>* out, IngestRejection* rejection);

// The legacy v1 upload (POST /, amplitude-js; docs/API.md "Legacy v1 upload"): the form
// fields it sends, decoded.
struct LegacyForm {
  std::string client;       // the project's api_key
  std::string events;       // `e`: a JSON array of v1 events
  std::string version;      // `v` (amplitude-js sends 2)
  std::string upload_time;  // epoch ms, as sent
  std::string checksum;     // `checksum`: hex MD5 of v + client + e + upload_time
};

// Takes the v1 fields out of a decoded form. False, with *rejection (400, missing_field
// naming the first absent or empty field), unless all five are there.
bool ParseLegacyUpload(const std::map<std::string, std::string>& fields, LegacyForm* out,
                       IngestRejection* rejection);

// Whether upload.checksum (hex, either case) is the MD5 of v + client + e + upload_time, the
// strings as sent, as amplitude-js computes it.
bool LegacyChecksumMatches(const LegacyForm& upload);

// Parses `e`, a JSON array of v1 events, as ParseEventBatch parses `events`, after naming
// the v1 fields the HTTP V2 way: `timestamp` is `time`, `uuid` is `insert_id`, and the old
// logRevenue's api_properties {special:"revenue_amount", price, quantity, productId,
// revenueType} lift to the top level. min_id_length is the default (5).
bool ParseLegacyEvents(std::string_view events, int64_t now_ms, std::vector<ingest::Event>* out,
                       IngestRejection* rejection);

// Response bodies. Every JSON answer carries "code", which the SDKs read instead of the
// HTTP status.
std::string SuccessBody(size_t events_ingested, size_t payload_size_bytes,
                        int64_t server_upload_ms);
std::string RejectionBody(const IngestRejection& rejection);
// Amplitude's 429 body: "Too many requests for some devices and users" naming the ids and
// their rates, or, for a project over its own rate (report.project), "Too many requests for
// this project" listing every event (docs/API.md, "Limits").
std::string ThrottledBody(const ingest::ThrottleReport& report);
std::string ErrorBody(int code, std::string_view error);

}  // namespace profiled::api
