// The zstd HDF5 filter (id 32015): round trips through real HDF5 files, the one-frame-per-chunk
// format shared with the reference plugin, and rejection of damaged chunks.
//
// Set LAZARUS_TEST_KEEP_DIR to a folder to keep the files written here (one subfolder per test),
// e.g. to read them with h5dump or h5py and the built plugin.
#include "backends/zstd/zstd_filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>
#include <zstd.h>

namespace {

namespace fs = std::filesystem;
using lazarus::backends::kZstdFilterId;
using lazarus::backends::zstd_filter;
using lazarus::backends::zstd_filter_class;
using Bytes = std::vector<unsigned char>;

// ---- Helpers ------------------------------------------------------------------------------------

// Closes an HDF5 id on scope exit. The test talks to HDF5 directly, not through backends/hdf5, so
// that it pins the filter alone.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Silences HDF5's error-stack printing while a failure is expected.
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// A fresh folder per test, removed afterwards unless LAZARUS_TEST_KEEP_DIR is set.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string name = std::string(info->test_suite_name()) + "." + info->name();
    if (const char* keep = std::getenv("LAZARUS_TEST_KEEP_DIR"); keep != nullptr && *keep != '\0') {
      path_ = fs::path(keep) / name;
      keep_ = true;
    } else {
      path_ =
          fs::temp_directory_path() / ("lazarus-zstd-" + std::to_string(::getpid()) + "-" + name);
    }
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    if (!keep_) fs::remove_all(path_, ignored);
  }
  fs::path file(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
  bool keep_ = false;
};

struct Shape {
  std::vector<hsize_t> dims;
  std::vector<hsize_t> chunk;

  int rank() const { return static_cast<int>(dims.size()); }
  std::size_t elements() const {
    std::size_t n = 1;
    for (hsize_t d : dims) n *= d;
    return n;
  }
  std::size_t chunk_elements() const {
    std::size_t n = 1;
    for (hsize_t c : chunk) n *= c;
    return n;
  }
  // Chunks that hold data, partial edge chunks included.
  std::size_t chunk_count() const {
    std::size_t n = 1;
    for (std::size_t d = 0; d < dims.size(); ++d) n *= (dims[d] + chunk[d] - 1) / chunk[d];
    return n;
  }
};

struct Pipeline {
  unsigned level = 3;
  bool shuffle = true;
};

constexpr char kDataset[] = "data";

void register_zstd() { ASSERT_GE(H5Zregister(zstd_filter_class()), 0); }

