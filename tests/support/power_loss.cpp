#include "support/power_loss.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

#include "support/disk_journal.hpp"

namespace fs = std::filesystem;

namespace test {
namespace {

struct Record {
  disk_sim::JournalRecord header;
  const char* data = nullptr;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The journal's whole records; a record cut short by the kill ends it.
std::vector<Record> parse(const std::string& journal) {
  std::vector<Record> out;
  std::size_t at = 0;
  while (journal.size() - at >= sizeof(disk_sim::JournalRecord)) {
    Record r;
    std::memcpy(&r.header, journal.data() + at, sizeof r.header);
    if (r.header.magic != disk_sim::kMagic) throw std::runtime_error("corrupt disk journal");
    at += sizeof r.header;
    if (journal.size() - at < r.header.length) break;
    r.data = journal.data() + at;
    at += r.header.length;
    out.push_back(r);
  }
  return out;
}

void put(int fd, std::uint64_t offset, const char* data, std::uint64_t length) {
  if (::pwrite(fd, data, length, static_cast<off_t>(offset)) != static_cast<ssize_t>(length)) {
    throw std::runtime_error(
        fmt::format("cannot write the crashed data file: {}", std::strerror(errno)));
  }
}

// Writes some of r's sectors, each with even odds; returns how many.
std::size_t put_torn(int fd, const Record& r, std::mt19937_64& rng) {
  std::size_t written = 0;
  std::uint64_t at = r.header.offset;
  const std::uint64_t end = r.header.offset + r.header.length;
  while (at < end) {
    const std::uint64_t sector_end =
        std::min(end, (at / disk_sim::kSector + 1) * disk_sim::kSector);
    if (rng() % 2 == 0) {
      put(fd, at, r.data + (at - r.header.offset), sector_end - at);
      ++written;
    }
    at = sector_end;
  }
  return written;
}

}  // namespace

std::string data_file(const std::string& store_dir) {
  return store_dir + "/data.mdb";
}

void prepare_disk(const std::string& sim_dir, const std::string& store_dir) {
  fs::create_directories(sim_dir);
  const std::string image = sim_dir + "/" + disk_sim::kImageName;
  if (fs::exists(data_file(store_dir))) {
    fs::copy_file(data_file(store_dir), image, fs::copy_options::overwrite_existing);
  } else {
    std::ofstream(image, std::ios::binary | std::ios::trunc);
  }
  std::ofstream(sim_dir + "/" + disk_sim::kPendingName, std::ios::binary | std::ios::trunc);
}

std::vector<std::string> disk_environment(const std::string& sim_dir, const std::string& store_dir,
                                          const std::string& crash_at) {
  // AddressSanitizer's runtime may come after the simulator (told not to
  // insist on being first), so that every write reaches the simulator before
  // ASan's interceptor. ThreadSanitizer's must come first, or its interceptors
  // run before it has started; the simulator then sits behind them.
  const std::string tsan = loaded_library("libtsan.so");
  const char* asan = std::getenv("ASAN_OPTIONS");
  std::vector<std::string> env = {
      "LD_PRELOAD=" + (tsan.empty() ? "" : tsan + " ") + disk_simulator_path(),
      std::string(disk_sim::kFileEnv) + "=" + data_file(store_dir),
      std::string("ASAN_OPTIONS=") + (asan != nullptr ? std::string(asan) + ":" : "") +
          "verify_asan_link_order=0",
  };
  if (!sim_dir.empty()) env.push_back(std::string(disk_sim::kDirEnv) + "=" + sim_dir);
  if (!crash_at.empty()) env.push_back(std::string(disk_sim::kCrashEnv) + "=" + crash_at);
  return env;
}

std::string loaded_library(const std::string& prefix) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (fs::path(path).filename().string().rfind(prefix, 0) == 0) return path;
  }
  return "";
}

std::string disk_simulator_path() {
  return STARHOLD_DISK_SIMULATOR;
}

std::string PowerLossReport::summary() const {
  std::string s =
      fmt::format("since the last sync: {} durable writes; unsynced: {} kept, {} torn, {} dropped",
                  durable, kept, torn, dropped);
  if (replayed > 0) s += fmt::format("; {} synced writes replayed", replayed);
  return s;
}

PowerLossReport power_loss(const std::string& sim_dir, const std::string& target_store_dir,
                           Unsynced unsynced, std::uint64_t seed) {
  fs::create_directories(target_store_dir);
  const std::string target = data_file(target_store_dir);
  fs::copy_file(sim_dir + "/" + disk_sim::kImageName, target, fs::copy_options::overwrite_existing);
  fs::remove(target_store_dir + "/lock.mdb");
  const std::string journal = read_file(sim_dir + "/" + disk_sim::kPendingName);
  const std::vector<Record> records = parse(journal);
  std::size_t last_sync = 0;  // records before it are durable
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].header.kind == disk_sim::RecordKind::sync) last_sync = i + 1;
  }
  const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + target);
  std::mt19937_64 rng(seed);
  PowerLossReport report;
  try {
    for (std::size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      if (r.header.kind == disk_sim::RecordKind::sync) continue;
      if (i < last_sync || r.header.kind == disk_sim::RecordKind::durable_write) {
        put(fd, r.header.offset, r.data, r.header.length);
        ++(i < last_sync ? report.replayed : report.durable);
        continue;
      }
      const auto fate = unsynced == Unsynced::dropped ? 0 : rng() % 3;
      if (fate == 1) {
        put(fd, r.header.offset, r.data, r.header.length);
        ++report.kept;
      } else if (fate == 2 && put_torn(fd, r, rng) > 0) {
        ++report.torn;
      } else {
        ++report.dropped;
      }
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return report;
}

}  // namespace test
