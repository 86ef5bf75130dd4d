#include "ingest/deletions.h"

#include <gtest/gtest.h>

namespace profiled::ingest {
namespace {

TEST(DeletionJob, RoundTripsThroughItsRecord) {
  DeletionJob job;
  job.created_ms = 1700000000000;
  job.run_at_ms = 1700003600000;
  job.status = DeletionStatus::kSubmitted;
  job.entries = {{42, "dpo@example.com", "2023-11-14"}, {7, "", "2023-11-14"}};
  job.targets = {42, 7, 3};
  job.phase = DeletionPhase::kIdentity;
  job.cursor = std::string("\x04proj\x00\x01", 7);
  job.events_deleted = 100000;
  DeletionJob back;
  ASSERT_TRUE(DecodeDeletionJob(EncodeDeletionJob(job), &back).ok());
  EXPECT_EQ(back.created_ms, job.created_ms);
  EXPECT_EQ(back.run_at_ms, job.run_at_ms);
  EXPECT_EQ(back.status, DeletionStatus::kSubmitted);
  ASSERT_EQ(back.entries.size(), 2u);
  EXPECT_EQ(back.entries[0].amplitude_id, 42u);
  EXPECT_EQ(back.entries[0].requester, "dpo@example.com");
  EXPECT_EQ(back.entries[1].requested_on_day, "2023-11-14");
  EXPECT_EQ(back.targets, job.targets);
  EXPECT_EQ(back.phase, DeletionPhase::kIdentity);
  EXPECT_EQ(back.cursor, job.cursor);
  EXPECT_EQ(back.events_deleted, 100000u);
}

TEST(DeletionJob, TruncatedOrForeignBytesAreCorruption) {
  DeletionJob job;
  job.entries = {{1, "r", "2023-01-01"}};
  std::string bytes = EncodeDeletionJob(job);
  DeletionJob back;
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodeDeletionJob(bytes.substr(0, n), &back).code(), ErrorCode::kCorruption) << n;
  }
  EXPECT_EQ(DecodeDeletionJob(bytes + "x", &back).code(), ErrorCode::kCorruption);
}

TEST(DeletionDays, FormatAndParseUtcDates) {
  EXPECT_EQ(DayOf(0), "1970-01-01");
  EXPECT_EQ(DayOf(1709251199999), "2024-02-29");
  int64_t days = 0;
  ASSERT_TRUE(ParseDay("2024-02-29", &days));
  EXPECT_EQ(days, 19782);
  EXPECT_FALSE(ParseDay("2023-02-29", &days));
  EXPECT_FALSE(ParseDay("2024-2-29", &days));
  EXPECT_FALSE(ParseDay("2024-02-29x", &days));
  EXPECT_FALSE(ParseDay("abcd-ef-gh", &days));
}

}  // namespace
}  // namespace profiled::ingest
