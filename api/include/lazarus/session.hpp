#pragma once
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <vector>

#include <lazarus/element_type.hpp>
#include <lazarus/errors.hpp>
#include <lazarus/options.hpp>

namespace lazarus {

namespace detail {
class Engine;
}

// The exit status of a process in which a Session's end lost a checkpoint (see ~Session): EX_IOERR of
// <sysexits.h>. The program runs to its end first.
inline constexpr int kExitCheckpointLost = 74;

// One Session per communicator. It owns a duplicate of the communicator, the list of protected
// regions and the checkpoint catalogue of Options::job. Movable, not copyable.
//
// Calls marked "collective" must be made by every rank of the communicator, in the same order. When
// one fails on any rank, it throws on every rank with the same exception class.
class Session {
 public:
  // Collective. Duplicates `comm`, reads Options::from_env() and validates it (ConfigError on every
  // rank when any rank's environment is bad, or when async mode meets an HDF5 that is not
  // thread-safe), and creates the job folder, and the node-local one with Options::local_dir (IoError).
  explicit Session(MPI_Comm comm);
  // Collective. The same with explicit options.
  Session(MPI_Comm comm, Options options);
  // Collective in async mode and with Options::local_dir: commits the checkpoints in flight and copies
  // the newest node-local version to the global level (skipped while an exception unwinds). Never
  // throws. A checkpoint in flight that cannot be committed (a background write that failed; or the
  // Session outlived MPI_Finalize) is printed on stderr as an error, and the process then exits with
  // status kExitCheckpointLost however main returns: call wait() first to handle that error instead.
  // A copy to the global level that fails is printed only (the version stays on the nodes).
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Local (not collective). Registers memory to be saved by checkpoint() and filled by restore().
  // `shape`, when given, becomes the HDF5 dataset's dimensions; its product must equal data.size().
  // Throws MismatchError for a bad or duplicate name or a shape that does not fit.
  template <Storable T>
  void protect(std::string name, std::span<T> data, std::vector<std::size_t> shape = {}) {
    if (shape.empty()) shape = {data.size()};
    protect_region(std::move(name), element_type_of<T>(), data.data(), data.size(), std::move(shape));
  }
  // Local. Any contiguous container of arithmetic values (std::vector<double>, std::array, ...).
  // The container must not reallocate while protected.
  template <std::ranges::contiguous_range R>
    requires Storable<std::ranges::range_value_t<R>> && (!std::is_const_v<std::remove_reference_t<R>>)
  void protect(std::string name, R& range, std::vector<std::size_t> shape = {}) {
    protect(std::move(name), std::span(std::ranges::data(range), std::ranges::size(range)), std::move(shape));
  }
  // Local. One scalar, stored as an HDF5 scalar dataset.
  template <Storable T>
  void protect(std::string name, T& value) {
    protect_region(std::move(name), element_type_of<T>(), &value, 1, {});
  }
  // Local. Opaque bytes, stored as a 1-D dataset of unsigned 8-bit integers.
  void protect_bytes(std::string name, void* data, std::size_t bytes);
  // Local. CUDA device memory: `count` elements at `device_ptr` (from cudaMalloc, on any device).
  // Stored like host regions (the dataset records its device origin); restore() copies back to the
  // device, and a checkpoint of device memory may be restored into host memory and the other way
  // round. checkpoint() first waits for the work already queued on the region's device, then copies
  // the memory out (in async mode it returns once the copy is done: the device memory may then be
  // overwritten). Throws Error in a build without CUDA or where no device is usable, MismatchError
  // for a pointer that is not device memory (and as protect()).
  template <Storable T>
  void protect_device(std::string name, T* device_ptr, std::size_t count, std::vector<std::size_t> shape = {}) {
    if (shape.empty()) shape = {count};
    protect_device_region(std::move(name), element_type_of<T>(), device_ptr, count, std::move(shape));
  }
  // Local. Opaque device bytes.
  void protect_device_bytes(std::string name, void* device_ptr, std::size_t bytes);
  // Local. Throws MismatchError when no region has that name.
  void unprotect(const std::string& name);

  // Collective. Writes every protected region of every rank as one new version and returns its
  // number: in sync mode (the default) once the version is complete (durable on every rank); in async
  // mode once the regions are copied, the version being committed at a later collective call
  // (checkpoint, wait, need_checkpoint, should_stop, versions, restore, or the Session's end).
  // Throws IoError on every rank when any rank fails to write or commit a version (in async mode, from
  // the call that commits it): what that version wrote is removed, the previous complete version stays
  // the newest, and the program may go on (the next checkpoint reuses the number). Throws Error on
  // every rank when the job already holds the last version number (10^18 - 1).
  std::uint64_t checkpoint();

  // Collective. First commits every checkpoint in flight (IoError as checkpoint()). Then restores the
  // newest complete version whose data verify; a corrupt version is reported once on stderr, set
  // aside (its manifest renamed manifest.corrupt, its files kept) and skipped.
  // A version that does not match the protected regions (a protected region not stored, or stored
  // with another type or shape; another number of ranks; stored regions that are not protected are
  // ignored) is skipped too, but not set aside.
  // Returns nullopt when no checkpoint exists at all; throws MismatchError when no version restored
  // and one did not match, CorruptCheckpoint when versions exist but none verifies. Protected memory
  // is changed only once every rank's data verified.
  std::optional<std::uint64_t> restore();
  // Collective. Commits what is in flight as restore() does, then restores exactly `version`:
  // NoCheckpoint when it is not complete, CorruptCheckpoint when it does not verify, MismatchError as
  // above.
  std::uint64_t restore(std::uint64_t version);

  // Collective. The complete versions of this job, oldest first. In async mode it first commits what
  // every rank finished writing (IoError as checkpoint()).
  std::vector<std::uint64_t> versions();

  // Collective. True on every rank once Options::interval_seconds have passed since the session
  // started or the last checkpoint (rank 0's clock decides; with Options::mtbf_seconds, the Young/Daly
  // period). Always false when neither is set. In async mode it first commits what every rank finished
  // writing (IoError as checkpoint()).
  bool need_checkpoint();

  // Collective. True on every rank once `lazarus run` asked the job to take a final checkpoint and
  // stop (before a Slurm time limit, for instance), and from then on; the ranks agree, so all of them
  // return true at the same call, however many of them were asked. Always false when the job was not
  // started by the launcher. Counts as progress for the launcher, like need_checkpoint(). Typical use:
  // `if (session.should_stop()) { session.checkpoint(); break; }`. Throws Error when MPI fails; in
  // async mode it first commits what every rank finished writing (IoError as checkpoint()).
  bool should_stop();

  // Collective. Returns once every checkpoint started is committed (async mode) and, with
  // Options::local_dir, once the copy to the global level in progress is committed or dropped; at
  // once when nothing is in flight. Throws IoError on every rank when a checkpoint in flight, or the
  // commit of that copy, failed (as checkpoint()).
  void wait();

  // Local. This rank, the communicator's size, and the options in use (local_dir with `%N` replaced).
  int rank() const noexcept;
  int size() const noexcept;
  const Options& options() const noexcept;

 private:
  void protect_region(std::string name, ElementType type, void* data, std::size_t count,
                      std::vector<std::size_t> shape);
  void protect_device_region(std::string name, ElementType type, void* device_ptr, std::size_t count,
                             std::vector<std::size_t> shape);

  std::unique_ptr<detail::Engine> engine_;
};

}  // namespace lazarus
