// Raw HTTP requests as the server reads them off a connection (server/http_server.cc): the
// header through Beast's parser under the server's header limit, the route and its body limit
// (server/routes.h), the body (Content-Length or chunked) under that limit, its
// Content-Encoding (server/gzip.h), then the pure parsing the route's endpoint does before it
// needs the store or the writer (api/: the credentials, the ingestion body, the /identify
// form, the v1 upload form, the remote configuration's key, the Profile API query, the admin API's
// definition bodies, static cohort uploads). The answers the server writes itself (413, 415, 400,
// the CORS preflight, which echoes request headers) must be one well-formed HTTP response each,
// whatever the request held: no header of the request may split the answer. What an endpoint
// decides is the other targets' to check. The input is the bytes a client sent on one connection:
// requests one after another, as a keep-alive connection carries them (the first 8). GCC 12 with
// the sanitizers takes Beast's optional content length for uninitialized where the parser is
// inlined here (a false positive; the server's own use is not inlined alike).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api/auth.h"
#include "api/definition_wire.h"
#include "api/form.h"
#include "api/ingest_wire.h"
#include "api/profile_wire.h"
#include "api/static_cohort_wire.h"
#include "fuzz_input.h"
#include "server/gzip.h"
#include "server/response_writer.h"
#include "server/routes.h"

