// The parent's side of the disk simulator (disk_simulator.cpp): prepare a
// store's data file for a simulated disk, and after the child is killed,
// build the data file a power loss would have left.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace test {

// LMDB's data file in a store directory.
std::string data_file(const std::string& store_dir);

// Starts simulating the disk of store_dir's data file in sim_dir: what the
// file holds now counts as synced, and nothing is pending.
void prepare_disk(const std::string& sim_dir, const std::string& store_dir);

// Environment entries that load the simulator into a child process and point
// it at sim_dir and store_dir's data file. crash_at ("KIND:N", or empty) adds a
// crash point (see disk_simulator.cpp).
std::vector<std::string> disk_environment(const std::string& sim_dir, const std::string& store_dir,
                                          const std::string& crash_at = "");

// The path of the shared library this process loaded whose file name
// starts with prefix (e.g. "libtsan.so"), or "".
std::string loaded_library(const std::string& prefix);

// Path of the simulator's shared library.
std::string disk_simulator_path();

// What happens to the writes the disk had not synced when the power went.
enum class Unsynced {
  dropped,  // none of them reached the disk
  random,   // each dropped, written whole, or torn: only some of its sectors written
};

struct PowerLossReport {
  std::size_t replayed = 0;  // writes of a sync whose copy into the image the kill cut short
  std::size_t durable = 0;   // durable (O_DSYNC) writes since the last sync
  std::size_t kept = 0;      // unsynced writes that reached the disk whole
  std::size_t torn = 0;      // unsynced writes of which only some sectors did
  std::size_t dropped = 0;   // unsynced writes lost
  std::string summary() const;
};

// Writes into target_store_dir the data file sim_dir's disk holds after a
// power loss, choosing the fate of each unsynced write with seed, and removes
// the stale LMDB lock file there. Throws std::runtime_error on an unreadable
// journal.
PowerLossReport power_loss(const std::string& sim_dir, const std::string& target_store_dir,
                           Unsynced unsynced, std::uint64_t seed);

}  // namespace test
