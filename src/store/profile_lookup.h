// Typed reads over the identity and profile tables: the read path the Profile API and
// the ingest writer share.
//
// Stateless free functions over a borrowed Store; thread-safe as the Store is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/records.h"
#include "store/store.h"

namespace profiled::store {

// The amplitude_id of a user_id / device_id. NotFound if never seen in `project`.
Status LookupUser(Store& store, std::string_view project, std::string_view user_id,
                  uint64_t* amplitude_id);
Status LookupDevice(Store& store, std::string_view project, std::string_view device_id,
                    uint64_t* amplitude_id);

// Reads the profile of an amplitude_id into *buffer and points *view into it.
// NotFound if there is none; Corruption if it does not decode.
Status ReadProfile(Store& store, std::string_view project, uint64_t amplitude_id,
                   std::string* buffer, ProfileView* view);

// Resolves the Profile API's lookup: by user_id when given (device_id is then ignored,
// since user_id takes precedence), else by device_id. NotFound when unknown.
Status FindProfile(Store& store, std::string_view project, std::string_view user_id,
                   std::string_view device_id, uint64_t* amplitude_id, std::string* buffer,
                   ProfileView* view);

}  // namespace profiled::store