// Writes `data` (elements of `type`, in `shape`) as dataset "data" through [shuffle +] zstd.
void write_zstd_dataset(const fs::path& path, hid_t type, const Shape& shape, Pipeline pipeline,
                        const void* data) {
  Handle file{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
  ASSERT_TRUE(file.valid()) << path;
  Handle space{H5Screate_simple(shape.rank(), shape.dims.data(), nullptr), H5Sclose};
  ASSERT_TRUE(space.valid());
  Handle dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  ASSERT_GE(H5Pset_chunk(dcpl.get(), shape.rank(), shape.chunk.data()), 0);
  if (pipeline.shuffle) {
    ASSERT_GE(H5Pset_shuffle(dcpl.get()), 0);
  }
  ASSERT_GE(H5Pset_filter(dcpl.get(), kZstdFilterId, H5Z_FLAG_MANDATORY, 1, &pipeline.level), 0);
  Handle dset{
      H5Dcreate2(file.get(), kDataset, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      H5Dclose};
  ASSERT_TRUE(dset.valid());
  ASSERT_GE(H5Dwrite(dset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
}

// Reopens the file, checks that zstd at `level` is in the dataset's pipeline and reads it all.
void read_zstd_dataset(const fs::path& path, hid_t type, unsigned level, void* out) {
  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  ASSERT_TRUE(file.valid()) << path;
  Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
  ASSERT_TRUE(dset.valid());
  Handle dcpl{H5Dget_create_plist(dset.get()), H5Pclose};
  unsigned flags = 0;
  unsigned cd_values[4] = {};
  std::size_t cd_nelmts = 4;
  unsigned config = 0;
  ASSERT_GE(H5Pget_filter_by_id2(dcpl.get(), kZstdFilterId, &flags, &cd_nelmts, cd_values, 0,
                                 nullptr, &config),
            0);
  ASSERT_EQ(cd_nelmts, 1u);
  EXPECT_EQ(cd_values[0], level);
  ASSERT_GE(H5Dread(dset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), 0);
}

hsize_t storage_size(const fs::path& path) {
  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
  return dset.valid() ? H5Dget_storage_size(dset.get()) : 0;
}

// Compares byte for byte (NaN payloads included) and names the first difference.
::testing::AssertionResult same_bytes(const void* expected, const void* actual, std::size_t size) {
  const auto* lhs = static_cast<const unsigned char*>(expected);
  const auto* rhs = static_cast<const unsigned char*>(actual);
  const auto [at, ignored] = std::mismatch(lhs, lhs + size, rhs);
  if (at == lhs + size) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "first differing byte at offset " << (at - lhs) << " of " << size;
}

template <class T>
void expect_round_trip(const ScratchDir& dir, const std::string& name, hid_t type,
                       const Shape& shape, Pipeline pipeline, const std::vector<T>& values) {
  ASSERT_EQ(values.size(), shape.elements());
  const fs::path path = dir.file(name + ".h5");
  ASSERT_NO_FATAL_FAILURE(write_zstd_dataset(path, type, shape, pipeline, values.data()));
  std::vector<T> read_back(values.size());
  ASSERT_NO_FATAL_FAILURE(read_zstd_dataset(path, type, pipeline.level, read_back.data()));
  EXPECT_TRUE(same_bytes(values.data(), read_back.data(), values.size() * sizeof(T))) << name;
}

// Extremes, random bit patterns, and a sawtooth that sweeps the whole range.
template <class T>
std::vector<T> full_range_integers(std::size_t n, std::uint64_t seed) {
  using Limits = std::numeric_limits<T>;
  using Unsigned = std::make_unsigned_t<T>;
  std::vector<T> values{Limits::min(),
                        Limits::max(),
                        T{0},
                        T{1},
                        static_cast<T>(Limits::min() + 1),
                        static_cast<T>(Limits::max() - 1),
                        static_cast<T>(-1)};
  std::mt19937_64 rng(seed);
  const std::uint64_t step = std::max<std::uint64_t>(1, std::numeric_limits<Unsigned>::max() / n);
  const auto base = static_cast<std::uint64_t>(static_cast<Unsigned>(Limits::min()));
  while (values.size() < n) {
    const std::uint64_t i = values.size();
    const std::uint64_t bits = (i % 4 == 0) ? rng() : base + i * step;
    values.push_back(static_cast<T>(static_cast<Unsigned>(bits)));
  }
  return values;
}

// Special values (infinities, NaN, signed zero, subnormals), random bit patterns and magnitudes
// across every exponent.
template <class T>
std::vector<T> full_range_floats(std::size_t n, std::uint64_t seed) {
  using Limits = std::numeric_limits<T>;
  std::vector<T> values{Limits::lowest(),
                        Limits::max(),
                        Limits::min(),
                        -Limits::min(),
                        Limits::denorm_min(),
                        -Limits::denorm_min(),
                        Limits::epsilon(),
                        Limits::infinity(),
                        -Limits::infinity(),
                        Limits::quiet_NaN(),
                        T{0},
                        -T{0}};
  std::mt19937_64 rng(seed);
  const int exponents = Limits::max_exponent - Limits::min_exponent;
  while (values.size() < n) {
    const std::size_t i = values.size();
    if (i % 4 == 0) {
      const std::uint64_t bits = rng();
      T value;
      std::memcpy(&value, &bits, sizeof value);
      values.push_back(value);
    } else {
      const int exponent = Limits::min_exponent - 1 + static_cast<int>(i % exponents);
      const T magnitude = std::ldexp(T{1} + static_cast<T>(i % 16) / T{16}, exponent);
      values.push_back(i % 2 == 0 ? magnitude : -magnitude);
    }
  }
  return values;
}

// Compressible integers: a slow ramp with a little noise.
std::vector<std::int32_t> smooth_ints(std::size_t n) {
  std::vector<std::int32_t> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<std::int32_t>(i / 7 + (i * 31) % 5);
  return values;
}

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes bytes(n);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  return bytes;
}

// Random letters from a 16-letter alphabet: few repeats, but literals that entropy coding shrinks.
Bytes low_entropy_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes bytes(n);
  for (auto& b : bytes) b = static_cast<unsigned char>('a' + rng() % 16);
  return bytes;
}

Bytes text_like_bytes(std::size_t n) {
  const std::string line = "lazarus checkpoint chunk, rank 17, version 42; ";
  Bytes bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<unsigned char>(line[i % line.size()]);
  return bytes;
}

struct FreeDeleter {
  void operator()(void* ptr) const noexcept { std::free(ptr); }
};

struct FilterOutput {
  bool ok = false;  // the filter returned non-zero
  Bytes bytes;
};

// Calls the filter the way HDF5 does: on a malloc'ed buffer that the filter frees and replaces
// (hence the raw malloc). When the filter fails (returns 0) the buffer must come back untouched.

FilterOutput run_filter(unsigned flags, const std::vector<unsigned>& cd_values,
                        const Bytes& input) {
  std::size_t buf_size = std::max<std::size_t>(input.size(), 1);
  std::unique_ptr<void, FreeDeleter> owner{std::malloc(buf_size)};
  if (!input.empty()) std::memcpy(owner.get(), input.data(), input.size());
  void* buf = owner.release();
  void* const given = buf;
  const std::size_t given_size = buf_size;
  const std::size_t returned =
      zstd_filter(flags, cd_values.size(), cd_values.data(), input.size(), &buf_size, &buf);
  owner.reset(buf);

  FilterOutput out;
  out.ok = returned != 0;
  if (out.ok) {
    EXPECT_LE(returned, buf_size);
    const auto* data = static_cast<const unsigned char*>(buf);
    out.bytes.assign(data, data + returned);
  } else {
    EXPECT_EQ(buf, given) << "a failing filter must not replace the buffer";
    EXPECT_EQ(buf_size, given_size);
  }
  return out;
}

Bytes compress(const Bytes& input, unsigned level) {
  FilterOutput out = run_filter(0, {level}, input);
  EXPECT_TRUE(out.ok);
  return out.bytes;
}

bool decompresses(const Bytes& frame) { return run_filter(H5Z_FLAG_REVERSE, {}, frame).ok; }

Bytes zstd_compress(const Bytes& input, int level) {
  Bytes frame(ZSTD_compressBound(input.size()));
  const std::size_t n =
      ZSTD_compress(frame.data(), frame.size(), input.data(), input.size(), level);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  frame.resize(ZSTD_isError(n) ? 0 : n);
  return frame;
}

// Where the frame-content-size field starts and how long it is (zstd format, RFC 8878 3.1.1.1).
struct ContentSizeField {
  std::size_t offset;
  std::size_t length;
};

ContentSizeField content_size_field(const Bytes& frame) {
  const unsigned descriptor = frame.at(4);
  const unsigned fcs_flag = descriptor >> 6;
  const bool single_segment = ((descriptor >> 5) & 1u) != 0;
  constexpr std::size_t kDictIdBytes[] = {0, 1, 2, 4};
  constexpr std::size_t kFcsBytes[] = {0, 2, 4, 8};
  const std::size_t length = (fcs_flag == 0 && single_segment) ? 1 : kFcsBytes[fcs_flag];
  const std::size_t offset = 5 + (single_segment ? 0 : 1) + kDictIdBytes[descriptor & 3u];
  return {offset, length};
}

// One raw chunk as stored in the file, with its logical offset.
struct RawChunk {
  std::vector<hsize_t> offset;
  Bytes bytes;
  unsigned filter_mask = 0;
};

void read_raw_chunks(hid_t dset, std::vector<RawChunk>& chunks) {
  Handle space{H5Dget_space(dset), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.get());
  ASSERT_GT(rank, 0);
  hsize_t count = 0;
  ASSERT_GE(H5Dget_num_chunks(dset, space.get(), &count), 0);
  for (hsize_t index = 0; index < count; ++index) {
    RawChunk chunk;
    chunk.offset.resize(static_cast<std::size_t>(rank));
    haddr_t address = 0;
    hsize_t size = 0;
    ASSERT_GE(H5Dget_chunk_info(dset, space.get(), index, chunk.offset.data(), &chunk.filter_mask,
                                &address, &size),
              0);
    chunk.bytes.resize(size);
    std::uint32_t mask = 0;
    ASSERT_GE(H5Dread_chunk(dset, H5P_DEFAULT, chunk.offset.data(), &mask, chunk.bytes.data()), 0);
    chunks.push_back(std::move(chunk));
  }
}

// Each stored chunk must be exactly one zstd frame recording the chunk's full byte count.
void expect_one_frame_per_chunk(const fs::path& path, std::size_t chunk_bytes,
                                std::size_t expected_chunks) {
  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
  ASSERT_TRUE(dset.valid());
  std::vector<RawChunk> chunks;
  ASSERT_NO_FATAL_FAILURE(read_raw_chunks(dset.get(), chunks));
  ASSERT_EQ(chunks.size(), expected_chunks);
  for (const RawChunk& chunk : chunks) {
    EXPECT_EQ(chunk.filter_mask, 0u) << "a filter was skipped";
    EXPECT_EQ(ZSTD_getFrameContentSize(chunk.bytes.data(), chunk.bytes.size()), chunk_bytes);
    EXPECT_EQ(ZSTD_findFrameCompressedSize(chunk.bytes.data(), chunk.bytes.size()),
              chunk.bytes.size());
  }
}

template <class... Ts>
struct TypeList {};

template <class T>
std::string type_name() {
  if constexpr (std::is_floating_point_v<T>) {
    return sizeof(T) == 4 ? "float" : "double";
  } else {
    return (std::is_signed_v<T> ? "int" : "uint") + std::to_string(8 * sizeof(T));
  }
}

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, std::int8_t>)
    return H5T_NATIVE_INT8;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return H5T_NATIVE_INT16;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return H5T_NATIVE_UINT16;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return H5T_NATIVE_UINT64;
  else if constexpr (std::is_same_v<T, float>)
    return H5T_NATIVE_FLOAT;
  else
    return H5T_NATIVE_DOUBLE;
}

