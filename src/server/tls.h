// TLS: the server's certificate and key, loaded from PEM files ([server] tls_cert, tls_key).
//
// A TlsContext is immutable once loaded; HttpServer holds the current one behind a mutex and
// swaps it on a configuration reload, so a new connection takes the newest and an open one
// keeps the one it started with (it holds a shared_ptr). Thread-safe.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "core/status.h"

namespace profiled::server {

using TlsContext = boost::asio::ssl::context;

// Loads a certificate chain (the server's certificate first, then intermediates) and its
// private key, both PEM. TLS 1.2 and 1.3 only. Errors (InvalidArgument) name the config key
// (server.tls_cert / server.tls_key) and what is wrong: a missing or unreadable file, a file
// that is not PEM, or a key that does not match the certificate.
Result<std::shared_ptr<TlsContext>> LoadTlsContext(const std::string& cert_path,
                                                   const std::string& key_path);

}  // namespace profiled::server
