#include <gtest/gtest.h>

#include <string>

#include "runtime/heartbeat/heartbeat_protocol.hpp"
#include "runtime/heartbeat/launcher_link.hpp"

namespace lazarus::detail {
namespace {

Message sample_hello() {
  Message hello = make_message(MessageType::hello);
  hello.token = "0123456789abcdef";
  hello.rank = 3;
  hello.size = 4;
  hello.node = "n2";
  hello.pid = 4242;
  hello.attempt = 2;
  return hello;
}

// The line without its newline, as the server hands it to decode().
std::string line_of(const Message& message) {
  std::string text = encode(message);
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line only";
  text.pop_back();
  return text;
}

TEST(HeartbeatProtocol, HelloRoundTrips) {
  const auto decoded = decode(line_of(sample_hello()));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->type, MessageType::hello);
  EXPECT_EQ(decoded->token, "0123456789abcdef");
  EXPECT_EQ(decoded->rank, 3);
  EXPECT_EQ(decoded->size, 4);
  EXPECT_EQ(decoded->node, "n2");
  EXPECT_EQ(decoded->pid, 4242);
  EXPECT_EQ(decoded->attempt, 2);
}

TEST(HeartbeatProtocol, MessagesWithoutFieldsRoundTrip) {
  for (const MessageType type :
       {MessageType::beat, MessageType::progress, MessageType::bye, MessageType::stop, MessageType::stopping}) {
    const auto decoded = decode(line_of(make_message(type)));
    ASSERT_TRUE(decoded.has_value()) << static_cast<int>(type);
    EXPECT_EQ(decoded->type, type);
  }
}

TEST(HeartbeatProtocol, CheckpointAndRestoreCarryTheirVersion) {
  for (const MessageType type : {MessageType::checkpoint, MessageType::restore}) {
    const auto decoded = decode(line_of(make_message(type, 18446744073709551615ULL)));
    ASSERT_TRUE(decoded.has_value()) << static_cast<int>(type);
    EXPECT_EQ(decoded->type, type);
    EXPECT_EQ(decoded->version, 18446744073709551615ULL);
  }
  const auto zero = decode(line_of(make_message(MessageType::restore, 0)));
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->version, 0u);
}

TEST(HeartbeatProtocol, EncodesOneJsonObjectPerLine) {
  EXPECT_EQ(encode(make_message(MessageType::beat)), "{\"type\":\"beat\"}\n");
  EXPECT_EQ(encode(make_message(MessageType::checkpoint, 7)), "{\"type\":\"checkpoint\",\"version\":7}\n");
}

// The launcher's request and the ranks' answer (Session::should_stop()), byte for byte.
TEST(HeartbeatProtocol, EncodesStopAndStoppingAsTheirTypeAlone) {
  EXPECT_EQ(encode(make_message(MessageType::stop)), "{\"type\":\"stop\"}\n");
  EXPECT_EQ(encode(make_message(MessageType::stopping)), "{\"type\":\"stopping\"}\n");
  const auto stop = decode(R"({"type":"stop"})");
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->type, MessageType::stop);
  const auto stopping = decode(R"({"type":"stopping"})");
  ASSERT_TRUE(stopping.has_value());
  EXPECT_EQ(stopping->type, MessageType::stopping);
}

// Every type decodes back to itself from its own encoding: no name is shared or missing.
TEST(HeartbeatProtocol, EveryTypeRoundTripsThroughItsName) {
  for (const MessageType type : {MessageType::hello, MessageType::beat, MessageType::progress, MessageType::checkpoint,
                                 MessageType::restore, MessageType::bye, MessageType::stop, MessageType::stopping}) {
    Message message = type == MessageType::hello ? sample_hello() : make_message(type, 5);
    const auto decoded = decode(line_of(message));
    ASSERT_TRUE(decoded.has_value()) << static_cast<int>(type);
    EXPECT_EQ(decoded->type, type) << line_of(message);
  }
}

TEST(HeartbeatProtocol, DecodeRejectsTextThatIsNotJson) {
  EXPECT_FALSE(decode("hello"));
  EXPECT_FALSE(decode(""));
  EXPECT_FALSE(decode("{\"type\":\"beat\""));
}

TEST(HeartbeatProtocol, DecodeRejectsJsonThatIsNotAnObject) {
  EXPECT_FALSE(decode("[\"beat\"]"));
  EXPECT_FALSE(decode("\"beat\""));
  EXPECT_FALSE(decode("42"));
  EXPECT_FALSE(decode("null"));
}

TEST(HeartbeatProtocol, DecodeRejectsAnUnknownOrMissingType) {
  EXPECT_FALSE(decode(R"({"type":"reboot"})"));
  EXPECT_FALSE(decode(R"({"type":"STOP"})"));
  EXPECT_FALSE(decode(R"({"type":"stop "})"));
  EXPECT_FALSE(decode(R"({"type":5})"));
  EXPECT_FALSE(decode(R"({"version":5})"));
}

TEST(HeartbeatProtocol, DecodeRejectsAHelloMissingAField) {
  for (const char* field : {"token", "rank", "size", "node", "pid", "attempt"}) {
    std::string line = line_of(sample_hello());
    const std::string key = std::string("\"") + field + "\":";
    const auto at = line.find(key);
    ASSERT_NE(at, std::string::npos) << field;
    line.replace(at, key.size(), std::string("\"x") + field + "\":");  // renamed away
    EXPECT_FALSE(decode(line)) << "hello without " << field << ": " << line;
  }
}

