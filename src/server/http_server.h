// HttpServer: HTTP/1.1 with keep-alive on Boost.Beast, serving the api::Endpoints.
//
// One io_context per thread; the acceptor hands connections out round-robin, and each
// connection lives on one thread for its whole life, so a connection's state needs no
// locks. Limits: request headers <= 16 KiB (431, or 414 for an overlong request line);
// bodies <= 1 MiB on /2/httpapi and /identify, <= 20 MiB on /batch (413), counted after
// gzip decoding too; an idle keep-alive connection is closed after idle_timeout_ms, a
// request that takes longer than read_timeout_ms from its first byte to arrive is dropped;
// beyond max_connections, a new connection gets 503 and is closed; a request whose body would
// take the bodies held at once past max_body_memory_mb gets 503 (BodyBudget). With a
// TlsContext every connection speaks TLS (HTTPS); without one, plain HTTP.
//
// Start/Stop are called from one controlling thread; SetLimits from any.
#pragma once

#include <cstdint>
#include <memory>

#include "api/endpoints.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "server/tls.h"

namespace profiled::server {

class HttpServer {
 public:
  // Borrows endpoints and metrics; both must outlive the server. `tls` null: plain HTTP.
  HttpServer(const ServerConfig& config, api::Endpoints& endpoints, Metrics& metrics,
             std::shared_ptr<TlsContext> tls = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. Errors: the address cannot be bound.
  Status Start();

  // The bound port (useful with port 0).
  uint16_t port() const;

  // Graceful stop: no new connections, idle connections closed, requests in flight
  // answered (waiting up to grace_ms for them), then the threads are joined.
  void Stop(int grace_ms = 10000);

  // A configuration reload: takes max_connections (for the next connection accepted),
  // idle_timeout_ms and read_timeout_ms (for the next wait of each connection) of `config`;
  // the rest stays as it started. Open connections are not touched. Any thread.
  void SetLimits(const ServerConfig& config);

  // A configuration reload's certificate: connections accepted from now on use `tls`; open
  // ones keep theirs. REQUIRES: the server was started with TLS and `tls` is not null. Any
  // thread.
  void SetTls(std::shared_ptr<TlsContext> tls);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace profiled::server
