#include "redis/reply.h"

#include <gtest/gtest.h>

namespace profiled::redis {
namespace {

TEST(Reply, NamesTheCodeOfAnErrorReply) {
  EXPECT_EQ(Reply::Error("MOVED 3999 127.0.0.1:6381").error_code(), "MOVED");
  EXPECT_EQ(Reply::Error("TRYAGAIN").error_code(), "TRYAGAIN");
  EXPECT_EQ(Reply::String("MOVED 1 a:1").error_code(), "");
}

TEST(Reply, PrintsBytesEscaped) {
  EXPECT_EQ(Reply::String(std::string("a\0\"", 3)).ToString(), "\"a\\x00\\x22\"");
  EXPECT_EQ(Reply::Array({Reply::Integer(1), Reply::Nil(), Reply::Simple("OK")}).ToString(),
            "[:1, nil, +OK]");
}

}  // namespace
}  // namespace profiled::redis
