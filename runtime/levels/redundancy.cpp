#include "runtime/levels/redundancy.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstring>


namespace lazarus::detail {
namespace {

// dst ^= src, for `bytes` bytes; 8 at a time (the compiler vectorizes it).
void xor_into(std::byte* destination, const std::byte* source, std::size_t bytes) {
  std::size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::memcpy(&a, destination + i, 8);
    std::memcpy(&b, source + i, 8);
    a ^= b;
    std::memcpy(destination + i, &a, 8);
  }
  for (; i < bytes; ++i) destination[i] ^= source[i];
}

// XORs member `member`'s segment for `stripe` into `destination` (bytes past the end of its file
// count as zeros: files are padded to the group's largest).
void xor_segment(std::byte* destination, std::span<const std::byte> file, const XorLayout& layout, int member,
                 int stripe) {
  const std::uint64_t begin = layout.offset(member, stripe);
  if (begin >= file.size()) return;
  const std::uint64_t end = std::min<std::uint64_t>(file.size(), begin + layout.segment_bytes);
  xor_into(destination, file.data() + begin, static_cast<std::size_t>(end - begin));
}

}  // namespace

std::vector<PartnerCopy> exchange_partner_copies(const backends::Communicator& comm, const Placement& placement,
                                                 std::span<const std::byte> mine) {
  const int me = comm.rank();
  std::vector<backends::Communicator::Outgoing> sends;
  const int keeper = placement.partner.at(static_cast<std::size_t>(me));
  if (keeper >= 0) sends.push_back({keeper, mine});
  std::vector<int> sources;  // the ranks whose copies this rank keeps
  for (int rank = 0; rank < comm.size(); ++rank) {
    if (placement.partner[static_cast<std::size_t>(rank)] == me) sources.push_back(rank);
  }
  auto received = comm.exchange(sends, sources);
  std::vector<PartnerCopy> copies;
  for (std::size_t i = 0; i < sources.size(); ++i) copies.push_back({sources[i], std::move(received[i])});
  return copies;
}

std::uint64_t XorLayout::offset(int member, int stripe) const {
  const int index = stripe < member ? stripe : stripe - 1;
  return static_cast<std::uint64_t>(index) * segment_bytes;
}

XorLayout xor_layout(int members, std::uint64_t largest_file_bytes) {
  const auto segments = static_cast<std::uint64_t>(members - 1);
  return {members, std::max<std::uint64_t>(1, (largest_file_bytes + segments - 1) / segments)};
}

XorLayout xor_layout_of(const Manifest& manifest, int rank) {
  const Placement& placement = manifest.placement.value();
  const auto& members = placement.xor_groups.at(static_cast<std::size_t>(placement.xor_group_of(rank).first));
  std::uint64_t largest = 0;
  for (const int member : members) largest = std::max(largest, manifest.ranks.at(static_cast<std::size_t>(member)).file_bytes);
  return xor_layout(static_cast<int>(members.size()), largest);
}

backends::StagingBuffer compute_xor_parity(const backends::Communicator& comm, const Placement& placement,
                                           std::span<const std::byte> mine) {
  const auto [group_index, member] = placement.xor_group_of(comm.rank());
  // Ranks in no group still take part in the split (MPI_Comm_split is collective), and leave.
  const backends::Communicator group = comm.split(group_index >= 0 ? group_index : MPI_UNDEFINED, member);
  if (group_index < 0) return {};
  const XorLayout layout = xor_layout(group.size(), group.max(mine.size()));
  const backends::StagingBuffer nothing(static_cast<std::size_t>(layout.segment_bytes));  // zeros
  backends::StagingBuffer segment(static_cast<std::size_t>(layout.segment_bytes));
  backends::StagingBuffer parity(static_cast<std::size_t>(layout.segment_bytes));
  for (int stripe = 0; stripe < layout.members; ++stripe) {
    std::span<const std::byte> contribution(nothing.data(), nothing.size());
    if (stripe != member) {
      std::memset(segment.data(), 0, segment.size());
      xor_segment(segment.data(), mine, layout, member, stripe);
      contribution = {segment.data(), segment.size()};
    }
    group.reduce_xor(contribution, {parity.data(), parity.size()}, stripe);
  }
  return parity;
}

backends::StagingBuffer xor_rebuild(const XorLayout& layout, int missing, std::uint64_t missing_bytes,
                                    const std::vector<std::span<const std::byte>>& files,
                                    const std::vector<std::span<const std::byte>>& parity) {
  backends::StagingBuffer padded(static_cast<std::size_t>(layout.segment_bytes) *
                                 static_cast<std::size_t>(layout.members - 1));
  for (int stripe = 0; stripe < layout.members; ++stripe) {
    if (stripe == missing) continue;
    std::byte* segment = padded.data() + layout.offset(missing, stripe);
    const auto& piece = parity.at(static_cast<std::size_t>(stripe));
    xor_into(segment, piece.data(), std::min<std::size_t>(piece.size(), static_cast<std::size_t>(layout.segment_bytes)));
    for (int member = 0; member < layout.members; ++member) {
      if (member == stripe || member == missing) continue;
      xor_segment(segment, files.at(static_cast<std::size_t>(member)), layout, member, stripe);
    }
  }
  backends::StagingBuffer file(static_cast<std::size_t>(missing_bytes));
  if (file.size() > 0) std::memcpy(file.data(), padded.data(), file.size());  // an empty buffer's data() is null
  return file;
}

}  // namespace lazarus::detail
