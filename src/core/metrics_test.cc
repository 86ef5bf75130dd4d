#include "core/metrics.h"

#include <gtest/gtest.h>

namespace profiled {
namespace {

TEST(Metrics, RendersRequestCountersAndHistogramsPerRouteAndStatus) {
  Metrics m;
  int profile = m.RegisterRoute("/v1/userprofile");
  m.RecordRequest(profile, 200, 0.0003);
  m.RecordRequest(profile, 200, 0.002);
  m.RecordRequest(profile, 404, 0.0001);
  m.RecordRequest(profile, 418, 0.0001);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("profiled_http_requests_total{route=\"/v1/userprofile\",status=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("profiled_http_requests_total{route=\"/v1/userprofile\",status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("profiled_http_requests_total{route=\"/v1/userprofile\",status=\"other\"} 1\n"),
      std::string::npos);
  // 0.0003 s falls in the 0.0005 bucket; cumulative counts; the finest bucket is 25 µs.
  EXPECT_NE(text.find("profiled_http_request_duration_seconds_bucket{route=\"/v1/userprofile\","
                      "status=\"404\",le=\"0.000050\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("profiled_http_request_duration_seconds_bucket{route=\"/v1/userprofile\","
                      "status=\"404\",le=\"0.000100\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("profiled_http_request_duration_seconds_bucket{route=\"/v1/userprofile\","
                      "status=\"200\",le=\"0.000250\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("profiled_http_request_duration_seconds_bucket{route=\"/v1/userprofile\","
                      "status=\"200\",le=\"0.000500\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("profiled_http_request_duration_seconds_bucket{route=\"/v1/userprofile\","
                      "status=\"200\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("profiled_http_request_duration_seconds_count{route=\"/v1/userprofile\","
                      "status=\"200\"} 2\n"),
            std::string::npos);
}

TEST(Metrics, RendersEventCountersAndStoreSize) {
  Metrics m;
  m.AddEventsIngested(5);
  m.AddEventsRejected(2);
  m.SetStoreSizeSource([] { return uint64_t{1234}; });
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("profiled_events_ingested_total 5\n"), std::string::npos);
  EXPECT_NE(text.find("profiled_events_rejected_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("profiled_store_size_bytes 1234\n"), std::string::npos);
}

}  // namespace
}  // namespace profiled
