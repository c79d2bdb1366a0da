#include "launcher/cli/checkpoint_commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "backends/hdf5/h5_inspect.hpp"
#include "backends/hdf5/rank_file_reader.hpp"
#include "backends/posix/durable_io.hpp"
#include "backends/posix/isolated_call.hpp"
#include "launcher/cli/exit_codes.hpp"
#include "launcher/cli/number_checks.hpp"
#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/format/verification.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::launcher {
namespace {

namespace fs = std::filesystem;

// --- Formatting ---------------------------------------------------------------------------------

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  auto value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

// Uncompressed over stored: 3.50x means the data take 3.5 times less room on disk.
std::string ratio_text(std::uint64_t data_bytes, std::uint64_t stored_bytes) {
  if (stored_bytes == 0 || data_bytes == 0) return "-";
  return fmt::format("{:.2f}x", static_cast<double>(data_bytes) / static_cast<double>(stored_bytes));
}

std::string local_time_text(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  if (localtime_r(&seconds, &local) == nullptr) return "-";
  char text[32];
  if (std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &local) == 0) return "-";
  return text;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
  return shape.empty() ? std::string("scalar") : fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string abbreviate(const std::vector<std::string>& names, std::size_t width = 32) {
  if (names.empty()) return "-";
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string next = text.empty() ? names[i] : text + "," + names[i];
    if (next.size() > width && i > 0) return fmt::format("{} +{} more", text, names.size() - i);
    text = std::move(next);
  }
  return text;
}

// Columns padded to their widest cell; numbers right-aligned.
class Table {
 public:
  struct Column {
    std::string title;
    bool right = false;
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(const std::string& indent = "") const {
    std::vector<std::size_t> widths;
    for (const auto& column : columns_) widths.push_back(column.title.size());
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string text = indent;
      for (std::size_t i = 0; i < columns_.size(); ++i) {
        const std::string& cell = i < cells.size() ? cells[i] : std::string();
        if (i > 0) text += "  ";
        text += columns_[i].right ? fmt::format("{:>{}}", cell, widths[i]) : fmt::format("{:<{}}", cell, widths[i]);
      }
      while (!text.empty() && text.back() == ' ') text.pop_back();
      std::puts(text.c_str());
    };
    std::vector<std::string> titles;
    for (const auto& column : columns_) titles.push_back(column.title);
    line(titles);
    for (const auto& row : rows_) line(row);
  }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// --- Finding the job folder ---------------------------------------------------------------------

bool holds_versions(const fs::path& dir) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (detail::parse_version_directory_name(entry.path().filename().string()) && entry.is_directory(error)) return true;
  }
  return false;
}

std::vector<std::string> jobs_under(const fs::path& root) {
  std::vector<std::string> jobs;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    if (entry.is_directory(error) && holds_versions(entry.path())) jobs.push_back(entry.path().filename().string());
  }
  std::sort(jobs.begin(), jobs.end());
  return jobs;
}

void require_folder(const fs::path& dir) {
  std::error_code error;
  const auto status = fs::status(dir, error);
  if (!fs::exists(status)) throw UsageError(fmt::format("{} does not exist", dir.string()));
  if (!fs::is_directory(status)) throw UsageError(fmt::format("{} is not a folder", dir.string()));
}

// DIR/JOB; or DIR itself when it holds version folders and no --job was given; or, without --job
// and without DIR/default, the only job under DIR.
fs::path job_folder(const fs::path& dir, const std::string& job, bool job_given) {
  require_folder(dir);
  if (!job_given && holds_versions(dir)) return dir;
  std::error_code error;
  if (fs::is_directory(dir / job, error)) return dir / job;
  const auto jobs = jobs_under(dir);
  if (!job_given && jobs.size() == 1) return dir / jobs.front();
  if (jobs.empty()) {
    throw UsageError(fmt::format("{} holds no checkpoints (no job folder with v* version folders)", dir.string()));
  }
  throw UsageError(fmt::format("{} has no job '{}'; jobs there: {} (choose one with --job)", dir.string(), job,
                               fmt::join(jobs, ", ")));
}

// --- Rank files, dataset by dataset -------------------------------------------------------------

struct DatasetView {
  std::string name;
  std::string type = "?";
  std::vector<std::size_t> shape;
  std::uint64_t data_bytes = 0;
  std::uint64_t stored_bytes = 0;
  std::string layout;
  std::string filters;
  std::string checksum = "?";
  std::string problem;  // the dataset is not a region as Lazarus writes them
};

