#include "server/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/log.h"
#include "server/body_budget.h"
#include "server/console_assets.h"
#include "server/gzip.h"
#include "server/response_writer.h"
#include "server/routes.h"

namespace profiled::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {
// kHeaderLimit: routes.h.
// What a connection's read buffer may hold: a header (up to kHeaderLimit) and one read
// after it. Body bytes pass through it into the body, so only a chunk line or a trailer that
// never ends could fill it (Beast limits neither); such a request gets a 400.
constexpr size_t kReadBufferLimit = kHeaderLimit + size_t{64} * 1024;
// What a connection keeps of its buffers between requests; a larger one (after a big gzip
// body or response) is freed, so idle keep-alive connections hold little memory.
constexpr size_t kKeptBufferBytes = size_t{64} * 1024;
constexpr auto kAsTuple = asio::as_tuple(use_awaitable);
// How long a connection past max_connections may take to get its 503 (and its TLS handshake).
constexpr std::chrono::milliseconds kRefuseTimeout{1000};

constexpr std::string_view kChunkedLast =
    R"({"code":400,"error":"Transfer-Encoding must end with chunked"})";
constexpr std::string_view kOnlyChunked =
    R"({"code":501,"error":"Transfer-Encoding: only chunked is supported"})";
constexpr std::string_view kTooManyBodies =
    R"({"code":503,"error":"too many request bodies at once; retry later"})";
constexpr std::string_view kChunkLineTooLong =
    R"({"code":400,"error":"malformed HTTP request body: a chunk line or trailer is too long"})";

void TrimBuffer(std::string* s) {
  if (s->capacity() > kKeptBufferBytes) std::string().swap(*s);
}
}  // namespace