namespace {

using namespace profiled;  // NOLINT(google-build-using-namespace): a fuzz target's glue
namespace http = boost::beast::http;
namespace asio = boost::asio;

constexpr int64_t kNow = 1767225600000;  // 2026-01-01

// Feeds `bytes` to `parser` as a connection that then closes would, up to the end of the
// header (header_only, as http::async_read_header) or of the message (http::async_read):
// returns the error Beast reports, need_more turning into the end of the stream, and removes
// what was used from *bytes.
template <typename Parser>
boost::system::error_code Feed(Parser& parser, bool header_only, std::string_view* bytes) {
  boost::system::error_code ec;
  while (!(header_only ? parser.is_header_done() : parser.is_done())) {
    // Nothing more will arrive (Beast's put makes no progress on no bytes, and reports no
    // error either), or the parser needs more than there is.
    if (bytes->empty()) {
      parser.put_eof(ec);
      return ec;
    }
    size_t used = parser.put(asio::buffer(bytes->data(), bytes->size()), ec);
    bytes->remove_prefix(used);
    if (ec == http::error::need_more) {
      ec = {};
      if (used > 0) continue;
      parser.put_eof(ec);
      return ec;
    }
    if (ec) return ec;
  }
  return ec;
}

// The answer written must be exactly one complete response.
void CheckOneResponse(const std::string& wire) {
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code ec;
  size_t used = parser.put(asio::buffer(wire), ec);
  FUZZ_CHECK(!ec && parser.is_done() && used == wire.size());
}

void Answer(int status, std::string_view origin) {
  std::string out;
  server::WriteResponse({status, "application/json", R"({"code":400})"}, true,
                        origin.empty() ? std::string_view() : std::string_view("*"), &out);
  CheckOneResponse(out);
}

// The credentials of each scheme the endpoints take (api/auth.h): what CredentialsOf returns
// is part of the header, without surrounding spaces; Basic credentials are base64.
void ParseCredentials(std::string_view authorization) {
  for (std::string_view scheme : {"api-key", "bearer", "basic"}) {
    std::string_view credentials = api::CredentialsOf(authorization, scheme);
    if (credentials.empty()) continue;
    FUZZ_CHECK(credentials.data() >= authorization.data() &&
               credentials.data() + credentials.size() <=
                   authorization.data() + authorization.size());
    FUZZ_CHECK(credentials.front() != ' ' && credentials.back() != ' ');
    std::string decoded;
    if (scheme == "basic") (void)api::DecodeBase64(credentials, &decoded);
  }
}

// What the route's endpoint parses before it reaches the store or the writer.
void ParseForRoute(server::Route route, std::string_view method, std::string_view path,
                   std::string_view query, std::string_view content_type, std::string_view body) {
  switch (route) {
    case server::Route::kHttpApi:
    case server::Route::kBatch: {
      api::ParsedBatch batch;
      api::IngestRejection rejection;
      (void)api::ParseEventBatch(body, kNow, &batch, &rejection);
      break;
    }
    case server::Route::kIdentify: {
      std::map<std::string, std::string> fields;
      std::string error =
          method == "GET" ? api::ParseFormBody("application/x-www-form-urlencoded", query, &fields)
                          : api::ParseFormBody(content_type, body, &fields);
      auto identification = fields.find("identification");
      if (error.empty() && identification != fields.end()) {
        std::vector<ingest::Event> events;
        api::IngestRejection rejection;
        (void)api::ParseIdentification(identification->second, kNow, &events, &rejection);
      }
      break;
    }
    case server::Route::kLegacyUpload: {
      std::map<std::string, std::string> fields;
      api::LegacyForm form;
      api::IngestRejection rejection;
      if (api::ParseFormBody(content_type, body, &fields).empty() &&
          api::ParseLegacyUpload(fields, &form, &rejection)) {
        (void)api::LegacyChecksumMatches(form);
        std::vector<ingest::Event> events;
        (void)api::ParseLegacyEvents(form.events, kNow, &events, &rejection);
      }
      break;
    }
    case server::Route::kRemoteConfig: {
      std::vector<std::string_view> s = api::PathSegments(path);
      std::string key;
      if (s.size() == 2) (void)api::DecodePathSegment(s[1], &key);
      break;
    }
    case server::Route::kProfile: {
      api::ProfileQuery q;
      (void)api::ParseProfileQuery(query, &q);
      break;
    }
    case server::Route::kAdmin: {
      std::vector<std::string_view> s = api::PathSegments(path);
      if (s.size() != 6 || method != "PUT") break;
      std::string id(s[5]);
      if (s[4] == "computations") {
        compute::Computation c;
        (void)api::ParseComputation(body, id, &c);
      } else if (s[4] == "cohorts") {
        compute::Cohort c;
        (void)api::ParseCohort(body, id, &c);
      } else if (s[4] == "recommendations") {
        compute::Recommendation r;
        std::string source;
        (void)api::ParseRecommendation(body, id, &r, &source);
      }
      break;
    }
    case server::Route::kCohorts: {
      std::vector<std::string_view> s = api::PathSegments(path);
      if (s.size() != 4 || method != "POST") break;
      ingest::StaticCohortChange change;
      (void)api::ParseStaticCohortChange(s[3] == "upload" ? api::StaticCohortRequest::kUpload
                                                          : api::StaticCohortRequest::kMembership,
                                         body, &change);
      break;
    }
    default: break;
  }
}

// One request off the connection, as HttpServer's ServeOne reads it: returns whether the
// server would read another one after it (keep-alive).
bool ServeOne(std::string_view* bytes) {
  http::request_parser<http::empty_body> header_parser;
  header_parser.header_limit(server::kHeaderLimit);
  header_parser.body_limit(boost::none);
  boost::system::error_code ec = Feed(header_parser, true, bytes);
  if (ec) return false;  // the server answers 414, 431 or 400 with fixed texts, or nothing
  FUZZ_CHECK(header_parser.is_header_done());

  http::request_parser<http::string_body> parser(std::move(header_parser));
  const auto& header = parser.get();
  server::RequestTarget target = server::SplitTarget(header.target());
  std::string_view method = header.method_string();
  server::Route route = server::MatchRoute(method, target.path);
  std::string_view origin = header[http::field::origin];
  size_t limit = server::BodyLimit(route);
  parser.body_limit(limit);
  if (parser.content_length() && *parser.content_length() > limit) {
    Answer(413, origin);
    return false;
  }
  ec = Feed(parser, false, bytes);
  if (ec) {
    Answer(ec == http::error::body_limit ? 413 : 400, origin);
    return false;
  }
  const auto& request = parser.get();
  FUZZ_CHECK(request.body().size() <= limit);
  bool keep_alive = request.keep_alive();

  if (route == server::Route::kPreflight) {
    std::string out;
    server::WritePreflight(origin, request[http::field::access_control_request_headers], keep_alive,
                           "*", &out);
    CheckOneResponse(out);
    return keep_alive;
  }
  std::string decoded;
  std::string_view body;
  switch (server::DecodeContentEncoding(request[http::field::content_encoding], request.body(),
                                        limit, &decoded, &body)) {
    case server::BodyDecoding::kOk: break;
    case server::BodyDecoding::kUnsupportedEncoding: Answer(415, origin); return keep_alive;
    case server::BodyDecoding::kTooLarge: Answer(413, origin); return false;
    case server::BodyDecoding::kInvalid: Answer(400, origin); return keep_alive;
  }
  FUZZ_CHECK(body.size() <= limit);
  ParseCredentials(request[http::field::authorization]);
  ParseForRoute(route, method, target.path, target.query, request[http::field::content_type], body);
  return keep_alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput input(data, size);
  std::string_view bytes = input.Rest();
  // Requests pipelined on one keep-alive connection, each starting where the last one ended.
  for (int i = 0; i < 8 && !bytes.empty(); ++i) {
    if (!ServeOne(&bytes)) break;
  }
  return 0;
}
