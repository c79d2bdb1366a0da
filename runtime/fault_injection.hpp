#pragma once
// Test hook: LAZARUS_FAULT="<point>[,rank=R][,version=V]" makes the matching rank kill itself with
// SIGKILL when it reaches <point> (of version V, when given). Used by the crash-consistency tests;
// inert when the variable is unset; an unknown point is reported on stderr once. Points:
//   before_write   after the version's folder exists, before this rank writes anything
//   during_write   after the first region's dataset is written, before the file is closed
//   after_write    after this rank's file is durable, before the ranks agree
//   during_commit  after all ranks agreed; rank 0: manifest written to its temporary, not renamed
//   after_commit   after the manifest is renamed into place, before retention
//   during_restore after this rank read and verified its data, before memory is changed
//   during_flush   multi-level: in the background copy of version V to the global level, after this
//                  rank's file was written there, before the version is committed there
#include <cstdint>
#include <string_view>

namespace lazarus::detail {

void fault_point(std::string_view point, int rank, std::uint64_t version);

}  // namespace lazarus::detail
