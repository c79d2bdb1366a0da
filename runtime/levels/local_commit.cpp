#include "runtime/levels/local_commit.hpp"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "backends/posix/file_checksum.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/levels/redundancy.hpp"

namespace lazarus::detail {
namespace {

std::string serialize_piece(const PieceRecord& piece) { return fmt::format("{} {}", piece.bytes, piece.xxh3); }

PieceRecord parse_piece(const std::string& text) {
  PieceRecord piece;
  if (std::sscanf(text.c_str(), "%llu %llu", reinterpret_cast<unsigned long long*>(&piece.bytes),
                  reinterpret_cast<unsigned long long*>(&piece.xxh3)) != 2) {
    throw Error("malformed parity record '" + text + "'");
  }
  return piece;
}

}  // namespace

NodeMap NodeMap::gather(const backends::Communicator& comm) { return NodeMap(comm.all_gather(this_node_name())); }

int NodeMap::leader_of(const std::string& node) const {
  const auto found = std::find(rank_nodes_.begin(), rank_nodes_.end(), node);
  return found == rank_nodes_.end() ? -1 : static_cast<int>(found - rank_nodes_.begin());
}

LocalCommit finish_local_commit(const backends::Communicator& comm, const Options& options, const NodeMap& nodes,
                                const std::filesystem::path& local_job_dir, std::uint64_t version,
                                const RankRecord& mine, std::uint64_t protect) {
  const int me = comm.rank();
  const auto version_dir = version_directory(local_job_dir, version);
  LocalCommit result;

  // L2. The MPI steps run outside run_collectively: a rank that failed a local step must not leave the
  // others waiting in a transfer, so every local step is agreed on before the next MPI step.
  Placement placement = plan_placement(nodes.rank_nodes(), options.redundancy, options.xor_group, result.warnings);
  PieceRecord parity;
  if (placement.redundancy != Redundancy::none) {
    backends::HashedFile file;
    run_collectively(comm, [&] {
      file = backends::read_and_hash_file(version_dir / mine.file, mine.file_bytes);
      if (file.xxh3 != mine.file_xxh3) throw IoError(fmt::format("{} changed on disk right after it was written",
                                                                 (version_dir / mine.file).string()));
    });
    const std::span<const std::byte> bytes(file.bytes.data(), file.bytes.size());
    if (placement.redundancy == Redundancy::partner) {
      const auto copies = exchange_partner_copies(comm, placement, bytes);
      run_collectively(comm, [&] {
        for (const auto& copy : copies) {
          backends::write_file_durably(version_dir / partner_file_name(copy.rank), {copy.bytes.data(), copy.bytes.size()});
        }
      });
    } else {
      const backends::StagingBuffer piece = compute_xor_parity(comm, placement, bytes);
      run_collectively(comm, [&] {
        if (piece.size() == 0) return;
        backends::write_file_durably(version_dir / parity_file_name(me), {piece.data(), piece.size()});
        parity = {piece.size(), backends::xxh3_64(piece.data(), piece.size())};
      });
    }
  }

  // The manifest, with the placement, built by rank 0 and written by one rank per node.
  const auto records = comm.gather(serialize_rank_record(mine), 0);
  const auto parities = comm.gather(serialize_piece(parity), 0);
  std::string text;
  run_collectively(comm, [&] {
    if (me != 0) return;
    Manifest manifest = manifest_of_records(options, version, comm.size(), records);
    for (std::size_t rank = 0; rank < parities.size(); ++rank) placement.parity[rank] = parse_piece(parities[rank]);
    manifest.placement = placement;
    text = serialize_manifest(manifest);
  });
  text = comm.broadcast(std::move(text), 0);
  result.manifest = parse_manifest(text, "the new local manifest");
  int keep = options.keep;
  if (protect > 0 && protect <= version) keep = std::max<int>(keep, static_cast<int>(version - protect + 1));
  publish_collectively(comm, nodes.is_leader(me), version, [&] { return result.manifest; }, {local_job_dir, keep, me});
  for (const auto& region : mine.regions) result.bytes += region.bytes;
  result.file_bytes = mine.file_bytes;
  return result;
}

}  // namespace lazarus::detail