struct RankFileView {
  backends::RankFileHeader header;
  std::uint64_t file_bytes = 0;
  std::vector<DatasetView> datasets;
};

// Throws CorruptCheckpoint when `file` is not a readable Lazarus rank file.
RankFileView view_rank_file(const fs::path& file) {
  RankFileView view;
  std::error_code error;
  // HDF5 opens the path itself here: a FIFO would block it forever, a link lead elsewhere.
  if (!fs::is_regular_file(fs::symlink_status(file, error))) {
    throw CorruptCheckpoint(fmt::format("{} is not a regular file", file.string()));
  }
  view.file_bytes = fs::file_size(file, error);
  const backends::RankFileReader reader(file);
  view.header = reader.header();
  for (const auto& storage : backends::inspect_dataset_storage(file)) {
    DatasetView dataset;
    dataset.name = storage.name;
    dataset.stored_bytes = storage.stored_bytes;
    dataset.layout = storage.layout;
    if (!storage.chunk.empty()) dataset.layout += fmt::format(" [{}]", fmt::join(storage.chunk, ", "));
    dataset.filters = backends::describe_filters(storage.filters);
    try {
      const auto stored = reader.describe(storage.name);
      dataset.type = std::string(to_string(stored.type));
      dataset.shape = stored.shape;
      dataset.data_bytes = stored.bytes;
      dataset.checksum = fmt::format("{:016x}", stored.checksum);
    } catch (const Error& problem) {
      dataset.problem = problem.what();
    }
    view.datasets.push_back(std::move(dataset));
  }
  return view;
}

// A file that is not HDF5 at all (not even a damaged rank file).
class NotHdf5 : public CorruptCheckpoint {
 public:
  using CorruptCheckpoint::CorruptCheckpoint;
};

// view_rank_file in a child process (backends/posix/isolated_call.hpp): `lazarus inspect` is pointed
// at files from anywhere, and HDF5 can crash, hang or read out of bounds on crafted metadata, checksum
// or not (docs/design.md, "What the checksums protect against"). Nothing of HDF5's parsing happens in
// this process. Throws NotHdf5, or CorruptCheckpoint when it is not a readable rank file or HDF5
// failed on it.
RankFileView view_rank_file_isolated(const fs::path& file) {
  using nlohmann::json;
  const auto result = backends::run_isolated(
      [&] {
        json answer;
        try {
          if (!backends::is_hdf5_file(file)) {
            answer["not_hdf5"] = true;
          } else {
            const RankFileView view = view_rank_file(file);
            const auto& h = view.header;
            answer["header"] = {{"format_version", h.format_version}, {"job", h.job}, {"version", h.version},
                                {"rank", h.rank}, {"nranks", h.nranks}};
            answer["file_bytes"] = view.file_bytes;
            json datasets = json::array();
            for (const auto& d : view.datasets) {
              datasets.push_back({{"name", d.name}, {"type", d.type}, {"shape", d.shape}, {"data_bytes", d.data_bytes},
                                  {"stored_bytes", d.stored_bytes}, {"layout", d.layout}, {"filters", d.filters},
                                  {"checksum", d.checksum}, {"problem", d.problem}});
            }
            answer["datasets"] = datasets;
          }
        } catch (const std::exception& error) {
          answer["error"] = error.what();
        }
        // Names read from the file may be any bytes: never let them stop the answer.
        return answer.dump(-1, ' ', false, json::error_handler_t::replace);
      },
      std::chrono::seconds(30));
  if (!result.output) {
    throw CorruptCheckpoint(fmt::format("{}: HDF5 could not read the file: {}", file.string(), result.failure));
  }
  const json answer = json::parse(*result.output);
  if (answer.contains("not_hdf5")) {
    throw NotHdf5(fmt::format("{} is not an HDF5 file", file.string()));
  }
  if (answer.contains("error")) throw CorruptCheckpoint(answer.at("error").get<std::string>());
  RankFileView view;
  const json& h = answer.at("header");
  view.header = {h.at("format_version").get<int>(), h.at("job").get<std::string>(), h.at("version").get<std::uint64_t>(),
                 h.at("rank").get<int>(), h.at("nranks").get<int>()};
  view.file_bytes = answer.at("file_bytes").get<std::uint64_t>();
  for (const json& d : answer.at("datasets")) {
    view.datasets.push_back({d.at("name").get<std::string>(), d.at("type").get<std::string>(),
                             d.at("shape").get<std::vector<std::size_t>>(), d.at("data_bytes").get<std::uint64_t>(),
                             d.at("stored_bytes").get<std::uint64_t>(), d.at("layout").get<std::string>(),
                             d.at("filters").get<std::string>(), d.at("checksum").get<std::string>(),
                             d.at("problem").get<std::string>()});
  }
  return view;
}

