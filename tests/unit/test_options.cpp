#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "lazarus/errors.hpp"
#include "lazarus/options.hpp"

namespace lazarus {
namespace {

// Sets LAZARUS_* variables for one test and clears every one of them afterwards.
class OptionsFromEnv : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* name : {"LAZARUS_DIR", "LAZARUS_JOB", "LAZARUS_KEEP", "LAZARUS_COMPRESS", "LAZARUS_INTERVAL",
                             "LAZARUS_CHUNK_BYTES", "LAZARUS_VERBOSE", "LAZARUS_LOCAL_DIR", "LAZARUS_REDUNDANCY",
                             "LAZARUS_XOR_GROUP", "LAZARUS_FLUSH_EVERY", "LAZARUS_MODE",
                             "LAZARUS_STAGING_BYTES", "LAZARUS_THREADS", "LAZARUS_MTBF"}) {
      ::unsetenv(name);
    }
  }
  static void set(const char* name, const char* value) { ::setenv(name, value, 1); }

  // The ConfigError message from_env() throws, or "" when it does not throw.
  static std::string error_of_from_env() {
    try {
      Options::from_env();
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  }
};

TEST_F(OptionsFromEnv, DefaultsWhenNothingIsSet) {
  const Options options = Options::from_env();
  EXPECT_EQ(options.dir, "./lazarus-ckpt");
  EXPECT_EQ(options.job, "default");
  EXPECT_EQ(options.keep, 2);
  EXPECT_EQ(options.compression_level, 1);
  EXPECT_EQ(options.interval_seconds, 0.0);
  EXPECT_EQ(options.chunk_bytes, std::size_t{4} << 20);
  EXPECT_FALSE(options.verbose);
  EXPECT_TRUE(options.local_dir.empty());  // one global level
  EXPECT_EQ(options.redundancy, lazarus::Redundancy::partner);
  EXPECT_EQ(options.xor_group, 4);
  EXPECT_EQ(options.flush_every, 10);
  EXPECT_EQ(options.mode, lazarus::Mode::sync);
  EXPECT_EQ(options.staging_bytes, 0u);
  EXPECT_EQ(options.threads, 0);
  EXPECT_EQ(options.mtbf_seconds, 0.0);
}

TEST_F(OptionsFromEnv, EveryVariableOverridesItsField) {
  set("LAZARUS_DIR", "/scratch/ckpt");
  set("LAZARUS_JOB", "run-7.b");
  set("LAZARUS_KEEP", "5");
  set("LAZARUS_COMPRESS", "0");
  set("LAZARUS_INTERVAL", "2.5");
  set("LAZARUS_CHUNK_BYTES", "512K");
  set("LAZARUS_VERBOSE", "yes");
  set("LAZARUS_LOCAL_DIR", "/dev/shm/ckpt");
  set("LAZARUS_REDUNDANCY", "xor");
  set("LAZARUS_XOR_GROUP", "3");
  set("LAZARUS_FLUSH_EVERY", "0");
  set("LAZARUS_MODE", "async");
  set("LAZARUS_STAGING_BYTES", "1G");
  set("LAZARUS_THREADS", "3");
  const Options options = Options::from_env();
  EXPECT_EQ(options.dir, "/scratch/ckpt");
  EXPECT_EQ(options.job, "run-7.b");
  EXPECT_EQ(options.keep, 5);
  EXPECT_EQ(options.compression_level, 0);
  EXPECT_EQ(options.interval_seconds, 2.5);
  EXPECT_EQ(options.chunk_bytes, std::size_t{512} << 10);
  EXPECT_TRUE(options.verbose);
  EXPECT_EQ(options.local_dir, "/dev/shm/ckpt");
  EXPECT_EQ(options.redundancy, lazarus::Redundancy::xor_parity);
  EXPECT_EQ(options.xor_group, 3);
  EXPECT_EQ(options.flush_every, 0);
  EXPECT_EQ(options.mode, lazarus::Mode::async);
  EXPECT_EQ(options.staging_bytes, std::size_t{1} << 30);
  EXPECT_EQ(options.threads, 3);
}