class HttpServer::Impl {
 public:
  Impl(const ServerConfig& config, api::Endpoints& endpoints, Metrics& metrics,
       std::shared_ptr<TlsContext> tls)
      : config_(config),
        tls_(std::move(tls)),
        endpoints_(endpoints),
        metrics_(metrics),
        max_connections_(config.max_connections),
        idle_timeout_ms_(config.idle_timeout_ms),
        read_timeout_ms_(config.read_timeout_ms),
        body_budget_(static_cast<size_t>(config.max_body_memory_mb) << 20) {
    int threads = config.threads > 0
                      ? config.threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < threads; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*contexts_.back()));
      sessions_.emplace_back();
      // Profile reads on a store across a network: made on this thread's own loop.
      if (endpoints_.ProfileOffThread()) {
        reads_.push_back(endpoints_.NewAsyncReads(*contexts_.back()));
      }
    }
    for (int r = 0; r < static_cast<int>(Route::kCount); ++r) {
      route_metric_[r] = metrics_.RegisterRoute(RouteName(static_cast<Route>(r)));
    }
    profile_recs_metric_ = metrics_.RegisterRoute("/v1/userprofile?get_recs");
  }

  Status Start() {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(config_.host, ec);
    if (ec)
      return Status::InvalidArgument("config: server.listen: bad host \"" + config_.host + "\"");
    acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
    tcp::endpoint endpoint(address, config_.port);
    if (acceptor_->open(endpoint.protocol(), ec); ec) return BindError(ec);
    acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor_->bind(endpoint, ec); ec) return BindError(ec);
    if (acceptor_->listen(asio::socket_base::max_listen_connections, ec); ec) return BindError(ec);
    port_ = acceptor_->local_endpoint().port();
    asio::co_spawn(*contexts_[0], Accept(), asio::detached);
    for (size_t i = 0; i < contexts_.size(); ++i) {
      asio::co_spawn(*contexts_[i], SweepTimeouts(i), asio::detached);
    }
    for (auto& ctx : contexts_) {
      threads_.emplace_back([c = ctx.get()] { c->run(); });
    }
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  void SetTls(std::shared_ptr<TlsContext> tls) {
    std::lock_guard<std::mutex> lock(tls_mu_);
    tls_ = std::move(tls);
  }

  // The limits a configuration reload may change (HttpServer::SetLimits).
  void SetLimits(const ServerConfig& config) {
    max_connections_.store(config.max_connections, std::memory_order_relaxed);
    idle_timeout_ms_.store(config.idle_timeout_ms, std::memory_order_relaxed);
    read_timeout_ms_.store(config.read_timeout_ms, std::memory_order_relaxed);
  }

  void Stop(int grace_ms) {
    if (stopping_.exchange(true)) return;
    asio::post(*contexts_[0], [this] {
      boost::system::error_code ignored;
      if (acceptor_) acceptor_->close(ignored);
    });
    for (size_t i = 0; i < contexts_.size(); ++i) {
      asio::post(*contexts_[i], [this, i] {
        for (Session* s : sessions_[i]) {
          if (s->idle) s->Socket().cancel();
        }
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      drained_.wait_for(lock, std::chrono::milliseconds(grace_ms),
                        [&] { return open_connections_.load() == 0; });
    }
    guards_.clear();
    for (auto& ctx : contexts_) ctx->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    reads_.clear();  // their connections close before the store does
  }

 private:
  // A connection: its TCP socket, or TLS over it. It is the byte stream Asio and Beast read
  // requests from and write answers to (an AsyncReadStream and AsyncWriteStream).
  struct Session {
    Session(tcp::socket s, size_t context, std::shared_ptr<TlsContext> tls_context)
        : context_index(context), tls_context_(std::move(tls_context)) {
      if (tls_context_) {
        tls.emplace(std::move(s), *tls_context_);
      } else {
        plain.emplace(std::move(s));
      }
    }
    tcp::socket& Socket() { return tls ? tls->next_layer() : *plain; }
    // Moves the deadline; the per-thread sweep cancels the socket's operations after it.
    void ExpiresAfter(std::chrono::milliseconds timeout) {
      deadline = std::chrono::steady_clock::now() + timeout;
    }

    using executor_type = tcp::socket::executor_type;
    executor_type get_executor() { return Socket().get_executor(); }
    template <class Buffers, class Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
      if (tls) return tls->async_read_some(buffers, std::forward<Token>(token));
      return plain->async_read_some(buffers, std::forward<Token>(token));
    }
    template <class Buffers, class Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
      if (tls) return tls->async_write_some(buffers, std::forward<Token>(token));
      return plain->async_write_some(buffers, std::forward<Token>(token));
    }

    const size_t context_index;  // the io_context (and thread) it lives on
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    bool idle = true;                  // waiting for the first byte of a request
    bool unread_body = false;          // answered before the client finished sending (drained)
    std::function<void()> after_send;  // the answer's HttpResponse::after_send
   private:
    // The certificate it was accepted with; declared before `tls`, which uses it, so it is
    // destroyed after it.
    std::shared_ptr<TlsContext> tls_context_;

   public:
    std::optional<tcp::socket> plain;  // exactly one of plain and tls is set
    std::optional<ssl::stream<tcp::socket>> tls;
  };

  Status BindError(const boost::system::error_code& ec) {
    return Status::InvalidArgument("cannot listen on " + config_.host + ":" +
                                   std::to_string(config_.port) + ": " + ec.message());
  }

  awaitable<void> Accept() {
    size_t next = 0;
    while (!stopping_) {
      asio::io_context& ctx = *contexts_[next++ % contexts_.size()];
      auto [ec, socket] = co_await acceptor_->async_accept(ctx, kAsTuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) co_return;
        // Out of file descriptors and similar: back off instead of spinning.
        LogWarn("accept failed: " + ec.message());
        asio::steady_timer t(*contexts_[0], std::chrono::milliseconds(50));
        co_await t.async_wait(kAsTuple);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      bool refuse =
          open_connections_.fetch_add(1) >= max_connections_.load(std::memory_order_relaxed);
      if (!refuse) metrics_.SetConnections(open_connections_.load());
      size_t index = (next - 1) % contexts_.size();
      asio::co_spawn(ctx, Serve(std::move(socket), index, refuse), asio::detached);
    }
  }

  void ConnectionClosed() {
    int64_t left = open_connections_.fetch_sub(1) - 1;
    metrics_.SetConnections(left);
    if (left == 0 && stopping_) {
      std::lock_guard<std::mutex> lock(mu_);
      drained_.notify_all();
    }
  }

  // Timeouts without a timer per operation: each session keeps a deadline, and this
  // per-thread sweep cancels the operations of sessions past theirs (4 times a second).
  awaitable<void> SweepTimeouts(size_t context_index) {
    asio::steady_timer timer(*contexts_[context_index]);
    for (;;) {
      timer.expires_after(std::chrono::milliseconds(250));
      auto [ec] = co_await timer.async_wait(kAsTuple);
      if (ec) co_return;
      auto now = std::chrono::steady_clock::now();
      for (Session* s : sessions_[context_index]) {
        if (s->deadline < now) {
          // Cancelled, and shut down both ways: an operation that was between two of its
          // steps (a TLS handshake, a header read) when the deadline passed fails at its next
          // step instead of waiting with no deadline left.
          boost::system::error_code ignored;
          s->Socket().cancel(ignored);
          s->Socket().shutdown(tcp::socket::shutdown_both, ignored);
          s->deadline = std::chrono::steady_clock::time_point::max();
        }
      }
    }
  }

  std::shared_ptr<TlsContext> CurrentTls() {
    std::lock_guard<std::mutex> lock(tls_mu_);
    return tls_;
  }

  // Serves a connection until it closes; one past max_connections (`refuse`) gets a 503 and
  // is closed. Over TLS, the handshake must end within read_timeout_ms.
  awaitable<void> Serve(tcp::socket socket, size_t context_index, bool refuse) {
    Session session(std::move(socket), context_index, CurrentTls());
    sessions_[context_index].insert(&session);
    beast::flat_buffer buffer(kReadBufferLimit);
    std::string out;
    std::string decoded;
    bool tls_up = false;  // the handshake succeeded
    // The session must leave sessions_ whatever happens (the sweep reads it), so nothing
    // may escape this loop; std::bad_alloc on a huge body is the one plausible throw.
    try {
      bool open = true;
      if (session.tls) {
        // A connection past max_connections gets its 503 within a second or is closed, so a
        // flood of connections that never finish a handshake holds nothing for long.
        session.ExpiresAfter(refuse ? std::min(ReadTimeout(), kRefuseTimeout) : ReadTimeout());
        auto [ec] = co_await session.tls->async_handshake(ssl::stream_base::server, kAsTuple);
        open = !ec;
        tls_up = open;
      }
      if (open && refuse) {
        WriteResponse({503, "application/json", R"({"code":503,"error":"too many connections"})"},
                      false, {}, &out);
        session.ExpiresAfter(std::min(ReadTimeout(), kRefuseTimeout));
        co_await asio::async_write(session, asio::buffer(out), kAsTuple);
        open = false;
      }
      while (open && !stopping_) {
        out.clear();
        bool keep_alive = co_await ServeOne(session, buffer, out, decoded);
        bool write_failed = false;
        if (!out.empty()) {
          session.ExpiresAfter(ReadTimeout());
          auto [ec, n] = co_await asio::async_write(session, asio::buffer(out), kAsTuple);
          write_failed = static_cast<bool>(ec);
        }
        if (session.after_send) {
          std::function<void()> after_send = std::move(session.after_send);
          session.after_send = nullptr;
          after_send();
        }
        if (write_failed || !keep_alive) break;
        TrimBuffer(&out);
        TrimBuffer(&decoded);
      }
    } catch (const std::exception& e) {
      LogError(std::string("connection dropped: ") + e.what());
    }
    boost::system::error_code ignored;
    if (tls_up && !session.unread_body) {
      // TLS's close_notify, so the client knows the answer is whole; the client's own
      // close_notify is waited for at most a second.
      session.ExpiresAfter(std::chrono::seconds(1));
      co_await session.tls->async_shutdown(kAsTuple);
    }
    session.Socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (session.unread_body) co_await Drain(session);
    session.Socket().close(ignored);
    sessions_[context_index].erase(&session);
    ConnectionClosed();
  }

  // A client still uploading a body we refused would get a reset, which can destroy the
  // answer before it reads it; so read and discard for a little while (bounded in time
  // and bytes) before closing.
  awaitable<void> Drain(Session& session) {
    static constexpr size_t kMaxDrain = 64u << 20;
    session.ExpiresAfter(std::chrono::seconds(2));
    std::vector<char> sink(size_t{64} * 1024);
    size_t drained = 0;
    while (drained < kMaxDrain) {
      auto [ec, n] = co_await session.async_read_some(asio::buffer(sink), kAsTuple);
      if (ec) break;
      drained += n;
    }
  }

  // Reads and answers one request into `out`. Returns whether to keep the connection.
  awaitable<bool> ServeOne(Session& session, beast::flat_buffer& buffer, std::string& out,
                           std::string& decoded) {
    http::request_parser<http::empty_body> header_parser;
    header_parser.header_limit(kHeaderLimit);
    // Beast would hold Content-Length to its default 1 MiB here; the route's own limit is
    // applied below, once the path is known.
    header_parser.body_limit(boost::none);
    // Idle (Stop cancels it) until a whole header has arrived.
    session.idle = buffer.size() == 0;
    if (session.idle) {
      // Wait up to idle_timeout_ms for the first bytes of the next request. A timeout or a
      // client that closes here gets no answer.
      session.ExpiresAfter(IdleTimeout());
      auto [ec, n] = co_await session.async_read_some(
          buffer.prepare(kReadBufferLimit - kHeaderLimit), kAsTuple);
      if (ec) co_return false;
      buffer.commit(n);
    }
    // From the first byte of a request to its last: read_timeout_ms, however slowly the bytes
    // come (a slowloris client sending a byte at a time keeps no connection longer).
    session.ExpiresAfter(ReadTimeout());
    auto [hec, hn] = co_await http::async_read_header(session, buffer, header_parser, kAsTuple);
    session.idle = false;
    // Beast lets a header past header_limit through when it arrives split near the limit (a
    // write, or a TLS record, ending close to 16 KiB: hostile.test.js); `hn`, the bytes its
    // parser consumed, is the whole header, so the limit is checked on it too.
    if (hec || hn > kHeaderLimit) {
      if (hec == http::error::header_limit || (!hec && hn > kHeaderLimit)) {
        // No line end within the limit means the request line itself is too long. Beast may
        // have consumed the request line already (then it has the target), or nothing.
        auto data = buffer.cdata();
        std::string_view seen(static_cast<const char*>(data.data()),
                              std::min(data.size(), kHeaderLimit));
        bool line_too_long =
            header_parser.get().target().empty() && seen.find("\r\n") == std::string_view::npos;
        WriteResponse(line_too_long ? api::HttpResponse{414, "text/plain; charset=utf-8",
                                                        "request line exceeds 16 KiB"}
                                    : api::HttpResponse{431, "text/plain; charset=utf-8",
                                                        "request headers exceed 16 KiB"},
                      false, {}, &out);
        // The client may still be sending the rest of its header (a 1 MiB request line):
        // closing on unread bytes would reset the connection and could destroy the answer.
        session.unread_body = true;
      } else if (hec != http::error::end_of_stream && hec != asio::error::operation_aborted &&
                 hec != asio::error::connection_reset && hec != asio::error::eof &&
                 buffer.size() > 0) {
        WriteResponse(
            {400, "text/plain; charset=utf-8", "malformed HTTP request: " + hec.message()}, false,
            {}, &out);
        session.unread_body = true;
      }
      co_return false;
    }
    auto start = std::chrono::steady_clock::now();
    http::request_parser<http::string_body> parser(std::move(header_parser));
    const auto& header = parser.get();
    const RequestTarget target = SplitTarget(header.target());
    std::string_view path = target.path;
    std::string_view query = target.query;
    std::string_view method = header.method_string();
    Route route = MatchRoute(method, path);
    std::string_view origin = header[http::field::origin];
    size_t limit = BodyLimit(route);
    parser.body_limit(limit);
    // A request whose framing is not chunked last has a body of unknown length (RFC 9112
    // 6.3): answered 400 and closed, so no part of it can be read as the next request.
    // Other codings before chunked (gzip, ...) are not implemented: 501.
    if (std::string_view te = header[http::field::transfer_encoding];
        !te.empty() && !beast::iequals(te, "chunked")) {
      bool chunked = parser.chunked();
      Finish(route,
             {chunked ? 501 : 400, "application/json",
              std::string(chunked ? kOnlyChunked : kChunkedLast)},
             false, origin, start, &out);
      session.unread_body = true;
      co_return false;
    }
    // A declared length is checked here (Beast checks it only while parsing the header);
    // chunked bodies are held to the limit as they arrive.
    if (parser.content_length() && *parser.content_length() > limit) {
      Finish(route, {413, "application/json", R"({"code":413,"error":"Payload too large"})"}, false,
             origin, start, &out);
      session.unread_body = true;
      co_return false;
    }
    // What this request's body takes of the server's body budget, given back once answered.
    BodyBudget::Share body_share(body_budget_);
    if (!parser.is_done()) {
      // Taken before a byte is read: the declared length, or the route's limit when chunked.
      if (!body_share.TryTake(parser.content_length().value_or(limit))) {
        FinishBusy(route, origin, start, &out);
        session.unread_body = true;
        co_return false;
      }
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await asio::async_write(session, asio::buffer(kContinue), kAsTuple);
        // The client waited for this answer before sending the body: its time starts now.
        session.ExpiresAfter(ReadTimeout());
      }
      auto [bec, bn] = co_await http::async_read(session, buffer, parser, kAsTuple);
      if (bec == http::error::body_limit) {
        Finish(route, {413, "application/json", R"({"code":413,"error":"Payload too large"})"},
               false, origin, start, &out);
        session.unread_body = true;
        co_return false;
      }
      if (bec == http::error::buffer_overflow) {
        Finish(route, {400, "application/json", std::string(kChunkLineTooLong)}, false, origin,
               start, &out);
        session.unread_body = true;
        co_return false;
      }
      if (bec) {
        // A body that does not parse (bad chunk framing, ...) gets an answer; a timeout or a
        // client that went away does not.
        if (bec != asio::error::operation_aborted && bec != asio::error::eof &&
            bec != http::error::end_of_stream && bec != asio::error::connection_reset &&
            bec != http::error::partial_message) {
          Finish(route,
                 {400, "application/json", R"({"code":400,"error":"malformed HTTP request body"})"},
                 false, origin, start, &out);
        }
        co_return false;
      }
    }
    auto& request = parser.get();
    bool keep_alive = request.keep_alive() && !stopping_;

    api::HttpRequest req;
    req.method = method;
    req.path = path;
    req.query = query;
    req.authorization = request[http::field::authorization];
    req.content_type = request[http::field::content_type];
    req.body = request.body();
    req.wire_body_size = request.body().size();
    switch (DecodeContentEncoding(request[http::field::content_encoding], request.body(), limit,
                                  &decoded, &req.body)) {
      case BodyDecoding::kOk: break;
      case BodyDecoding::kUnsupportedEncoding:
        Finish(route,
               {415, "application/json",
                R"({"code":415,"error":"Unsupported Content-Encoding: only gzip is accepted"})"},
               keep_alive, origin, start, &out);
        co_return keep_alive;
      case BodyDecoding::kTooLarge:
        Finish(route, {413, "application/json", R"({"code":413,"error":"Payload too large"})"},
               false, origin, start, &out);
        co_return false;
      case BodyDecoding::kInvalid:
        Finish(route,
               {400, "application/json", R"({"code":400,"error":"Invalid gzip request body"})"},
               keep_alive, origin, start, &out);
        co_return keep_alive;
    }
    // A decoded body is held beside the wire bytes until answered: its size counts too.
    if (req.body.data() == decoded.data() && !body_share.TryTake(decoded.size())) {
      FinishBusy(route, origin, start, &out);
      co_return false;
    }

    api::HttpResponse response;
    switch (route) {
      case Route::kHttpApi:
      case Route::kBatch:
      case Route::kIdentify:
      case Route::kGroupIdentify:
      case Route::kLegacyUpload:
      case Route::kAdmin:
      case Route::kCohorts:
      case Route::kDeletions: response = co_await Ingest(session, route, req); break;
      case Route::kProfile:
        // Not a conditional expression: GCC 12 mishandles a co_await inside one.
        if (endpoints_.ProfileOffThread()) {
          response = co_await Ingest(session, route, req);
        } else {
          response = endpoints_.Profile(req);
        }
        break;
      case Route::kHealth: response = endpoints_.Health(); break;
      case Route::kMetrics: response = endpoints_.MetricsText(); break;
      case Route::kRemoteConfig: response = endpoints_.RemoteConfig(req); break;
      case Route::kOpenApi: response = api::Endpoints::OpenApi(); break;
      case Route::kConsole: response = ConsoleAsset(path); break;
      case Route::kPreflight:
        WritePreflight(origin, request[http::field::access_control_request_headers], keep_alive,
                       config_.cors_allow_origin, &out);
        metrics_.RecordRequest(route_metric_[static_cast<int>(route)], 204, Seconds(start));
        co_return keep_alive;
      case Route::kMethodNotAllowed:
        response = {405, "application/json",
                    R"({"code":405,"error":"Method not allowed on this path"})"};
        response.allow = AllowedMethods(path);
        break;
      case Route::kInvalidPath:
        response = {400, "application/json", R"({"code":400,"error":"Invalid request path"})"};
        break;
      case Route::kNotFound:
      case Route::kCount:
        response = {404, "application/json", R"({"code":404,"error":"Not found"})"};
        break;
    }
    Finish(route, response, keep_alive, origin, start, &out);
    session.after_send = std::move(response.after_send);
    co_return keep_alive;
  }

  // Calls an endpoint that answers asynchronously (ingestion, definitions, cohorts: their
  // writes go through the ingest writer; profile reads on a shared store, on a worker) and
  // resumes this connection's coroutine, on its own thread, once it has answered.
  awaitable<api::HttpResponse> Ingest(Session& session, Route route, const api::HttpRequest& req) {
    auto executor = session.get_executor();
    co_return co_await asio::async_initiate<decltype(use_awaitable), void(api::HttpResponse)>(
        [this, route, &req, executor, context = session.context_index](auto handler) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          api::Endpoints::Respond respond = [shared, executor](api::HttpResponse r) {
            asio::post(executor, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
          };
          switch (route) {
            case Route::kIdentify:
            case Route::kGroupIdentify: endpoints_.Identify(req, respond); break;
            case Route::kLegacyUpload: endpoints_.LegacyUpload(req, respond); break;
            case Route::kAdmin: endpoints_.Admin(req, respond); break;
            case Route::kCohorts: endpoints_.Cohorts(req, respond); break;
            case Route::kDeletions: endpoints_.Deletions(req, respond); break;
            case Route::kProfile:
              endpoints_.ProfileAsync(req, respond,
                                      context < reads_.size() ? reads_[context].get() : nullptr);
              break;
            default: endpoints_.TrackEvents(req, respond); break;
          }
        },
        use_awaitable);
  }

  void Finish(Route route, const api::HttpResponse& response, bool keep_alive,
              std::string_view origin, std::chrono::steady_clock::time_point start,
              std::string* out) {
    // CORS: answer a browser (a request with Origin) with the configured allowed origin.
    std::string_view allow_origin =
        origin.empty() ? std::string_view() : std::string_view(config_.cors_allow_origin);
    WriteResponse(response, keep_alive, allow_origin, out);
    metrics_.RecordRequest(response.served_recommendations ? profile_recs_metric_
                                                           : route_metric_[static_cast<int>(route)],
                           response.status, Seconds(start));
  }

  // 503 to a request whose body would pass server.max_body_memory_mb; SDKs retry it.
  void FinishBusy(Route route, std::string_view origin, std::chrono::steady_clock::time_point start,
                  std::string* out) {
    api::HttpResponse busy{503, "application/json", std::string(kTooManyBodies)};
    busy.retry_after_seconds = 1;
    Finish(route, busy, false, origin, start, out);
  }

  static double Seconds(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::chrono::milliseconds ReadTimeout() const {
    return std::chrono::milliseconds(read_timeout_ms_.load(std::memory_order_relaxed));
  }
  std::chrono::milliseconds IdleTimeout() const {
    return std::chrono::milliseconds(idle_timeout_ms_.load(std::memory_order_relaxed));
  }

  const ServerConfig config_;  // as started; the limits below may change
  std::mutex tls_mu_;
  std::shared_ptr<TlsContext> tls_;  // null: plain HTTP; swapped by a reload (SetTls)
  api::Endpoints& endpoints_;
  Metrics& metrics_;
  std::atomic<int> max_connections_;
  std::atomic<int> idle_timeout_ms_;
  std::atomic<int> read_timeout_ms_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::unordered_set<Session*>> sessions_;  // [i] touched only on context i
  // [i] used only on context i; empty unless endpoints_.ProfileOffThread(). Destroyed before
  // the contexts (declared after them).
  std::vector<std::unique_ptr<store::AsyncReads>> reads_;
  std::vector<std::thread> threads_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  int route_metric_[static_cast<int>(Route::kCount)] = {};
  int profile_recs_metric_ = 0;  // profile reads that served recommendations
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> open_connections_{0};
  BodyBudget body_budget_;  // shared by every thread
  std::mutex mu_;
  std::condition_variable drained_;
};

HttpServer::HttpServer(const ServerConfig& config, api::Endpoints& endpoints, Metrics& metrics,
                       std::shared_ptr<TlsContext> tls)
    : impl_(std::make_unique<Impl>(config, endpoints, metrics, std::move(tls))) {}
HttpServer::~HttpServer() {
  // Stop() throws only what the system throws (a failed post or join); a destructor must not.
  try {
    Stop();
  } catch (const std::exception& e) {
    LogError(std::string("http server: stop: ") + e.what());
  }
}
Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop(int grace_ms) { impl_->Stop(grace_ms); }
void HttpServer::SetLimits(const ServerConfig& config) { impl_->SetLimits(config); }
void HttpServer::SetTls(std::shared_ptr<TlsContext> tls) { impl_->SetTls(std::move(tls)); }

}  // namespace profiled::server
