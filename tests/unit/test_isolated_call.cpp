// run_isolated (backends/posix/isolated_call.hpp): the caller survives a crash or a hang of the work,
// and is told which; normal work hands back its text.
#include "backends/posix/isolated_call.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

using lazarus::backends::run_isolated;

TEST(RunIsolated, HandsBackWhatTheWorkReturned) {
  const auto result = run_isolated([] { return std::string(100000, 'x') + "end"; }, std::chrono::seconds(10));
  ASSERT_TRUE(result.output.has_value()) << result.failure;
  EXPECT_EQ(result.output->size(), 100003u);
  EXPECT_TRUE(result.output->ends_with("end"));
}

TEST(RunIsolated, ReportsACrashInsteadOfCrashing) {
  const auto result = run_isolated(
      []() -> std::string {
        // An abort, as a failed assertion inside HDF5 would end. (Not SIGSEGV: in the ASan build the
        // sanitizer catches that itself, and the child ends with status 1 instead of the signal.)
        std::abort();
      },
      std::chrono::seconds(10));
  EXPECT_FALSE(result.output.has_value());
  EXPECT_NE(result.failure.find("crashed (signal 6"), std::string::npos) << result.failure;
}

TEST(RunIsolated, ReportsAHangAfterTheTimeout) {
  const auto result = run_isolated(
      []() -> std::string {
        std::this_thread::sleep_for(std::chrono::seconds(30));
        return "too late";
      },
      std::chrono::seconds(1));
  EXPECT_FALSE(result.output.has_value());
  EXPECT_NE(result.failure.find("hung"), std::string::npos) << result.failure;
}

TEST(RunIsolated, ReportsAnExceptionWithItsMessage) {
  const auto result = run_isolated([]() -> std::string { throw std::runtime_error("bad file"); },
                                   std::chrono::seconds(10));
  EXPECT_FALSE(result.output.has_value());
  EXPECT_EQ(result.failure, "bad file");
}
