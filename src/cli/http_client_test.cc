#include "cli/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <thread>

namespace profiled::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A server of one exchange on 127.0.0.1: keeps the request it read and sends `response`.
class OneShotServer {
 public:
  explicit OneShotServer(http::response<http::string_body> response)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        response_(std::move(response)) {
    thread_ = std::thread([this] {
      tcp::socket socket(io_);
      acceptor_.accept(socket);
      beast::flat_buffer buffer;
      http::read(socket, buffer, request_);
      response_.prepare_payload();
      http::write(socket, response_);
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    });
  }
  ~OneShotServer() { Join(); }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const http::request<http::string_body>& request() const { return request_; }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  http::response<http::string_body> response_;
  http::request<http::string_body> request_;
  std::thread thread_;
};

TEST(HttpRequest, SendsTheRequestAndReadsTheAnswer) {
  http::response<http::string_body> response(http::status::created, 11);
  response.set(http::field::content_type, "application/json");
  response.body() = R"({"ok":true})";
  OneShotServer server(std::move(response));
  Result<HttpAnswer> answer = HttpRequest("127.0.0.1", server.port(), "POST", "/batch?x=1",
                                          {{"Authorization", "Bearer t"}}, "hello");
  server.Join();
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 201);
  EXPECT_EQ(answer->content_type, "application/json");
  EXPECT_EQ(answer->body, R"({"ok":true})");
  EXPECT_EQ(server.request().method_string(), "POST");
  EXPECT_EQ(server.request().target(), "/batch?x=1");
  EXPECT_EQ(server.request()[http::field::authorization], "Bearer t");
  EXPECT_EQ(server.request()[http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.request().body(), "hello");
}

TEST(HttpRequest, AnErrorStatusIsAnAnswer) {
  http::response<http::string_body> response(http::status::bad_request, 11);
  response.body() = "no";
  OneShotServer server(std::move(response));
  Result<HttpAnswer> answer = HttpRequest("127.0.0.1", server.port(), "GET", "/", {}, "");
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->status, 400);
  EXPECT_EQ(answer->body, "no");
}

TEST(HttpRequest, AServerThatIsNotThereIsUnavailable) {
  uint16_t port = 0;
  {
    // A port that was free a moment ago: nothing listens there now.
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  Result<HttpAnswer> answer = HttpRequest("127.0.0.1", port, "GET", "/", {}, "");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(answer.status().message().starts_with("127.0.0.1:" + std::to_string(port) + ": "))
      << answer.status().message();
}

TEST(HttpRequest, GivesUpAtTheTimeout) {
  asio::io_context io;
  // Accepts (the kernel's backlog) but never answers.
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Result<HttpAnswer> answer = HttpRequest("127.0.0.1", silent.local_endpoint().port(), "GET", "/",
                                          {}, "", std::chrono::milliseconds(200));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(answer.status().message().find("no answer within 200 ms"), std::string::npos)
      << answer.status().message();
}

TEST(ClientAddressOf, TurnsAWildcardIntoTheLoopback) {
  ServerConfig server;
  server.host = "0.0.0.0";
  server.port = 9;
  EXPECT_EQ(ClientAddressOf(server).host, "127.0.0.1");
  EXPECT_EQ(ClientAddressOf(server).port, 9);
  server.host = "::";
  EXPECT_EQ(ClientAddressOf(server).host, "::1");
  server.host = "10.0.0.7";
  EXPECT_EQ(ClientAddressOf(server).host, "10.0.0.7");
}

constexpr const char* kTlsServer =
    "listen = \"127.0.0.1:9\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n";
constexpr const char* kPlainServer = "listen = \"127.0.0.1:9\"\n";

// Writes `server_section` and one project "demo" as a config file; its path.
std::string WriteConfig(const std::string& name, const std::string& server_section) {
  std::string path = testing::TempDir() + name + ".toml";
  std::ofstream(path) << "[server]\n"
                      << server_section
                      << "\n[[projects]]\nid = \"demo\"\napi_key = \"k1\"\nsecret_key = \"s1\"\n";
  return path;
}

TEST(ResolveServerTarget, SpeaksHttpsWhenTheConfigHasTls) {
  const std::string config = WriteConfig("tls", kTlsServer);
  const std::string ca = testing::TempDir() + "ca.pem";
  std::ofstream(ca) << "a CA\n";
  Result<ServerTarget> target = ResolveServerTarget(config, "demo", "", ca);
  ASSERT_TRUE(target.ok()) << target.status().message();
  EXPECT_TRUE(target->https.enabled);
  EXPECT_EQ(target->https.ca_file, ca);
  target = ResolveServerTarget(config, "demo", "", "");
  ASSERT_TRUE(target.ok()) << target.status().message();
  EXPECT_TRUE(target->https.enabled);
  EXPECT_EQ(target->https.ca_file, "");
}

TEST(ResolveServerTarget, SpeaksPlainHttpWithoutTls) {
  Result<ServerTarget> target =
      ResolveServerTarget(WriteConfig("plain", kPlainServer), "demo", "", "");
  ASSERT_TRUE(target.ok()) << target.status().message();
  EXPECT_FALSE(target->https.enabled);
}

TEST(ResolveServerTarget, RefusesACaFileWithoutTls) {
  const std::string ca = testing::TempDir() + "ca.pem";
  std::ofstream(ca) << "a CA\n";
  Result<ServerTarget> target =
      ResolveServerTarget(WriteConfig("plain", kPlainServer), "demo", "", ca);
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(target.status().message().find("--ca-file is for a server with TLS on"),
            std::string::npos)
      << target.status().message();
}

TEST(ResolveServerTarget, RefusesACaFileItCannotRead) {
  Result<ServerTarget> target = ResolveServerTarget(WriteConfig("tls", kTlsServer), "demo", "",
                                                    testing::TempDir() + "no-such-ca.pem");
  ASSERT_FALSE(target.ok());
  EXPECT_NE(target.status().message().find("--ca-file: cannot read"), std::string::npos)
      << target.status().message();
}

}  // namespace
}  // namespace profiled::cli