void print_problems(const std::vector<DatasetView>& datasets) {
  for (const auto& dataset : datasets) {
    if (!dataset.problem.empty()) std::printf("  problem: %s\n", dataset.problem.c_str());
  }
}

int inspect_rank_file(const fs::path& file) {
  RankFileView view;
  try {
    view = view_rank_file_isolated(file);
  } catch (const NotHdf5&) {
    throw UsageError(fmt::format("{} is not a Lazarus checkpoint file (not an HDF5 file)", file.string()));
  } catch (const CorruptCheckpoint& error) {
    throw UsageError(fmt::format("{} is not a readable Lazarus checkpoint file: {}", file.string(), error.what()));
  }
  const auto& header = view.header;
  std::printf("%s: Lazarus rank file, %s\n", file.string().c_str(), human_bytes(view.file_bytes).c_str());
  std::printf("  format version  %d\n  job             %s\n  version         %llu\n  rank            %d of %d\n\n",
              header.format_version, header.job.c_str(), static_cast<unsigned long long>(header.version), header.rank,
              header.nranks);
  Table table({{"REGION"}, {"TYPE"}, {"SHAPE"}, {"DATA", true}, {"STORED", true}, {"RATIO", true}, {"LAYOUT"},
               {"FILTERS"}, {"XXH3-64"}});
  for (const auto& d : view.datasets) {
    table.add({d.name, d.type, d.problem.empty() ? shape_text(d.shape) : "?", human_bytes(d.data_bytes),
               human_bytes(d.stored_bytes), ratio_text(d.data_bytes, d.stored_bytes), d.layout, d.filters, d.checksum});
  }
  table.print();
  print_problems(view.datasets);
  return kExitSuccess;
}

// --- A version folder ---------------------------------------------------------------------------

// The library version that wrote the manifest (not part of Manifest: informational only).
std::string writer_version(const fs::path& version_dir) {
  try {
    const auto json = nlohmann::json::parse(backends::read_whole_file(version_dir / detail::kManifestFileName));
    return json.value("library_version", json.value("lazarus_version", std::string("?")));
  } catch (const std::exception&) {
    return "?";
  }
}

// One region across every rank file that holds it.
struct RegionAcrossRanks {
  std::string type;
  std::string shape;
  std::string filters;
  int ranks = 0;
  std::uint64_t data_bytes = 0;
  std::uint64_t stored_bytes = 0;
};

void merge(std::string& into, const std::string& value) {
  if (into.empty()) into = value;
  else if (into != value) into = "(varies)";
}