// ---- The filter class ---------------------------------------------------------------------------

TEST(ZstdFilter, ClassRegistersAsFilter32015WithEncoderAndDecoder) {
  const H5Z_class2_t* cls = zstd_filter_class();
  ASSERT_NE(cls, nullptr);
  EXPECT_EQ(cls->version, H5Z_CLASS_T_VERS);
  EXPECT_EQ(cls->id, 32015);
  EXPECT_EQ(cls->filter, &zstd_filter);

  ASSERT_NO_FATAL_FAILURE(register_zstd());
  EXPECT_GT(H5Zfilter_avail(kZstdFilterId), 0);
  unsigned config = 0;
  ASSERT_GE(H5Zget_filter_info(kZstdFilterId, &config), 0);
  EXPECT_NE(config & H5Z_FILTER_CONFIG_ENCODE_ENABLED, 0u);
  EXPECT_NE(config & H5Z_FILTER_CONFIG_DECODE_ENABLED, 0u);
}

// ---- The filter function, called directly ------------------------------------------------------

TEST(ZstdFilter, CompressesExactlyLikeZstdCompress) {
  // Same bytes as the reference plugin's ZSTD_compress call, twice in a row (the thread's reused
  // context must carry nothing over), and zstd's default level without client data.
  const Bytes input = text_like_bytes(100'000);
  for (int level : {1, 3, 19}) {
    SCOPED_TRACE(level);
    const Bytes expected = zstd_compress(input, level);
    EXPECT_EQ(compress(input, static_cast<unsigned>(level)), expected);
    EXPECT_EQ(compress(input, static_cast<unsigned>(level)), expected);
  }
  const FilterOutput defaulted = run_filter(0, {}, input);
  ASSERT_TRUE(defaulted.ok);
  EXPECT_EQ(defaulted.bytes, zstd_compress(input, ZSTD_CLEVEL_DEFAULT));
}

TEST(ZstdFilter, ClampsTooHighLevelsAndKeepsNegativeOnes) {
  const Bytes input = low_entropy_bytes(20'000, 5);
  EXPECT_EQ(compress(input, 1000), zstd_compress(input, ZSTD_maxCLevel()));
  // Negative levels travel as the unsigned bit pattern of the int, and are not raised to 1.
  const Bytes fastest = compress(input, static_cast<unsigned>(-5));
  EXPECT_EQ(fastest, zstd_compress(input, -5));
  EXPECT_GT(fastest.size(), zstd_compress(input, 1).size());
}

TEST(ZstdFilter, DecompressesItsOwnAndPlainZstdFrames) {
  const Bytes input = text_like_bytes(70'001);
  const FilterOutput own = run_filter(H5Z_FLAG_REVERSE, {}, compress(input, 3));
  ASSERT_TRUE(own.ok);
  EXPECT_EQ(own.bytes, input);
  const FilterOutput plain = run_filter(H5Z_FLAG_REVERSE, {}, zstd_compress(input, 7));
  ASSERT_TRUE(plain.ok);
  EXPECT_EQ(plain.bytes, input);
}

TEST(ZstdFilter, EmitsOneFrameEvenForIncompressibleInput) {
  const Bytes input = random_bytes(50'000, 7);
  const Bytes frame = compress(input, 3);
  EXPECT_GT(frame.size(), input.size()) << "random bytes cannot shrink; stored raw inside a frame";
  EXPECT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), input.size());
  EXPECT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size());
  const FilterOutput back = run_filter(H5Z_FLAG_REVERSE, {}, frame);
  ASSERT_TRUE(back.ok);
  EXPECT_EQ(back.bytes, input);
}

TEST(ZstdFilter, RejectsFrameWithDamagedHeader) {
  const Bytes frame = compress(text_like_bytes(5000), 3);
  ASSERT_TRUE(decompresses(frame));

  for (std::size_t i = 0; i < 4; ++i) {  // the magic number
    Bytes damaged = frame;
    damaged[i] ^= 0x5A;
    EXPECT_FALSE(decompresses(damaged)) << "magic byte " << i;
  }
  // A recorded content size that is off in any byte no longer matches what the frame decodes to.
  const ContentSizeField fcs = content_size_field(frame);
  ASSERT_GT(fcs.length, 0u);
  std::uint64_t recorded = 0;  // little endian; the 2-byte form is offset by 256
  for (std::size_t i = fcs.length; i-- > 0;) recorded = recorded << 8 | frame[fcs.offset + i];
  ASSERT_EQ(recorded + (fcs.length == 2 ? 256 : 0), 5000u) << "the test misparsed the header";
  for (std::size_t i = 0; i < fcs.length; ++i) {
    Bytes damaged = frame;
    damaged[fcs.offset + i] ^= 0x01;
    EXPECT_FALSE(decompresses(damaged)) << "content-size byte " << i;
  }
  // The single block's header (3 bytes after the frame header): its last-block bit and its size.
  const std::size_t block = fcs.offset + fcs.length;
  for (unsigned flip : {0x01u, 0x08u, 0x80u}) {
    Bytes damaged = frame;
    damaged[block] ^= static_cast<unsigned char>(flip);
    EXPECT_FALSE(decompresses(damaged)) << "block header flip " << flip;
  }
}

TEST(ZstdFilter, RejectsTruncatedFrame) {
  const Bytes frame = compress(text_like_bytes(5000), 3);
  for (std::size_t keep : {frame.size() - 1, frame.size() / 2, std::size_t{6}, std::size_t{4},
                           std::size_t{1}, std::size_t{0}}) {
    const Bytes truncated(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(keep));
    EXPECT_FALSE(decompresses(truncated)) << "kept " << keep << " of " << frame.size();
  }
}

TEST(ZstdFilter, RejectsGarbage) {
  EXPECT_FALSE(decompresses(random_bytes(4096, 11)));
  EXPECT_FALSE(decompresses(Bytes(4096, 0)));
  // A well-formed skippable frame (magic 0x184D2A50, 8 bytes of payload) carries no data.
  const Bytes skippable{0x50, 0x2A, 0x4D, 0x18, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_FALSE(decompresses(skippable));
}

TEST(ZstdFilter, RejectsFrameWithTrailingBytes) {
  const Bytes frame = compress(text_like_bytes(5000), 3);
  Bytes padded = frame;
  padded.push_back(0);
  EXPECT_FALSE(decompresses(padded));

  Bytes two_frames = frame;
  two_frames.insert(two_frames.end(), frame.begin(), frame.end());
  EXPECT_FALSE(decompresses(two_frames));

  // zstd alone would skip this one silently; the chunk must still be exactly one frame.
  Bytes with_skippable = frame;
  const Bytes skippable{0x50, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 0xAB, 0xCD};
  with_skippable.insert(with_skippable.end(), skippable.begin(), skippable.end());
  EXPECT_FALSE(decompresses(with_skippable));

  Bytes with_garbage = frame;
  const Bytes garbage = random_bytes(100, 3);
  with_garbage.insert(with_garbage.end(), garbage.begin(), garbage.end());
  EXPECT_FALSE(decompresses(with_garbage));
}

TEST(ZstdFilter, RejectsFrameWithoutContentSize) {
  // A valid zstd frame, but streamed without recording its size: not our format.
  const Bytes input = text_like_bytes(5000);
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx{ZSTD_createCCtx(), &ZSTD_freeCCtx};
  ASSERT_NE(cctx, nullptr);
  ASSERT_FALSE(ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 0)));
  Bytes frame(ZSTD_compressBound(input.size()));
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(cctx.get(), &out, &in, ZSTD_e_end), 0u);
  frame.resize(out.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  EXPECT_FALSE(decompresses(frame));
}

