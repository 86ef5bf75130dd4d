// A small synchronous HTTP/1.1 client for the commands that talk to a running server
// (`profiled import`, `profiled import-ratings`, `profiled train`): one request per
// connection, plain HTTP or HTTPS (OpenSSL, the certificate verified), no redirects, no
// retries.
//
// Free functions; thread-safe (each call has its own connection and I/O context).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace profiled::cli {

struct HttpAnswer {
  int status = 0;  // the HTTP status, whatever it is (a 4xx or 5xx is an answer, not a failure)
  std::string content_type;
  std::string retry_after;  // the Retry-After header, when the answer has one
  std::string body;
};

// Where a client connects to reach a server configured with `server`: its host, except that
// a wildcard address (0.0.0.0, ::, or empty) becomes the loopback address of its family.
ServerConfig ClientAddressOf(const ServerConfig& server);

// HTTPS for a request: off by default. When on, the server's certificate must chain to
// `ca_file` (PEM; empty: the system's trusted CAs) and name the host (a name, or an IP
// address among its IP SANs).
struct HttpsOptions {
  bool enabled = false;
  std::string ca_file;
};

// What a command that talks to a running server takes from its --config, --project,
// --server and --ca-file flags: the config, the project, where to connect (--server
// HOST:PORT, else the config's listen address as ClientAddressOf gives it) and how: HTTPS
// when the config's server has TLS on (a non-empty server.tls_cert), its certificate
// verified against --ca-file (empty: the system's trusted CAs).
struct ServerTarget {
  Config config;
  ProjectConfig project;
  ServerConfig server;
  HttpsOptions https;
};
// InvalidArgument, saying which flag is wrong, when the config does not load, names no such
// project, --server does not parse, the address has port 0 (a config listening on any free
// port needs --server), --ca-file is given while the config has no TLS, or --ca-file cannot
// be read.
Result<ServerTarget> ResolveServerTarget(const std::string& config_path, const std::string& project,
                                         const std::string& server_flag,
                                         const std::string& ca_file);

// Sends `method target` to host:port with `headers` (name, value) and `body` (Content-Length
// is set; a Content-Type among `headers` is sent as given) and reads the whole answer.
// Unavailable, naming host:port, when the host does not resolve, the connection fails, the
// answer is not HTTP, or nothing completes within `timeout` (the whole exchange);
// Unauthenticated when the TLS handshake fails (a certificate not trusted or not naming the
// host, a server that does not speak TLS), which no retry mends.
Result<HttpAnswer> HttpRequest(const std::string& host, uint16_t port, std::string_view method,
                               std::string_view target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::string_view body,
                               std::chrono::milliseconds timeout = std::chrono::seconds(120),
                               const HttpsOptions& https = {});

}  // namespace profiled::cli
