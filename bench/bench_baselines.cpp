#include "bench/bench_baselines.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "backends/hdf5/h5_handle.hpp"
#include "backends/hdf5/rank_file.hpp"
#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::bench {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};
using CFile = std::unique_ptr<std::FILE, FileCloser>;

[[noreturn]] void throw_io(std::string_view what, const std::filesystem::path& file) {
  throw IoError(fmt::format("cannot {} {}: {}", what, file.string(), backends::errno_text(errno)));
}

}  // namespace

void fwrite_fsync(const std::filesystem::path& file, const void* data, std::size_t bytes) {
  CFile out(std::fopen(file.c_str(), "wb"));
  if (!out) throw_io("create", file);
  if (std::fwrite(data, 1, bytes, out.get()) != bytes) throw_io("write", file);
  if (std::fflush(out.get()) != 0) throw_io("flush", file);
  if (::fsync(::fileno(out.get())) != 0) throw_io("fsync", file);
  if (std::fclose(out.release()) != 0) throw_io("close", file);
}

void fread_all(const std::filesystem::path& file, void* destination, std::size_t bytes) {
  CFile in(std::fopen(file.c_str(), "rb"));
  if (!in) throw_io("open", file);
  if (std::fread(destination, 1, bytes, in.get()) != bytes) throw_io("read", file);
}

void h5_write_fsync(const std::filesystem::path& file, const double* data, const std::vector<std::size_t>& shape,
                    H5Layout layout, std::size_t chunk_bytes) {
  using namespace backends;
  H5QuietErrors quiet;
  const std::string where = fmt::format("HDF5 baseline {}", file.string());
  H5File h5(h5_check<IoError>(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), where));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Dataspace space(h5_check<IoError>(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where));
  H5PropertyList create(h5_check<IoError>(H5Pcreate(H5P_DATASET_CREATE), where));
  if (layout == H5Layout::chunked_deflate) {
    const std::vector<hsize_t> chunk = chunk_shape_for(shape, sizeof(double), chunk_bytes);
    h5_check<IoError>(H5Pset_chunk(create.get(), static_cast<int>(chunk.size()), chunk.data()), where);
    h5_check<IoError>(H5Pset_shuffle(create.get()), where);
    h5_check<IoError>(H5Pset_deflate(create.get(), 1), where);
  }
  h5_check<IoError>(H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER), where);
  H5Dataset dataset(h5_check<IoError>(
      H5Dcreate2(h5.get(), "data", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, create.get(), H5P_DEFAULT), where));
  h5_check<IoError>(H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), where);
  h5_check<IoError>(dataset.close(), where);
  h5_check<IoError>(h5.close(), where);
  fsync_file(file);
}

void h5_read_all(const std::filesystem::path& file, double* destination, std::size_t elements) {
  using namespace backends;
  H5QuietErrors quiet;
  const std::string where = fmt::format("HDF5 baseline {}", file.string());
  H5File h5(h5_check<IoError>(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), where));
  H5Dataset dataset(h5_check<IoError>(H5Dopen2(h5.get(), "data", H5P_DEFAULT), where));
  H5Dataspace space(h5_check<IoError>(H5Dget_space(dataset.get()), where));
  const auto stored = h5_check<IoError>(H5Sget_simple_extent_npoints(space.get()), where);
  if (static_cast<std::size_t>(stored) != elements) {
    throw IoError(fmt::format("{}: holds {} elements, expected {}", where, stored, elements));
  }
  h5_check<IoError>(H5Dread(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, destination), where);
}

}  // namespace lazarus::bench
