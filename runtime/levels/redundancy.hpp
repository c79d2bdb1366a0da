#pragma once
// The second level of a multi-level checkpoint: what lets a lost node's files be rebuilt from the
// nodes that survive. Partner copies (each rank's file also kept by a rank of another node) or XOR
// parity (RAID-5 across a group of k ranks on k nodes: each member's file, padded to the group's
// largest, is cut into k-1 segments; stripe t XORs one segment of every member but t, and member t
// keeps that parity: 1/(k-1) extra space, any one member of a group can be rebuilt).
#include <cstdint>
#include <span>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "backends/posix/staging_buffer.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/levels/placement.hpp"

namespace lazarus::detail {

// A copy this rank keeps for another rank.
struct PartnerCopy {
  int rank = 0;  // whose file it is
  backends::StagingBuffer bytes;
};

// Collective (MPI only, so that it fails on every rank alike). Sends this rank's file (`mine`) to the
// rank that keeps its copy; returns the copies this rank keeps for others.
std::vector<PartnerCopy> exchange_partner_copies(const backends::Communicator& comm, const Placement& placement,
                                                 std::span<const std::byte> mine);

// Where the segments of an XOR group's files lie.
struct XorLayout {
  int members = 0;
  std::uint64_t segment_bytes = 0;  // also the size of each parity piece
  // Offset, in member `member`'s zero-padded file, of its segment in stripe `stripe` (stripe != member).
  std::uint64_t offset(int member, int stripe) const;
};
XorLayout xor_layout(int members, std::uint64_t largest_file_bytes);
// The layout of the XOR group of `rank` as `manifest` records it (its placement and file sizes).
XorLayout xor_layout_of(const Manifest& manifest, int rank);

// Collective (MPI only). Computes this rank's parity piece with the other members of its XOR group;
// empty for a rank in no group.
backends::StagingBuffer compute_xor_parity(const backends::Communicator& comm, const Placement& placement,
                                           std::span<const std::byte> mine);

// The file of group member `missing` (`missing_bytes` long), from every other member's file and
// parity piece (indexed by member; the missing member's entries are not used).
backends::StagingBuffer xor_rebuild(const XorLayout& layout, int missing, std::uint64_t missing_bytes,
                                    const std::vector<std::span<const std::byte>>& files,
                                    const std::vector<std::span<const std::byte>>& parity);

}  // namespace lazarus::detail
