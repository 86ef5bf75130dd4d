#include "read/stats_sampler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace profiled::read {
namespace {

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z

TEST(RatesBetween, IsEachCounterDeltaPerSecondOfTheInterval) {
  Metrics::Totals before{100, 10, 1000};
  Metrics::Totals after{1100, 30, 1500};
  RateSample r = RatesBetween(before, kStart, after, kStart + 4000);
  EXPECT_EQ(r.t_ms, kStart + 4000);
  EXPECT_DOUBLE_EQ(r.events_ingested_per_second, 250.0);
  EXPECT_DOUBLE_EQ(r.profile_reads_per_second, 5.0);
  EXPECT_DOUBLE_EQ(r.requests_per_second, 125.0);
}

TEST(RatesBetween, ACounterThatDidNotGrowIsZero) {
  Metrics::Totals before{100, 10, 1000};
  Metrics::Totals after{50, 10, 1000};
  RateSample r = RatesBetween(before, kStart, after, kStart + 500);
  EXPECT_EQ(r.events_ingested_per_second, 0.0);
  EXPECT_EQ(r.profile_reads_per_second, 0.0);
  EXPECT_EQ(r.requests_per_second, 0.0);
}

class StatsSamplerTest : public ::testing::Test {
 protected:
  StatsSamplerTest() {
    route_ = metrics_.RegisterRoute("/2/httpapi");
    profile_route_ = metrics_.RegisterRoute("/v1/userprofile");
    recs_route_ = metrics_.RegisterRoute("/v1/userprofile?get_recs");
  }

  StatsSampler::CohortSizer Sizer() {
    return [this](std::string_view project, CohortSizeMap* sizes, const std::atomic<bool>& cancel) {
      ++scans_;
      if (project == "slow") {
        // A scan that only ends when cancelled (a bounded wait, so a bug fails, not hangs).
        for (int i = 0; i < 20000 && !cancel.load(); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return cancel.load() ? Status::Unavailable("cancelled") : Status::Ok();
      }
      if (project == "broken") return Status::Corruption("a damaged record");
      sizes->clear();
      (*sizes)["c1"] = project.size();
      (*sizes)["c2"] = static_cast<uint64_t>(scans_.load());
      return Status::Ok();
    };
  }

  Metrics metrics_;
  ManualClock clock_{kStart};
  int route_ = 0, profile_route_ = 0, recs_route_ = 0;
  std::atomic<int> scans_{0};
};

TEST_F(StatsSamplerTest, TotalsCountProfileReadsOnBothProfileRoutesAndEveryRequest) {
  metrics_.AddEventsIngested(7);
  metrics_.RecordRequest(route_, 200, 0.001);
  metrics_.RecordRequest(profile_route_, 200, 0.001);
  metrics_.RecordRequest(profile_route_, 404, 0.001);
  metrics_.RecordRequest(recs_route_, 200, 0.001);
  Metrics::Totals t = metrics_.ReadTotals();
  EXPECT_EQ(t.events_ingested, 7u);
  EXPECT_EQ(t.profile_reads, 3u);
  EXPECT_EQ(t.requests, 4u);
}

TEST_F(StatsSamplerTest, TheFirstRateRoundOnlyReadsTheCountersThenEachRoundIsOneSample) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 10, 300, {"demo"});
  metrics_.AddEventsIngested(5);
  sampler.SampleRates();
  EXPECT_TRUE(sampler.Snapshot().rates.empty());
  metrics_.AddEventsIngested(100);
  for (int i = 0; i < 20; ++i) metrics_.RecordRequest(profile_route_, 200, 0.001);
  clock_.Advance(10000);
  sampler.SampleRates();
  StatsSnapshot s = sampler.Snapshot();
  ASSERT_EQ(s.rates.size(), 1u);
  EXPECT_EQ(s.started_ms, kStart);  // when the sampler was made
  EXPECT_EQ(s.rate_seconds, 10);
  EXPECT_EQ(s.rates[0].t_ms, kStart + 10000);
  EXPECT_DOUBLE_EQ(s.rates[0].events_ingested_per_second, 10.0);
  EXPECT_DOUBLE_EQ(s.rates[0].profile_reads_per_second, 2.0);
  EXPECT_DOUBLE_EQ(s.rates[0].requests_per_second, 2.0);
  clock_.Advance(10000);
  sampler.SampleRates();
  s = sampler.Snapshot();
  ASSERT_EQ(s.rates.size(), 2u);
  EXPECT_EQ(s.rates[1].events_ingested_per_second, 0.0);
}