TEST_F(OptionsFromEnv, MtbfSetsTheYoungDalyPeriodButNotTogetherWithAFixedInterval) {
  set("LAZARUS_MTBF", "3600");
  EXPECT_EQ(Options::from_env().mtbf_seconds, 3600.0);
  set("LAZARUS_INTERVAL", "60");
  EXPECT_THROW(Options::from_env(), ConfigError);
}

TEST_F(OptionsFromEnv, RedundancyNamesEachScheme) {
  set("LAZARUS_REDUNDANCY", "none");
  EXPECT_EQ(Options::from_env().redundancy, lazarus::Redundancy::none);
  set("LAZARUS_REDUNDANCY", "partner");
  EXPECT_EQ(Options::from_env().redundancy, lazarus::Redundancy::partner);
}

TEST_F(OptionsFromEnv, TheLocalLevelMustNotBeTheGlobalFolder) {
  set("LAZARUS_DIR", "/scratch/ckpt");
  set("LAZARUS_LOCAL_DIR", "/scratch/ckpt/");
  EXPECT_THROW(Options::from_env(), ConfigError);
}

TEST_F(OptionsFromEnv, ChunkBytesAcceptsBinarySuffixes) {
  set("LAZARUS_CHUNK_BYTES", "8M");
  EXPECT_EQ(Options::from_env().chunk_bytes, std::size_t{8} << 20);
  set("LAZARUS_CHUNK_BYTES", "1GiB");
  EXPECT_EQ(Options::from_env().chunk_bytes, std::size_t{1} << 30);
  set("LAZARUS_CHUNK_BYTES", "65536");
  EXPECT_EQ(Options::from_env().chunk_bytes, 65536u);
}

struct BadValue {
  const char* variable;
  const char* value;
};

class OptionsBadValue : public OptionsFromEnv, public ::testing::WithParamInterface<BadValue> {};

