#pragma once
// The messages between ranks and `lazarus run`: one JSON object per line, at most
// kMaxMessageBytes long. The first line of a connection must be a valid "hello" carrying the job's
// token, else the launcher closes the connection. Shared by the runtime (client) and the launcher
// (server); docs/launcher.md describes them. Every type but `stop` goes from a rank to the launcher;
// `stop` is the one the launcher sends to the ranks.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lazarus::detail {

inline constexpr std::size_t kMaxMessageBytes = 1024;

enum class MessageType {
  hello,
  beat,
  progress,
  checkpoint,
  restore,
  bye,
  stop,      // launcher -> rank: take a final checkpoint and stop cleanly (Session::should_stop())
  stopping,  // rank -> launcher, once: should_stop() returned true on this rank
};

struct Message {
  MessageType type = MessageType::beat;
  // hello
  std::string token;
  int rank = -1;
  int size = 0;
  std::string node;
  long pid = 0;
  int attempt = 0;
  // checkpoint, restore
  std::uint64_t version = 0;
  // restore (optional): the level it came from ("local", "global") and what was rebuilt
  std::string level;
  std::string detail;
};

// This machine's boot id (/proc/sys/kernel/random/boot_id; empty where unreadable). The launcher hands
// it to the ranks with its Unix socket's path: a rank whose machine has the same id runs where that
// socket is (ids of two machines are equal only by accident of 122 random bits).
std::string this_machine_boot_id();

// A message with no fields but its type (and version, for checkpoint and restore).
Message make_message(MessageType type, std::uint64_t version = 0);

// One line of text, newline included. A restore's detail is cut so that the line stays within
// kMaxMessageBytes. Throws only std::bad_alloc (text that is not UTF-8 is written with U+FFFD in its
// place).
std::string encode(const Message& message);
// The message in one line (without its newline), or nullopt when it is malformed.
std::optional<Message> decode(std::string_view line) noexcept;

}  // namespace lazarus::detail