TEST_F(StatsSamplerTest, RatesKeepTheNewestSamplesOldestFirst) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 1, 0, {});
  sampler.SampleRates();
  const size_t rounds = StatsSampler::kMaxRateSamples + 40;
  for (size_t i = 1; i <= rounds; ++i) {
    clock_.Advance(1000);
    metrics_.AddEventsIngested(i);  // the i-th sample is i events a second
    sampler.SampleRates();
  }
  StatsSnapshot s = sampler.Snapshot();
  ASSERT_EQ(s.rates.size(), StatsSampler::kMaxRateSamples);
  EXPECT_DOUBLE_EQ(s.rates.front().events_ingested_per_second, 41.0);
  EXPECT_DOUBLE_EQ(s.rates.back().events_ingested_per_second, static_cast<double>(rounds));
  for (size_t i = 1; i < s.rates.size(); ++i) {
    EXPECT_EQ(s.rates[i].t_ms - s.rates[i - 1].t_ms, 1000);
  }
}

TEST_F(StatsSamplerTest, AClockMovedBackGivesNoSampleAndANewBaseline) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 1, 0, {});
  sampler.SampleRates();
  clock_.Advance(-5000);
  metrics_.AddEventsIngested(10);
  sampler.SampleRates();
  EXPECT_TRUE(sampler.Snapshot().rates.empty());
  clock_.Advance(1000);
  metrics_.AddEventsIngested(3);
  sampler.SampleRates();
  StatsSnapshot s = sampler.Snapshot();
  ASSERT_EQ(s.rates.size(), 1u);
  EXPECT_DOUBLE_EQ(s.rates[0].events_ingested_per_second, 3.0);
}

TEST_F(StatsSamplerTest, CohortSamplesAreBoundedPerProjectAndEveryProjectIsListed) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 10, 60, {"demo", "other"});
  for (size_t i = 0; i < StatsSampler::kMaxCohortSamples + 5; ++i) {
    sampler.SampleCohorts();
    clock_.Advance(60000);
  }
  StatsSnapshot s = sampler.Snapshot();
  EXPECT_EQ(s.cohort_seconds, 60);
  ASSERT_EQ(s.cohorts.size(), 2u);
  const CohortSeries& demo = s.cohorts["demo"];
  ASSERT_EQ(demo.samples.size(), StatsSampler::kMaxCohortSamples);
  EXPECT_EQ(demo.samples.front().t_ms, kStart + int64_t{5} * 60000);
  EXPECT_EQ(demo.SizesAt(demo.samples.size() - 1).at("c1"), 4u);  // "demo"
  const CohortSeries& other = s.cohorts["other"];
  EXPECT_EQ(other.SizesAt(other.samples.size() - 1).at("c1"), 5u);
}

TEST_F(StatsSamplerTest, AProjectWhoseCountFailsIsSkippedAndTheOthersSampled) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 10, 60, {"broken", "demo"});
  sampler.SampleCohorts();
  StatsSnapshot s = sampler.Snapshot();
  EXPECT_TRUE(s.cohorts["broken"].samples.empty());
  EXPECT_EQ(s.cohorts["demo"].samples.size(), 1u);
}

TEST_F(StatsSamplerTest, SetProjectsDropsTheSamplesOfARemovedProject) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 10, 60, {"demo", "other"});
  sampler.SampleCohorts();
  sampler.SetProjects({"demo", "new"});
  StatsSnapshot s = sampler.Snapshot();
  EXPECT_EQ(s.cohorts.count("other"), 0u);
  EXPECT_EQ(s.cohorts["demo"].samples.size(), 1u);
  EXPECT_TRUE(s.cohorts["new"].samples.empty());
}

TEST_F(StatsSamplerTest, StartTakesACohortSampleAtOnceAndNoRateSampleBeforeAnInterval) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 3600, 3600, {"demo"});
  sampler.Start();
  // The cohort round runs at once; a bounded wait for it (no timing is asserted).
  for (int i = 0; i < 2000 && scans_.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sampler.Stop();
  StatsSnapshot s = sampler.Snapshot();
  EXPECT_EQ(s.cohorts["demo"].samples.size(), 1u);
  EXPECT_TRUE(s.rates.empty());
}

