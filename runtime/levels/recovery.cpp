#include "runtime/levels/recovery.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/posix/durable_io.hpp"
#include "backends/posix/file_checksum.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/levels/redundancy.hpp"

namespace lazarus::detail {
namespace {

// One input of a rank's recovery: where it comes from and, once there, its bytes.
struct Input {
  Source source;
  int holder = -1;
};

// The inputs rank `rank` needs from other ranks, in a fixed order that senders and receiver share.
std::vector<Input> inputs_of(const Recovery& recovery, const NodeMap& nodes) {
  std::vector<Input> inputs;
  auto add = [&](const Source& source) { inputs.push_back({source, nodes.leader_of(source.node)}); };
  if (recovery.kind == Recovery::Kind::fetch) add(recovery.source);
  if (recovery.kind == Recovery::Kind::xor_rebuild) {
    for (std::size_t m = 0; m < recovery.member_files.size(); ++m) {
      if (recovery.member_files[m]) add(*recovery.member_files[m]);
      if (recovery.member_parity[m]) add(*recovery.member_parity[m]);
    }
  }
  return inputs;
}

// Reads a file of this node's version folder whole; nullopt (a damaged source) when it is missing,
// of another size or fails its checksum.
std::optional<backends::HashedFile> read_checked(const std::filesystem::path& version_dir, const std::string& file,
                                                 const Manifest& manifest) {
  const FileRecord expected = file_record(manifest, file);
  try {
    backends::HashedFile read = backends::read_and_hash_file(version_dir / file, expected.bytes);
    if (read.xxh3 == expected.xxh3) return read;
  } catch (const IoError&) {
  }
  return std::nullopt;
}

bool intact(std::span<const std::byte> bytes, const FileRecord& expected) {
  return bytes.size() == expected.bytes && backends::xxh3_64(bytes) == expected.xxh3;
}

}  // namespace

std::vector<Source> share_sources(const backends::Communicator& comm, const std::vector<Source>& mine) {
  nlohmann::json list = nlohmann::json::array();
  for (const Source& source : mine) list.push_back({source.node, source.file});
  std::set<Source> all;
  for (const auto& text : comm.all_gather(list.dump())) {
    for (const auto& entry : nlohmann::json::parse(text)) all.insert({entry.at(0).get<std::string>(), entry.at(1).get<std::string>()});
  }
  return {all.begin(), all.end()};
}

std::vector<Source> carry_out_recovery(const backends::Communicator& comm, const NodeMap& nodes,
                                       const RecoveryPlan& plan, const Manifest& manifest,
                                       const std::filesystem::path& local_job_dir) {
  const int me = comm.rank();
  const auto version_dir = version_directory(local_job_dir, plan.version);

  // 1. What this rank sends: every input some rank needs from this rank's node, read and checked.
  std::vector<backends::HashedFile> outgoing_files;
  std::vector<backends::Communicator::Outgoing> sends;
  std::vector<Source> damaged;
  for (std::size_t rank = 0; rank < plan.ranks.size(); ++rank) {
    for (const Input& input : inputs_of(plan.ranks[rank], nodes)) {
      if (input.holder != me) continue;
      auto file = read_checked(version_dir, input.source.file, manifest);
      if (!file) {
        damaged.push_back(input.source);
        file.emplace();  // send nothing: the receiver sees an empty, damaged input
      }
      outgoing_files.push_back(std::move(*file));
      sends.push_back({static_cast<int>(rank), {outgoing_files.back().bytes.data(), outgoing_files.back().bytes.size()}});
    }
  }
  // outgoing_files may have moved while growing: take the spans again.
  for (std::size_t i = 0; i < sends.size(); ++i) sends[i].bytes = {outgoing_files[i].bytes.data(), outgoing_files[i].bytes.size()};

  // 2. The transfers (MPI only).
  const Recovery& mine = plan.ranks.at(static_cast<std::size_t>(me));
  const std::vector<Input> inputs = inputs_of(mine, nodes);
  std::vector<int> sources;
  for (const Input& input : inputs) sources.push_back(input.holder);
  const auto received = comm.exchange(sends, sources);

  // 3. This rank's file, checked and written into its node's folder.
  const RankRecord& record = manifest.ranks.at(static_cast<std::size_t>(me));
  run_collectively(comm, [&] {
    std::error_code error;
    std::filesystem::create_directories(version_dir, error);
    if (error) throw IoError(fmt::format("cannot create {}: {}", version_dir.string(), error.message()));
    const FileRecord expected{record.file_bytes, record.file_xxh3};
    std::optional<backends::HashedFile> copy;
    std::span<const std::byte> result;
    backends::StagingBuffer rebuilt;
    switch (mine.kind) {
      case Recovery::Kind::in_place:
        return;  // read and verified by the restore itself
      case Recovery::Kind::local_copy:
        copy = read_checked(version_dir, mine.source.file, manifest);
        if (!copy) {
          damaged.push_back(mine.source);
          return;
        }
        result = {copy->bytes.data(), copy->bytes.size()};
        break;
      case Recovery::Kind::fetch:
        result = {received.at(0).data(), received.at(0).size()};
        if (!intact(result, expected)) {
          damaged.push_back(mine.source);
          return;
        }
        break;
      case Recovery::Kind::xor_rebuild: {
        std::vector<std::span<const std::byte>> files(mine.member_files.size());
        std::vector<std::span<const std::byte>> parity(mine.member_parity.size());
        std::size_t next = 0;
        bool all_intact = true;
        for (std::size_t m = 0; m < mine.member_files.size(); ++m) {
          for (auto* part : {&mine.member_files[m], &mine.member_parity[m]}) {
            if (!*part) continue;
            const auto& bytes = received.at(next++);
            std::span<const std::byte> piece(bytes.data(), bytes.size());
            if (!intact(piece, file_record(manifest, (*part)->file))) {
              damaged.push_back(**part);
              all_intact = false;
            }
            (part == &mine.member_files[m] ? files : parity)[m] = piece;
          }
        }
        if (!all_intact) return;
        rebuilt = xor_rebuild(xor_layout_of(manifest, me), mine.member, record.file_bytes, files, parity);
        result = {rebuilt.data(), rebuilt.size()};
        if (!intact(result, expected)) {
          throw CorruptCheckpoint(fmt::format("rank {}'s file of version {} rebuilt from XOR parity does not match its "
                                              "checksum although every input did",
                                              me, plan.version));
        }
        break;
      }
    }
    backends::write_file_durably(version_dir / record.file, result);
  });
  damaged = share_sources(comm, damaged);
  if (!damaged.empty()) return damaged;

  // 4. Every node now holding rebuilt files also holds the manifest (retention is left to the next commit).
  std::error_code error;
  const bool publishes = nodes.is_leader(me) && !std::filesystem::exists(version_dir / kManifestFileName, error);
  publish_collectively(comm, publishes, plan.version, [&] { return manifest; }, {local_job_dir, 0, me, "rebuild"});
  return {};
}

}  // namespace lazarus::detail