TEST(ZstdFilter, RoundTripsConcurrentlyFromSeveralThreads) {
  // Each thread has its own contexts; a shared one would mix up chunks or crash.
  constexpr int kThreads = 4;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      for (int round = 0; round < 50; ++round) {
        const Bytes input =
            (round % 2 == 0) ? text_like_bytes(10'000 + static_cast<std::size_t>(t * 100 + round))
                             : random_bytes(10'000, static_cast<std::uint64_t>(t * 1000 + round));
        const Bytes frame = compress(input, static_cast<unsigned>(1 + round % 5));
        const FilterOutput back = run_filter(H5Z_FLAG_REVERSE, {}, frame);
        if (!back.ok || back.bytes != input) ++failures[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(kThreads, 0));
}

// ---- Through HDF5 ------------------------------------------------------------------------------

template <class... Ts>
void expect_types_round_trip(const ScratchDir& dir, TypeList<Ts...>) {
  const Shape shape{{5000}, {512}};  // 10 chunks, the last one partial
  std::uint64_t seed = 1;
  (
      [&] {
        SCOPED_TRACE(type_name<Ts>());
        std::vector<Ts> values;
        if constexpr (std::is_integral_v<Ts>) {
          values = full_range_integers<Ts>(shape.elements(), seed++);
        } else {
          values = full_range_floats<Ts>(shape.elements(), seed++);
        }
        expect_round_trip(dir, type_name<Ts>(), native_type<Ts>(), shape, Pipeline{}, values);
      }(),
      ...);
}

TEST(ZstdFilter, RoundTripsEveryIntegerType) {
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  expect_types_round_trip(
      dir, TypeList<std::int8_t, std::int16_t, std::int32_t, std::int64_t, std::uint8_t,
                    std::uint16_t, std::uint32_t, std::uint64_t>{});
}

TEST(ZstdFilter, RoundTripsEveryFloatingPointType) {
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  expect_types_round_trip(dir, TypeList<float, double>{});
}

TEST(ZstdFilter, RoundTripsNdDatasetsWithPartialEdgeChunks) {
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  const std::vector<Shape> shapes{
      {{1001}, {64}},
      {{37, 53}, {8, 16}},
      {{7, 11, 13}, {4, 4, 4}},
      {{3, 5, 7, 9}, {2, 2, 3, 4}},
  };
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(shape.rank());
    const std::string name = "nd" + std::to_string(shape.rank());
    std::vector<double> values(shape.elements());
    // Exact in binary, so other readers (h5py, h5dump) can check the file value for value.
    for (std::size_t i = 0; i < values.size(); ++i) {
      values[i] = 0.25 * static_cast<double>(i) - 100.0;
    }
    expect_round_trip(dir, name, H5T_NATIVE_DOUBLE, shape, Pipeline{}, values);
    // Edge chunks are stored whole, so their frames record the full chunk size too.
    expect_one_frame_per_chunk(dir.file(name + ".h5"), shape.chunk_elements() * sizeof(double),
                               shape.chunk_count());
  }
}

TEST(ZstdFilter, RoundTripsIncompressibleRandomData) {
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  const Shape shape{{1 << 16}, {4096}};
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> values(shape.elements());
  for (auto& v : values) v = rng();
  expect_round_trip(dir, "random", H5T_NATIVE_UINT64, shape, Pipeline{}, values);
  expect_one_frame_per_chunk(dir.file("random.h5"), shape.chunk_elements() * sizeof(std::uint64_t),
                             shape.chunk_count());
}

TEST(ZstdFilter, RoundTripsAndCompressesAtLevels1And3And19) {
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  const Shape shape{{300, 200}, {64, 64}};
  const std::vector<std::int32_t> values = smooth_ints(shape.elements());
  for (unsigned level : {1u, 3u, 19u}) {
    SCOPED_TRACE(level);
    const std::string name = "level" + std::to_string(level);
    expect_round_trip(dir, name, H5T_NATIVE_INT32, shape, Pipeline{level, true}, values);
    const hsize_t stored = storage_size(dir.file(name + ".h5"));
    EXPECT_GT(stored, 0u);
    EXPECT_LT(stored, values.size() * sizeof(std::int32_t) / 4) << "smooth data must compress";
  }
}

TEST(ZstdFilter, StoresEachChunkAsOneFrameOfItsContent) {
  // Without shuffle a stored chunk decompresses, with plain ZSTD_decompress as the reference
  // plugin calls it, to the dataset's own bytes.
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  const Shape shape{{1000}, {128}};  // 8 chunks, the last one partial
  const std::vector<std::int32_t> values = smooth_ints(shape.elements());
  const fs::path path = dir.file("frames.h5");
  ASSERT_NO_FATAL_FAILURE(
      write_zstd_dataset(path, H5T_NATIVE_INT32, shape, Pipeline{3, false}, values.data()));
  const std::size_t chunk_bytes = shape.chunk_elements() * sizeof(std::int32_t);
  ASSERT_NO_FATAL_FAILURE(expect_one_frame_per_chunk(path, chunk_bytes, shape.chunk_count()));

  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
  std::vector<RawChunk> chunks;
  ASSERT_NO_FATAL_FAILURE(read_raw_chunks(dset.get(), chunks));
  for (const RawChunk& chunk : chunks) {
    const auto first = static_cast<std::size_t>(chunk.offset[0]);
    SCOPED_TRACE(first);
    std::vector<std::int32_t> content(shape.chunk_elements());
    const std::size_t n =
        ZSTD_decompress(content.data(), chunk_bytes, chunk.bytes.data(), chunk.bytes.size());
    ASSERT_EQ(n, chunk_bytes) << ZSTD_getErrorName(n);
    const std::size_t in_bounds = std::min(content.size(), values.size() - first);
    EXPECT_TRUE(
        same_bytes(values.data() + first, content.data(), in_bounds * sizeof(std::int32_t)));
  }
}

TEST(ZstdFilter, ReadsChunksWrittenByPlainZstdCompress) {
  // The other direction of compatibility: replace every stored chunk by the frame a
  // reference-plugin writer produces (ZSTD_compress, another level) and read the dataset through
  // our filter.
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  const Shape shape{{1024}, {256}};
  const fs::path path = dir.file("foreign.h5");
  const std::vector<std::int32_t> placeholder(shape.elements(), 0);
  ASSERT_NO_FATAL_FAILURE(
      write_zstd_dataset(path, H5T_NATIVE_INT32, shape, Pipeline{3, false}, placeholder.data()));

  std::vector<std::int32_t> values(shape.elements());
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::int32_t>(i * i);
  {
    Handle file{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose};
    Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
    ASSERT_TRUE(dset.valid());
    const std::size_t chunk_bytes = shape.chunk_elements() * sizeof(std::int32_t);
    for (hsize_t first = 0; first < shape.dims[0]; first += shape.chunk[0]) {
      const auto* begin = reinterpret_cast<const unsigned char*>(values.data() + first);
      const Bytes frame = zstd_compress(Bytes(begin, begin + chunk_bytes), 5);
      ASSERT_GE(H5Dwrite_chunk(dset.get(), H5P_DEFAULT, 0, &first, frame.size(), frame.data()), 0);
    }
  }
  std::vector<std::int32_t> read_back(values.size());
  ASSERT_NO_FATAL_FAILURE(read_zstd_dataset(path, H5T_NATIVE_INT32, 3, read_back.data()));
  EXPECT_EQ(read_back, values);
}

TEST(ZstdFilter, ReadOfDamagedChunkFailsAndOthersStillRead) {
  ASSERT_NO_FATAL_FAILURE(register_zstd());
  ScratchDir dir;
  const Shape shape{{1000}, {250}};
  const std::vector<std::int32_t> values = smooth_ints(shape.elements());
  const fs::path path = dir.file("damaged.h5");
  ASSERT_NO_FATAL_FAILURE(
      write_zstd_dataset(path, H5T_NATIVE_INT32, shape, Pipeline{3, true}, values.data()));

  // Damage chunks 1..3 on disk, one way each, leaving chunk 0 intact.
  {
    Handle file{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose};
    Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
    ASSERT_TRUE(dset.valid());
    std::vector<RawChunk> chunks;
    ASSERT_NO_FATAL_FAILURE(read_raw_chunks(dset.get(), chunks));
    ASSERT_EQ(chunks.size(), 4u);
    for (RawChunk& chunk : chunks) {
      Bytes& bytes = chunk.bytes;
      const hsize_t index = chunk.offset[0] / shape.chunk[0];
      if (index == 0) continue;
      if (index == 1) bytes.pop_back();       // truncated
      if (index == 2) bytes.push_back(0xEE);  // a trailing byte
      if (index == 3) bytes[0] ^= 0xFF;       // a broken magic number
      ASSERT_GE(H5Dwrite_chunk(dset.get(), H5P_DEFAULT, 0, chunk.offset.data(), bytes.size(),
                               bytes.data()),
                0);
    }
  }

  Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
  Handle dset{H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose};
  ASSERT_TRUE(dset.valid());
  std::vector<std::int32_t> all(values.size());
  {
    QuietHdf5Errors quiet;
    EXPECT_LT(H5Dread(dset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()), 0);
  }
  for (hsize_t first = 0; first < shape.dims[0]; first += shape.chunk[0]) {
    SCOPED_TRACE(first);
    const hsize_t count = shape.chunk[0];
    Handle file_space{H5Dget_space(dset.get()), H5Sclose};
    ASSERT_GE(
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &first, nullptr, &count, nullptr), 0);
    Handle mem_space{H5Screate_simple(1, &count, nullptr), H5Sclose};
    std::vector<std::int32_t> part(count);
    QuietHdf5Errors quiet;
    const herr_t status = H5Dread(dset.get(), H5T_NATIVE_INT32, mem_space.get(), file_space.get(),
                                  H5P_DEFAULT, part.data());
    if (first == 0) {
      ASSERT_GE(status, 0);
      EXPECT_TRUE(std::equal(part.begin(), part.end(), values.begin()));
    } else {
      EXPECT_LT(status, 0);
    }
  }
}

}  // namespace
