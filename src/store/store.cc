#include "store/store.h"

namespace profiled::store {

namespace {
constexpr const char* kDiskFullMessage = "the store's disk is full";
constexpr const char* kDiskFailedMessage = "the store's disk failed a write";
}  // namespace

Status DiskFull() { return Status::Unavailable(kDiskFullMessage); }
Status DiskFailed() { return Status::Unavailable(kDiskFailedMessage); }

bool IsDiskFailure(const Status& s) {
  return s.code() == ErrorCode::kUnavailable &&
         (s.message() == kDiskFullMessage || s.message() == kDiskFailedMessage);
}

}  // namespace profiled::store
