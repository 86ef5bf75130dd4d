#include "server/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fstream>

namespace profiled::server {

namespace ssl = boost::asio::ssl;

namespace {

// The reason of OpenSSL's last error ("no start line", "key values mismatch"), or `fallback`.
std::string OpenSslReason(const boost::system::error_code& ec, const char* fallback) {
  std::string reason = ec ? ec.message() : std::string();
  return reason.empty() ? fallback : reason;
}

Status FileError(const char* key, const std::string& path, const std::string& problem) {
  return Status::InvalidArgument("config: server." + std::string(key) + ": " + path + ": " +
                                 problem);
}

}  // namespace

Result<std::shared_ptr<TlsContext>> LoadTlsContext(const std::string& cert_path,
                                                   const std::string& key_path) {
  for (const auto& [key, path] : {std::pair{"tls_cert", &cert_path}, {"tls_key", &key_path}}) {
    if (!std::ifstream(*path).good()) return FileError(key, *path, "cannot be read");
  }
  auto context = std::make_shared<TlsContext>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (ec) return Status::Internal("TLS: " + ec.message());
  // A key with a passphrase fails to load (below) instead of OpenSSL asking for it on a
  // terminal, which would hang a start or a reload.
  context->set_password_callback(
      [](size_t, ssl::context::password_purpose) { return std::string(); }, ec);
  if (context->use_certificate_chain_file(cert_path, ec); ec) {
    return FileError("tls_cert", cert_path,
                     "not a PEM certificate chain (" + OpenSslReason(ec, "unreadable") + ")");
  }
  if (context->use_private_key_file(key_path, ssl::context::pem, ec); ec) {
    return FileError(
        "tls_key", key_path,
        "not a PEM private key matching tls_cert (" + OpenSslReason(ec, "unreadable") + ")");
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    ERR_clear_error();
    return FileError("tls_key", key_path, "does not match the certificate in tls_cert");
  }
  return context;
}

}  // namespace profiled::server
