// The Young/Daly checkpoint interval (runtime/engine/checkpoint_interval.hpp).
#include "runtime/engine/checkpoint_interval.hpp"

#include <cmath>

#include <gtest/gtest.h>

using lazarus::detail::daly_interval;

TEST(DalyInterval, IsCloseToYoungsForACheapCheckpoint) {
  // C = 10 s, M = 1 day: Young's sqrt(2 C M) = 1314.5 s; Daly's correction adds about 3.3 s and
  // subtracts C.
  const double young = std::sqrt(2 * 10.0 * 86400.0);
  const double ratio = 10.0 / (2 * 86400.0);
  EXPECT_NEAR(daly_interval(10, 86400), young * (1 + std::sqrt(ratio) / 3 + ratio / 9) - 10, 1e-9);
  EXPECT_NEAR(daly_interval(10, 86400), 1307.9, 0.1);
}

TEST(DalyInterval, GrowsWithTheCostAndTheMtbf) {
  EXPECT_LT(daly_interval(5, 3600), daly_interval(20, 3600));
  EXPECT_LT(daly_interval(5, 3600), daly_interval(5, 36000));
}

TEST(DalyInterval, IsTheMtbfWhenACheckpointCostsTwiceAsMuch) {
  EXPECT_EQ(daly_interval(100, 50), 50);
  EXPECT_EQ(daly_interval(100, 40), 40);
}

TEST(DalyInterval, IsZeroWhileTheCostIsUnknown) {
  EXPECT_EQ(daly_interval(0, 3600), 0);
  EXPECT_EQ(daly_interval(5, 0), 0);
}
