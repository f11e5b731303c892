// The journal the disk simulator (disk_simulator.cpp, preloaded into a child
// process) keeps of one data file, and the environment that configures it.
//
// The simulator keeps two files in its directory:
//   synced.img   the data file as a disk would hold it after a power loss
//                with nothing in flight: every write that a sync made durable
//   pending.log  the writes since the last sync, as records in write order
// A record is a JournalRecord followed by `length` bytes of data. At a
// successful fdatasync/fsync of the data file the simulator appends a sync
// record, applies every record before it to synced.img, then empties
// pending.log; a SIGKILL during that leaves the sync record in place, so
// applying it again gives the same image. A write through a descriptor opened
// with O_DSYNC/O_SYNC is durable once it returns; it is recorded as durable,
// extended to the whole 512-byte sectors it touched (the disk writes sectors,
// so their other bytes are written with it).
#pragma once

#include <cstdint>

namespace disk_sim {

inline constexpr const char* kDirEnv = "STARHOLD_DISK_SIM_DIR";    // enables the journal
inline constexpr const char* kFileEnv = "STARHOLD_DISK_SIM_FILE";  // the data file's path
// "KIND:N": the process sends itself SIGKILL at the N-th event of KIND (see
// disk_simulator.cpp for the kinds).
inline constexpr const char* kCrashEnv = "STARHOLD_CRASH_AT";

inline constexpr const char* kImageName = "synced.img";
inline constexpr const char* kPendingName = "pending.log";

inline constexpr std::uint64_t kSector = 512;
inline constexpr std::uint32_t kMagic = 0x5354444a;  // "STDJ"

enum class RecordKind : std::uint32_t {
  write = 1,          // not durable until a later sync record
  durable_write = 2,  // durable as soon as it was written
  sync = 3,           // every record before it is durable
};

struct JournalRecord {
  std::uint32_t magic = kMagic;
  RecordKind kind = RecordKind::write;
  std::uint64_t offset = 0;  // in the data file
  std::uint64_t length = 0;  // bytes of data following this header
};

}  // namespace disk_sim