int inspect_version(const fs::path& folder) {
  const detail::VersionSummary summary = detail::summarize_version(folder);
  std::printf("%s: version %llu, %s\n", folder.string().c_str(), static_cast<unsigned long long>(summary.version),
              summary.state.c_str());
  if (!summary.problem.empty()) std::printf("  manifest problem: %s\n", summary.problem.c_str());
  if (summary.manifest) {
    const auto& m = *summary.manifest;
    std::printf("  job          %s\n  ranks        %d\n  created      %s\n", m.job.c_str(), m.nranks,
                local_time_text(m.created_unix_ms).c_str());
    if (summary.state == "complete") std::printf("  written by   Lazarus %s\n", writer_version(folder).c_str());
    std::printf("  storage      %s, chunks of %s\n",
                m.compression_level > 0 ? fmt::format("zstd level {}", m.compression_level).c_str() : "uncompressed",
                human_bytes(m.chunk_bytes).c_str());
    std::printf("  data         %s in rank files of %s (%s)\n", human_bytes(summary.data_bytes).c_str(),
                human_bytes(summary.file_bytes).c_str(), ratio_text(summary.data_bytes, summary.file_bytes).c_str());
  } else {
    std::printf("  no manifest: %d rank file(s) found, %s\n", summary.nranks, human_bytes(summary.file_bytes).c_str());
  }

  // The rank files: from the manifest, else whatever rank-*.h5 files are there.
  std::vector<std::pair<int, fs::path>> files;
  std::map<fs::path, std::uint64_t> recorded_bytes;  // file -> size the manifest records
  if (summary.manifest) {
    for (const auto& record : summary.manifest->ranks) {
      files.emplace_back(record.rank, folder / record.file);
      recorded_bytes[folder / record.file] = record.file_bytes;
    }
  } else {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error)) {
      const auto name = entry.path().filename().string();
      if (name.starts_with("rank-") && name.ends_with(".h5")) files.emplace_back(-1, entry.path());
    }
    std::sort(files.begin(), files.end());
  }
  std::vector<std::string> order;
  std::map<std::string, RegionAcrossRanks> regions;
  Table per_file({{"RANK", true}, {"FILE"}, {"SIZE", true}, {"DATA", true}, {"RATIO", true}, {"STATUS"}});
  std::vector<std::string> problems;
  for (const auto& [rank, file] : files) {
    std::error_code error;
    if (!fs::exists(file, error)) {
      per_file.add({rank >= 0 ? std::to_string(rank) : "?", file.filename().string(), "-", "-", "-", "missing"});
      continue;
    }
    RankFileView view;
    try {
      view = view_rank_file_isolated(file);
    } catch (const Error& problem) {
      per_file.add({rank >= 0 ? std::to_string(rank) : "?", file.filename().string(),
                    human_bytes(fs::file_size(file, error)), "-", "-", "unreadable"});
      problems.push_back(problem.what());
      continue;
    }
    std::uint64_t data = 0;
    for (const auto& d : view.datasets) {
      if (!d.problem.empty()) problems.push_back(d.problem);
      data += d.data_bytes;
      if (!regions.contains(d.name)) order.push_back(d.name);
      auto& region = regions[d.name];
      merge(region.type, d.type);
      merge(region.shape, shape_text(d.shape));
      merge(region.filters, d.filters);
      ++region.ranks;
      region.data_bytes += d.data_bytes;
      region.stored_bytes += d.stored_bytes;
    }
    const auto recorded = recorded_bytes.find(file);
    const bool size_differs = recorded != recorded_bytes.end() && recorded->second != view.file_bytes;
    per_file.add({std::to_string(view.header.rank), file.filename().string(), human_bytes(view.file_bytes),
                  human_bytes(data), ratio_text(data, view.file_bytes),
                  size_differs ? fmt::format("readable, but the manifest records {} bytes", recorded->second)
                               : std::string("readable")});
  }
  std::printf("\nRegions, summed over the rank files:\n");
  Table per_region({{"REGION"}, {"TYPE"}, {"SHAPE (each rank)"}, {"RANKS", true}, {"DATA", true}, {"STORED", true},
                    {"RATIO", true}, {"FILTERS"}});
  for (const auto& name : order) {
    const auto& r = regions.at(name);
    per_region.add({name, r.type, r.shape, std::to_string(r.ranks), human_bytes(r.data_bytes),
                    human_bytes(r.stored_bytes), ratio_text(r.data_bytes, r.stored_bytes), r.filters});
  }
  if (order.empty()) std::printf("  (none readable)\n");
  else per_region.print("  ");
  std::printf("\nRank files (not verified; `lazarus verify` checks every checksum):\n");
  per_file.print("  ");
  for (const auto& problem : problems) std::printf("  problem: %s\n", problem.c_str());
  return kExitSuccess;
}

}  // namespace

CheckpointCommands::CheckpointCommands(CLI::App& app) {
  list_ = app.add_subcommand("list", "List a job's checkpoint versions: state, ranks, sizes, creation time, regions.");
  list_->add_option("DIR", dir_, "the checkpoint root (LAZARUS_DIR), or a job folder")->required();
  list_->add_option("--job", job_, "the job (LAZARUS_JOB)")->capture_default_str();

  verify_ = app.add_subcommand("verify", "Check every checksum of a version (default: of every complete version), "
                                         "the way a restore would. Exit status 1 when any is damaged.");
  verify_->add_option("DIR", dir_, "the checkpoint root (LAZARUS_DIR), or a job folder")->required();
  verify_->add_option("--job", job_, "the job (LAZARUS_JOB)")->capture_default_str();
  verify_->add_option("--version", version_, "only this version")
      ->check(integer_in(1, static_cast<std::int64_t>(detail::kLastVersion)));

  inspect_ = app.add_subcommand("inspect", "Show how a rank file (.h5) or a version folder stores its regions: "
                                           "types, shapes, sizes, compression, filters.");
  inspect_->add_option("TARGET", target_, "a rank file (rank-00000.h5) or a version folder (v0000000003)")->required();
}

int CheckpointCommands::execute() {
  if (list_->parsed()) {
    job_given_ = list_->count("--job") > 0;
    return list();
  }
  if (verify_->parsed()) {
    job_given_ = verify_->count("--job") > 0;
    return verify();
  }
  if (inspect_->parsed()) return inspect();
  throw UsageError("no command given (see lazarus --help)");
}

