// The OpenAPI 3.1 document of every endpoint (docs/openapi.json), compiled into the binary
// and served at GET /openapi.json. tests/e2e checks every answer its tests receive against it.
#pragma once

#include <string_view>

namespace profiled::api {

// The document's bytes, exactly as in docs/openapi.json. Thread-safe (static data).
std::string_view OpenApiJson();

}  // namespace profiled::api
