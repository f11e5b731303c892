// The store behind the data service: an ordered key-value store with atomic,
// durable batches. LMDB is the embedded default (open_lmdb_store); another
// store (a replicated one, or a fault-injecting wrapper in tests) plugs in by
// implementing Store and passing it to the Server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace starhold {

// The key spaces of a Starhold store.
enum class Table : std::uint8_t {
  objects,  // object id (8 bytes, big-endian) -> record
  names,    // bound name -> object id
  tasks,    // scheduled task id -> empty (an index of durable tasks)
  meta,     // format version, id and commit counters
};

// One change of a write batch: a put, or a delete when value is null.
struct StoreWrite {
  Table table;
  std::string_view key;
  const std::string* value;
};

struct StoreStats {
  std::uint64_t map_bytes = 0;   // current size of the store's address space
  std::uint64_t used_bytes = 0;  // bytes in use by data
  std::uint64_t resizes = 0;     // times the map was enlarged
};

// A Store is safe for concurrent reads from many threads; write() is called by
// one thread at a time (the data service's group committer).
class Store {
 public:
  virtual ~Store() = default;

  // Reads key from table into value. Returns false, leaving value unchanged,
  // if the key is absent. Throws StoreError on an I/O failure.
  virtual bool get(Table table, std::string_view key, std::string& value) = 0;

  // Finds the smallest key in table greater than after (any key when after is
  // empty and inclusive is true) and stores it and its value. Returns false
  // if there is none.
  virtual bool next(Table table, std::string_view after, bool inclusive, std::string& key,
                    std::string& value) = 0;

  // Applies writes atomically: all or none. On return the batch is durable
  // unless the store was opened in relaxed mode. Throws StoreFull when the
  // store reached its size limit or the disk is full, StoreError otherwise;
  // after a throw, nothing of the batch is applied.
  virtual void write(std::span<const StoreWrite> writes) = 0;

  virtual StoreStats stats() = 0;
};

struct LmdbOptions {
  // Directory holding the store's files; created if missing.
  std::string path;
  // true: every write() is synced to disk before it returns (a reported commit
  // survives power loss). false: writes are flushed by the OS later; a crash
  // may lose the last writes but never corrupts the store.
  bool durable = true;
  // The map starts at this size and doubles when full, up to max_bytes.
  std::size_t initial_map_bytes = std::size_t{64} << 20;
  // Past this size writes fail with StoreFull; reads go on.
  std::size_t max_bytes = std::size_t{64} << 30;
};

// Opens (creating if needed) an LMDB store. Throws StoreFormatError if the
// files were written by an incompatible Starhold format, StoreError if the
// directory cannot be used or the store is open in another Server or process.
std::unique_ptr<Store> open_lmdb_store(const LmdbOptions& options);

// The store format this build reads and writes.
inline constexpr std::uint32_t kStoreFormat = 1;

}  // namespace starhold