TEST_P(OptionsBadValue, ThrowsConfigErrorNamingTheVariableAndValue) {
  set(GetParam().variable, GetParam().value);
  const std::string message = error_of_from_env();
  ASSERT_FALSE(message.empty()) << GetParam().variable << "=" << GetParam().value << " was accepted";
  EXPECT_NE(message.find(GetParam().variable), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    EveryVariable, OptionsBadValue,
    ::testing::Values(BadValue{"LAZARUS_DIR", ""}, BadValue{"LAZARUS_JOB", ""}, BadValue{"LAZARUS_JOB", "../up"},
                      BadValue{"LAZARUS_JOB", "a/b"}, BadValue{"LAZARUS_JOB", ".hidden"},
                      BadValue{"LAZARUS_KEEP", "0"}, BadValue{"LAZARUS_KEEP", "-1"}, BadValue{"LAZARUS_KEEP", "two"},
                      BadValue{"LAZARUS_KEEP", "3x"}, BadValue{"LAZARUS_KEEP", "99999999999"},
                      BadValue{"LAZARUS_COMPRESS", "23"}, BadValue{"LAZARUS_COMPRESS", "-1"},
                      BadValue{"LAZARUS_COMPRESS", "fast"}, BadValue{"LAZARUS_INTERVAL", "-1"},
                      BadValue{"LAZARUS_INTERVAL", "soon"}, BadValue{"LAZARUS_INTERVAL", "inf"},
                      BadValue{"LAZARUS_CHUNK_BYTES", "12"}, BadValue{"LAZARUS_CHUNK_BYTES", "4T"},
                      BadValue{"LAZARUS_CHUNK_BYTES", "2G"}, BadValue{"LAZARUS_CHUNK_BYTES", "M"},
                      BadValue{"LAZARUS_VERBOSE", "maybe"}, BadValue{"LAZARUS_REDUNDANCY", "mirror"},
                      BadValue{"LAZARUS_XOR_GROUP", "1"}, BadValue{"LAZARUS_XOR_GROUP", "four"},
                      BadValue{"LAZARUS_FLUSH_EVERY", "-1"}, BadValue{"LAZARUS_MODE", "later"},
                      BadValue{"LAZARUS_STAGING_BYTES", "lots"}, BadValue{"LAZARUS_THREADS", "-2"},
                      BadValue{"LAZARUS_THREADS", "1000"}, BadValue{"LAZARUS_MTBF", "-5"}));

// Issue 13, item 15: a value too large for its field was printed whole (all 300 digits of it) and
// called "not an integer". Now the message shows it as given, cut after 40 characters, and says what
// the field allows.
struct OutOfRange {
  const char* variable;
  std::string value;
  std::string expected;  // a part of the message
};

class OptionsOutOfRange : public OptionsFromEnv, public ::testing::WithParamInterface<OutOfRange> {};

TEST_P(OptionsOutOfRange, ShowsTheValueAsGivenCutWhenLongAndTheAllowedRange) {
  set(GetParam().variable, GetParam().value.c_str());
  const std::string message = error_of_from_env();
  EXPECT_NE(message.find(GetParam().expected), std::string::npos) << message;
  EXPECT_LT(message.size(), 200u) << message;
}

const std::string k300Digits(300, '9');
const std::string k40Nines(40, '9');

INSTANTIATE_TEST_SUITE_P(
    EveryNumber, OptionsOutOfRange,
    ::testing::Values(
        OutOfRange{"LAZARUS_KEEP", k300Digits,
                   "LAZARUS_KEEP='" + k40Nines + "...' (300 characters): out of range: it must be at least 1"},
        OutOfRange{"LAZARUS_KEEP", "99999999999", "LAZARUS_KEEP='99999999999': out of range: it must be at least 1"},
        OutOfRange{"LAZARUS_COMPRESS", "-99999999999", "out of range: it must be 0 (none) to 22 (zstd's maximum)"},
        OutOfRange{"LAZARUS_THREADS", k300Digits, "(300 characters): out of range: it must be 0 (automatic) to 256"},
        OutOfRange{"LAZARUS_XOR_GROUP", k300Digits, "out of range: it must be at least 2"},
        OutOfRange{"LAZARUS_FLUSH_EVERY", k300Digits, "out of range: it must be at least 0"},
        OutOfRange{"LAZARUS_INTERVAL", "1e400", "LAZARUS_INTERVAL='1e400': out of range: it must be a finite number"},
        OutOfRange{"LAZARUS_INTERVAL", "1" + std::string(400, '0'), "(401 characters): out of range"},
        OutOfRange{"LAZARUS_MTBF", "-1e300", "LAZARUS_MTBF='-1e300': out of range: it must be a finite number, at least 0"},
        OutOfRange{"LAZARUS_CHUNK_BYTES", k300Digits + "K", "(301 characters): out of range: it must be 4 KiB to 1 GiB"},
        OutOfRange{"LAZARUS_STAGING_BYTES", "99999999999999999999G", "out of range: it must be less than 16 EiB"}));

TEST(OptionsValidate, AcceptsTheDefaults) { EXPECT_NO_THROW(Options{}.validate()); }

TEST(OptionsValidate, RejectsOutOfRangeFields) {
  Options options;
  options.keep = 0;
  EXPECT_THROW(options.validate(), ConfigError);
  options = {};
  options.compression_level = 30;
  EXPECT_THROW(options.validate(), ConfigError);
  options = {};
  options.dir.clear();
  EXPECT_THROW(options.validate(), ConfigError);
  options = {};
  options.chunk_bytes = 100;
  EXPECT_THROW(options.validate(), ConfigError);
}

}  // namespace
}  // namespace lazarus