int CheckpointCommands::list() const {
  const fs::path job_dir = job_folder(dir_, job_, job_given_);
  const auto versions = detail::list_versions(job_dir);
  std::printf("%s: %zu version(s)\n", job_dir.string().c_str(), versions.size());
  if (versions.empty()) return kExitSuccess;
  Table table({{"VERSION", true}, {"STATE"}, {"RANKS", true}, {"DATA", true}, {"ON DISK", true}, {"RATIO", true},
               {"CREATED"}, {"REGIONS"}});
  for (const auto& v : versions) {
    if (v.manifest) {
      table.add({std::to_string(v.version), v.state, std::to_string(v.nranks), human_bytes(v.data_bytes),
                 human_bytes(v.file_bytes), ratio_text(v.data_bytes, v.file_bytes),
                 local_time_text(v.manifest->created_unix_ms), abbreviate(v.regions)});
    } else {  // no manifest to go by: the rank files on disk
      const std::string files = fmt::format("({} file{})", v.nranks, v.nranks == 1 ? "" : "s");
      table.add({std::to_string(v.version), v.state, files, "-", human_bytes(v.file_bytes), "-", "-", "-"});
    }
  }
  table.print();
  for (const auto& v : versions) {
    if (!v.problem.empty()) {
      std::printf("version %llu: %s\n", static_cast<unsigned long long>(v.version), v.problem.c_str());
    }
  }
  return kExitSuccess;
}

int CheckpointCommands::verify() const {
  const fs::path job_dir = job_folder(dir_, job_, job_given_);
  std::vector<std::uint64_t> versions;
  if (verify_->count("--version") > 0) {
    versions.push_back(version_);
  } else {
    versions = detail::scan_versions(job_dir).complete;
    std::reverse(versions.begin(), versions.end());
    if (versions.empty()) throw UsageError(fmt::format("{} holds no complete version to verify", job_dir.string()));
  }
  bool all_intact = true;
  std::vector<std::uint64_t> unchecked;  // versions without manifest.json, when verifying them all
  if (verify_->count("--version") == 0) unchecked = detail::scan_versions(job_dir).incomplete;
  for (const std::uint64_t version : versions) {
    detail::VersionReport report;
    try {
      report = detail::verify_version(job_dir, version);
    } catch (const NoCheckpoint& absent) {
      throw UsageError(absent.what());
    }
    const char* aside = report.set_aside ? " (set aside)" : "";
    if (report.intact()) {
      std::printf("version %llu%s: intact (%d ranks, %s checked)\n", static_cast<unsigned long long>(version), aside,
                  report.nranks, human_bytes(report.data_bytes).c_str());
    } else {
      all_intact = false;
      std::printf("version %llu%s: DAMAGED\n", static_cast<unsigned long long>(version), aside);
      for (const auto& problem : report.problems) std::printf("  %s\n", problem.c_str());
    }
    std::fflush(stdout);
  }
  if (!unchecked.empty()) {
    std::printf("not verified (no manifest.json: incomplete or set aside): version%s %s\n",
                unchecked.size() == 1 ? "" : "s", fmt::format("{}", fmt::join(unchecked, ", ")).c_str());
  }
  return all_intact ? kExitSuccess : kExitFailure;
}

int CheckpointCommands::inspect() const {
  fs::path target = fs::path(target_).lexically_normal();
  if (target.filename().empty() && target.has_parent_path()) target = target.parent_path();  // "v0000000003/"
  std::error_code error;
  const auto status = fs::status(target, error);
  if (!fs::exists(status)) throw UsageError(fmt::format("{} does not exist", target.string()));
  if (fs::is_regular_file(status)) return inspect_rank_file(target);
  if (!fs::is_directory(status)) {
    throw UsageError(fmt::format("{} is neither a rank file nor a folder", target.string()));
  }
  const bool version_folder = detail::parse_version_directory_name(target.filename().string()) ||
                              fs::exists(target / detail::kManifestFileName, error) ||
                              fs::exists(target / detail::kSetAsideManifestFileName, error);
  if (!version_folder) {
    if (holds_versions(target) || !jobs_under(target).empty()) {
      throw UsageError(fmt::format("{} is a job folder or checkpoint root, not a version folder: `lazarus list {}` "
                                   "shows its versions; inspect one of them (a v0000000001 folder) or a rank file",
                                   target.string(), target.string()));
    }
    throw UsageError(fmt::format("{} is not a Lazarus version folder", target.string()));
  }
  return inspect_version(target);
}

}  // namespace lazarus::launcher