TEST(HeartbeatProtocol, DecodeRejectsAHelloWithFieldsOfTheWrongType) {
  EXPECT_FALSE(decode(R"({"type":"hello","token":"t","rank":"0","size":2,"node":"n","pid":5,"attempt":1})"));
  EXPECT_FALSE(decode(R"({"type":"hello","token":7,"rank":0,"size":2,"node":"n","pid":5,"attempt":1})"));
}

TEST(HeartbeatProtocol, DecodeRejectsAHelloWithAnImpossibleRankOrPid) {
  Message hello = sample_hello();
  hello.rank = 4;  // == size
  EXPECT_FALSE(decode(line_of(hello)));
  hello.rank = 5;
  EXPECT_FALSE(decode(line_of(hello)));
  hello.rank = -1;
  EXPECT_FALSE(decode(line_of(hello)));
  hello = sample_hello();
  hello.pid = 0;
  EXPECT_FALSE(decode(line_of(hello)));
  hello.pid = -7;
  EXPECT_FALSE(decode(line_of(hello)));
}

TEST(HeartbeatProtocol, DecodeRejectsACheckpointWithoutVersion) {
  EXPECT_FALSE(decode(R"({"type":"checkpoint"})"));
  EXPECT_FALSE(decode(R"({"type":"restore","version":"3"})"));
}

// A version is an unsigned count: -1 must not become 18446744073709551615.
TEST(HeartbeatProtocol, DecodeRejectsANegativeVersion) {
  EXPECT_FALSE(decode(R"({"type":"checkpoint","version":-1})"));
}

// A rank too large for an int must not wrap around to a valid rank.
TEST(HeartbeatProtocol, DecodeRejectsARankThatOverflowsAnInt) {
  EXPECT_FALSE(decode(R"({"type":"hello","token":"t","rank":4294967296,"size":2,"node":"n","pid":5,"attempt":1})"));
}

TEST(HeartbeatProtocol, DecodeAcceptsExactlyTheLongestLine) {
  Message hello = sample_hello();
  hello.token.clear();
  const std::size_t base = line_of(hello).size();
  hello.token.assign(kMaxMessageBytes - base, 't');
  ASSERT_EQ(line_of(hello).size(), kMaxMessageBytes);
  EXPECT_TRUE(decode(line_of(hello)));
  hello.token += 't';
  ASSERT_EQ(line_of(hello).size(), kMaxMessageBytes + 1);
  EXPECT_FALSE(decode(line_of(hello)));
}

TEST(HeartbeatProtocol, DecodeRejectsLinesLongerThanTheLimitEvenWithSpaces) {
  // Valid JSON, but padded past the limit.
  const std::string line = R"({"type":"beat"})" + std::string(kMaxMessageBytes, ' ');
  EXPECT_FALSE(decode(line));
}

// Found while writing fuzz_heartbeat's round trip: the detail was cut to the room left counted in
// bytes before JSON escaping, so a detail of quotes, backslashes or control characters made a line of
// up to six times that (which the launcher refuses, dropping the rank's connection), and a cut inside
// a UTF-8 character made encode throw (and the restore report was lost).
TEST(HeartbeatProtocol, ALongRestoreDetailIsCutToFitWhateverItHolds) {
  for (const std::string unit : {"rank 2: partner copy from node n3; ", "\"", "\\", "\t", "\x01", "\xc3\xa9",
                                 "\xe2\x82\xac", "x\xc3\xa9"}) {
    Message message = make_message(MessageType::restore, 20);
    message.level = "local";
    while (message.detail.size() < 5000) message.detail += unit;
    const std::string line = encode(message);
    ASSERT_LE(line.size(), kMaxMessageBytes + 1) << unit;
    const auto decoded = decode(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(decoded.has_value()) << unit;
    EXPECT_TRUE(message.detail.starts_with(decoded->detail)) << unit;
    EXPECT_GT(decoded->detail.size(), 100u) << unit;
  }
}

TEST(HeartbeatProtocol, TextThatIsNotUtf8IsEncodedNotThrown) {
  Message message = make_message(MessageType::hello);
  message.token = "t";
  message.rank = 0;
  message.size = 1;
  message.node = "n\xff" "1";
  message.pid = 1;
  std::string line;
  ASSERT_NO_THROW(line = encode(message));
  const auto decoded = decode(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->node, "n\xef\xbf\xbd" "1");  // U+FFFD in place of the byte
}

// Issue 13, item 15: LAZARUS_HEARTBEAT=1e300 beat every 10 ms and 1e13 overflowed the conversion to
// milliseconds. The rank takes the launcher's bounds for --heartbeat, 0.01 to 60 s, and else 0.5 s.
TEST(HeartbeatInterval, TakesTheLaunchersBoundsAndElseTheDefault) {
  std::string warning;
  EXPECT_EQ(heartbeat_interval("0.2", warning), std::chrono::milliseconds(200));
  EXPECT_EQ(warning, "");
  EXPECT_EQ(heartbeat_interval("0.01", warning), std::chrono::milliseconds(10));
  EXPECT_EQ(heartbeat_interval("60", warning), std::chrono::milliseconds(60000));
  for (const char* bad : {"1e300", "1e13", "61", "0", "0.001", "-1", "nan", "inf", "0.5s", "", " ", "abc"}) {
    warning.clear();
    EXPECT_EQ(heartbeat_interval(bad, warning), std::chrono::milliseconds(500)) << bad;
    EXPECT_NE(warning.find("is not a number of seconds from 0.01 to 60"), std::string::npos) << bad << ": " << warning;
  }
}

}  // namespace
}  // namespace lazarus::detail
