#include "cli/http_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <fstream>

namespace profiled::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

constexpr uint64_t kMaxAnswerBytes = 64 << 20;

// host:port as a URL writes it ([::1]:8080 for an IPv6 address).
std::string HostPort(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

ServerConfig ClientAddressOf(const ServerConfig& server) {
  ServerConfig out = server;
  if (out.host.empty() || out.host == "0.0.0.0") out.host = "127.0.0.1";
  if (out.host == "::") out.host = "::1";
  return out;
}

Result<ServerTarget> ResolveServerTarget(const std::string& config_path, const std::string& project,
                                         const std::string& server_flag,
                                         const std::string& ca_file) {
  Result<Config> config = LoadConfig(config_path);
  if (!config.ok()) return config.status();
  ServerTarget out;
  out.config = std::move(config.value());
  const auto it = std::find_if(out.config.projects.begin(), out.config.projects.end(),
                               [&](const ProjectConfig& p) { return p.id == project; });
  if (it == out.config.projects.end()) {
    return Status::InvalidArgument("--project: no project \"" + project + "\" in " + config_path);
  }
  out.project = *it;
  out.server = out.config.server;
  if (!server_flag.empty()) {
    PROFILED_RETURN_IF_ERROR(ParseListen(server_flag, "--server", &out.server));
  }
  out.server = ClientAddressOf(out.server);
  if (out.server.port == 0) {
    return Status::InvalidArgument(
        "the config listens on port 0 (any free port): give --server HOST:PORT");
  }
  out.https.enabled = !out.config.server.tls_cert.empty();
  if (!ca_file.empty() && !out.https.enabled) {
    return Status::InvalidArgument("--ca-file is for a server with TLS on (server.tls_cert in " +
                                   config_path + "), and this config has none");
  }
  if (!ca_file.empty() && !std::ifstream(ca_file)) {
    return Status::InvalidArgument("--ca-file: cannot read " + ca_file);
  }
  out.https.ca_file = ca_file;
  return out;
}

namespace {

// Connects `stream` (a tcp_stream, or an ssl_stream over one, which `handshake` then
// completes), writes `request` and reads the answer into *parser; the error that ended it.
// Asynchronous operations, because tcp_stream's deadline applies only to those; one deadline
// covers the whole exchange.
template <typename Stream, typename Handshake>
beast::error_code Exchange(asio::io_context& io, Stream& stream,
                           const asio::ip::tcp::resolver::results_type& endpoints,
                           Handshake handshake, http::request<http::string_body>& request,
                           http::response_parser<http::string_body>* parser) {
  beast::flat_buffer buffer;
  beast::error_code failure;
  beast::get_lowest_layer(stream).async_connect(
      endpoints, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
        if (ec) {
          failure = ec;
          return;
        }
        handshake([&](beast::error_code hs_ec) {
          if (hs_ec) {
            failure = hs_ec;
            return;
          }
          http::async_write(stream, request, [&](beast::error_code write_ec, size_t) {
            if (write_ec) {
              failure = write_ec;
              return;
            }
            http::async_read(stream, buffer, *parser,
                             [&](beast::error_code read_ec, size_t) { failure = read_ec; });
          });
        });
      });
  io.run();
  return failure;
}

}  // namespace

Result<HttpAnswer> HttpRequest(const std::string& host, uint16_t port, std::string_view method,
                               std::string_view target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::string_view body, std::chrono::milliseconds timeout,
                               const HttpsOptions& https) {
  const std::string where = (https.enabled ? "https://" : "") + HostPort(host, port);
  // Beast reports resolver failures as exceptions, Asio's TLS context bad CA files; none
  // leaves this function.
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(host, std::to_string(port));

    http::request<http::string_body> request;
    request.method_string(beast::string_view(method.data(), method.size()));
    request.target(beast::string_view(target.data(), target.size()));
    request.version(11);
    request.set(http::field::host, HostPort(host, port));
    request.set(http::field::connection, "close");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::string(body);
    request.prepare_payload();

    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    beast::error_code failure;
    if (!https.enabled) {
      beast::tcp_stream stream(io);
      stream.expires_after(timeout);
      failure = Exchange(
          io, stream, endpoints, [](auto&& next) { next(beast::error_code()); }, request, &parser);
      beast::error_code ignored;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    } else {
      ssl::context context(ssl::context::tls_client);
      if (https.ca_file.empty()) {
        context.set_default_verify_paths();
      } else {
        context.load_verify_file(https.ca_file);
      }
      context.set_verify_mode(ssl::verify_peer);
      beast::ssl_stream<beast::tcp_stream> stream(io, context);
      // The name the certificate must hold (an IP address is matched against its IP SANs),
      // and SNI for a name.
      stream.set_verify_callback(ssl::host_name_verification(host));
      boost::system::error_code not_an_address;
      asio::ip::make_address(host, not_an_address);
      if (not_an_address && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
        return Status::Unavailable(where + ": cannot set the TLS server name");
      }
      beast::get_lowest_layer(stream).expires_after(timeout);
      failure = Exchange(
          io, stream, endpoints,
          [&](auto&& next) { stream.async_handshake(ssl::stream_base::client, next); }, request,
          &parser);
    }
    if (failure == beast::error::timeout) {
      return Status::Unavailable(where + ": no answer within " + std::to_string(timeout.count()) +
                                 " ms");
    }
    // A TLS failure (a certificate not trusted or not naming the host, a server that does not
    // speak TLS) is no network trouble: trying again cannot help.
    if (failure && failure.category() == asio::error::get_ssl_category()) {
      return Status::Unauthenticated(where + ": TLS: " + failure.message());
    }
    if (failure) return Status::Unavailable(where + ": " + failure.message());

    http::response<http::string_body> response = parser.release();
    HttpAnswer answer;
    answer.status = static_cast<int>(response.result_int());
    answer.content_type = std::string(response[http::field::content_type]);
    answer.retry_after = std::string(response[http::field::retry_after]);
    answer.body = std::move(response.body());
    return answer;
  } catch (const std::exception& e) {
    return Status::Unavailable(where + ": " + e.what());
  }
}

}  // namespace profiled::cli