TEST_F(StatsSamplerTest, StopCancelsACohortScanUnderWayAndKeepsNoSampleOfIt) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 3600, 3600, {"slow"});
  sampler.Start();
  for (int i = 0; i < 2000 && scans_.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(scans_.load(), 1);
  sampler.Stop();  // returns once the scan gave up
  EXPECT_TRUE(sampler.Snapshot().cohorts["slow"].samples.empty());
}

TEST_F(StatsSamplerTest, CohortSizesZeroSecondsNeverScans) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 3600, 0, {"demo"});
  sampler.Start();
  sampler.Stop();
  EXPECT_EQ(scans_.load(), 0);
  StatsSnapshot s = sampler.Snapshot();
  EXPECT_EQ(s.cohort_seconds, 0);
  EXPECT_TRUE(s.cohorts["demo"].samples.empty());
}

TEST_F(StatsSamplerTest, ASnapshotCopiesOnlyTheProjectAndTheSamplesAfterSinceAsked) {
  StatsSampler sampler(metrics_, clock_, Sizer(), 1, 60, {"demo", "other"});
  sampler.SampleRates();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(1000);
    sampler.SampleRates();
    sampler.SampleCohorts();
  }
  // Rates at kStart + 1000, 2000, 3000; cohort samples at the same times.
  StatsFilter filter;
  filter.project = "other";
  filter.since_ms = kStart + 1000;
  StatsSnapshot s = sampler.Snapshot(filter);
  ASSERT_EQ(s.rates.size(), 2u);
  EXPECT_EQ(s.rates[0].t_ms, kStart + 2000);
  ASSERT_EQ(s.cohorts.size(), 1u);
  const CohortSeries& other = s.cohorts["other"];
  ASSERT_EQ(other.samples.size(), 2u);
  EXPECT_EQ(other.samples[0].t_ms, kStart + 2000);
  EXPECT_EQ(other.SizesAt(1).at("c1"), 5u);

  filter.since_ms = kStart + 3000;  // nothing newer: the project is still listed, empty
  s = sampler.Snapshot(filter);
  EXPECT_TRUE(s.rates.empty());
  ASSERT_EQ(s.cohorts.size(), 1u);
  EXPECT_TRUE(s.cohorts["other"].samples.empty());

  filter.project = "nowhere";  // not sampled: left out
  EXPECT_TRUE(sampler.Snapshot(filter).cohorts.empty());
  EXPECT_EQ(sampler.Snapshot().cohorts.size(), 2u);
}

TEST_F(StatsSamplerTest, ACohortRingKeepsEachIdOnceAndForgetsIdsNoKeptSampleCounted) {
  int round = 0;
  StatsSampler sampler(metrics_, clock_,
                       [&round](std::string_view, CohortSizeMap* sizes, const std::atomic<bool>&) {
                         sizes->clear();
                         (*sizes)["stays"] = static_cast<uint64_t>(round);
                         if (round == 0) (*sizes)["deleted"] = 9;
                         if (round >= 1) (*sizes)["added"] = 1;
                         return Status::Ok();
                       },
                       10, 60, {"demo"});
  for (round = 0; round < 3; ++round) {
    sampler.SampleCohorts();
    clock_.Advance(60000);
  }
  StatsSnapshot s = sampler.Snapshot();
  const CohortSeries& demo = s.cohorts["demo"];
  ASSERT_EQ(demo.samples.size(), 3u);
  EXPECT_EQ(demo.ids.size(), 3u);
  EXPECT_EQ(demo.SizesAt(0), (CohortSizeMap{{"deleted", 9}, {"stays", 0}}));
  EXPECT_EQ(demo.SizesAt(2), (CohortSizeMap{{"added", 1}, {"stays", 2}}));
  // Once the sample that counted "deleted" leaves the ring, so does its id.
  for (size_t i = 0; i < StatsSampler::kMaxCohortSamples; ++i) {
    sampler.SampleCohorts();
    clock_.Advance(60000);
  }
  s = sampler.Snapshot();
  const CohortSeries& later = s.cohorts["demo"];
  EXPECT_EQ(later.ids, (std::vector<std::string>{"stays", "added"}));
  for (size_t i = 0; i < later.samples.size(); ++i) {
    EXPECT_EQ(later.SizesAt(i), (CohortSizeMap{{"added", 1}, {"stays", 3}})) << i;
  }
}

}  // namespace
}  // namespace profiled::read
