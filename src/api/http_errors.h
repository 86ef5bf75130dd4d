// The one map from ErrorCode to HTTP: status codes and the client-facing message.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace profiled::api {

// 400 InvalidArgument, 401 Unauthenticated, 404 NotFound, 413 PayloadTooLarge,
// 429 Throttled, 503 Unavailable/IoError (nothing was applied; safe to retry),
// 500 Corruption/Internal.
int HttpStatusOf(ErrorCode code);

// What the client may see: the status message for client errors; a fixed text for
// internal failures, whose detail goes to the log only.
std::string PublicMessage(const Status& status);

// {"error":"..."}: the Profile API's error body.
std::string ProfileErrorBody(std::string_view message);

}  // namespace profiled::api
