// Internal to src/redis: the copy of a hiredis reply tree into a Reply, shared by Connection
// and AsyncConnection, so no hiredis type appears in their headers.
#pragma once

#include "redis/reply.h"

struct redisReply;

namespace profiled::redis {

// A Reply that owns a copy of `reply`'s bytes; the hiredis reply may be freed right after.
Reply CopyReply(const redisReply& reply);

}  // namespace profiled::redis
