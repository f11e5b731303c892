// A disk simulator loaded into a child process with LD_PRELOAD. It watches one
// data file (STARHOLD_DISK_SIM_FILE) and does two things, each optional:
//
// 1. Power loss (STARHOLD_DISK_SIM_DIR set): it journals every write to the
//    data file and every sync of it, keeping the image a disk would hold
//    after a power loss (see disk_journal.hpp). power_loss.cpp later builds a
//    crashed data file from that image and the writes it had not synced.
// 2. Crash points (STARHOLD_CRASH_AT=KIND:N): the process sends itself SIGKILL
//    at the N-th event of KIND:
//      write        before a write to the data file
//      sync         before an fdatasync/fsync of it (pages written, not synced)
//      meta         before a write through an O_DSYNC descriptor (LMDB's meta
//                   page: after the data pages were synced)
//      meta-after   after such a write returned, before it counts as durable
//      resize       at an mmap of the data file larger than every earlier one
//                   (LMDB growing its map: the old map is already unmapped)
//
// What LMDB (0.9, without MDB_WRITEMAP) does to its data file, read in mdb.c:
// pages go out with pwrite, or lseek + writev for runs of pages
// (mdb_page_flush); a commit then calls fdatasync (mdb_env_sync) unless
// MDB_NOSYNC, and writes the meta page with pwrite through me_mfd, opened
// O_DSYNC (mdb_env_write_meta); with MDB_NOSYNC the meta goes through the
// plain descriptor and nothing is ever synced. A new file's two meta pages are
// written with one pwrite and no sync. MDB_WRITEMAP would write through a
// shared writable map and msync; that, and ftruncate of the data file, are not
// modelled: the simulator aborts the process if it sees either.
//
// Every interposed call on the data file holds one mutex from the real call
// to its journal record, so the journal's order is the order of the writes.
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "support/disk_journal.hpp"

namespace {

using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using WritevFn = ssize_t (*)(int, const iovec*, int);
using PwritevFn = ssize_t (*)(int, const iovec*, int, off_t);
using SyncFn = int (*)(int);
using MmapFn = void* (*)(void*, size_t, int, int, int, off_t);
using TruncateFn = int (*)(int, off_t);

struct Real {
  WriteFn write;
  PwriteFn pwrite;
  PwriteFn pwrite64;
  WritevFn writev;
  PwritevFn pwritev;
  PwritevFn pwritev64;
  SyncFn fdatasync;
  SyncFn fsync;
  MmapFn mmap;
  MmapFn mmap64;
  TruncateFn ftruncate;
  TruncateFn ftruncate64;
};

enum class Event { write, sync, meta, meta_after, resize, none };

struct State {
  Real real{};
  std::string file;  // the data file's path
  bool journal = false;
  int pending_fd = -1;
  int image_fd = -1;
  int read_fd = -1;  // the data file, to read whole sectors of a durable write
  Event crash_event = Event::none;
  long crash_at = 0;
  long counts[5] = {};
  std::size_t largest_map = 0;
  bool known = false;  // dev/ino found
  dev_t dev = 0;
  ino_t ino = 0;
};

// Made in init, by the first interposed call, which may come before this
// library's static constructors run (a sanitizer's runtime, loaded first,
// calls write or mmap while it starts): a global State would be constructed
// again after init and lose what init set. Storage without a constructor is
// never reset.
alignas(State) unsigned char state_storage[sizeof(State)];
State* state_ptr = nullptr;
pthread_once_t once = PTHREAD_ONCE_INIT;
pthread_once_t configured = PTHREAD_ONCE_INIT;
pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;  // guards state after init

// Holds mu for a scope. (std::mutex would do, but this one needs no
// constructor to have run: an interposed call can come before any.)
struct Locked {
  Locked() { pthread_mutex_lock(&mu); }
  ~Locked() { pthread_mutex_unlock(&mu); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "disk simulator: %s (%s)\n", what, std::strerror(errno));
  std::abort();
}

template <class F>
F resolve(const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    std::fprintf(stderr, "disk simulator: no %s to wrap\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

Event parse_event(const std::string& kind) {
  if (kind == "write") return Event::write;
  if (kind == "sync") return Event::sync;
  if (kind == "meta") return Event::meta;
  if (kind == "meta-after") return Event::meta_after;
  if (kind == "resize") return Event::resize;
  std::fprintf(stderr, "disk simulator: unknown crash point kind '%s'\n", kind.c_str());
  std::abort();
}

void init() {
  state_ptr = new (state_storage) State();
  Real& r = state_ptr->real;
  r.write = resolve<WriteFn>("write");
  r.pwrite = resolve<PwriteFn>("pwrite");
  r.pwrite64 = resolve<PwriteFn>("pwrite64");
  r.writev = resolve<WritevFn>("writev");
  r.pwritev = resolve<PwritevFn>("pwritev");
  r.pwritev64 = resolve<PwritevFn>("pwritev64");
  r.fdatasync = resolve<SyncFn>("fdatasync");
  r.fsync = resolve<SyncFn>("fsync");
  r.mmap = resolve<MmapFn>("mmap");
  r.mmap64 = resolve<MmapFn>("mmap64");
  r.ftruncate = resolve<TruncateFn>("ftruncate");
  r.ftruncate64 = resolve<TruncateFn>("ftruncate64");
}

// Reads the environment. REQUIRES: init() ran.
void configure() {
  const char* file = std::getenv(disk_sim::kFileEnv);
  if (file == nullptr) return;  // nothing to watch
  state_ptr->file = file;
  if (const char* dir = std::getenv(disk_sim::kDirEnv)) {
    const std::string d = dir;
    state_ptr->image_fd = ::open((d + "/" + disk_sim::kImageName).c_str(), O_WRONLY | O_CLOEXEC);
    if (state_ptr->image_fd < 0) fail("cannot open synced.img (prepare the directory first)");
    state_ptr->pending_fd = ::open((d + "/" + disk_sim::kPendingName).c_str(),
                                   O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (state_ptr->pending_fd < 0) fail("cannot open pending.log");
    state_ptr->journal = true;
  }
  if (const char* crash = std::getenv(disk_sim::kCrashEnv)) {
    const std::string c = crash;
    const auto colon = c.find(':');
    if (colon == std::string::npos) {
      std::fprintf(stderr, "disk simulator: %s must be KIND:N\n", disk_sim::kCrashEnv);
      std::abort();
    }
    state_ptr->crash_event = parse_event(c.substr(0, colon));
    state_ptr->crash_at = std::atol(c.c_str() + colon + 1);
  }
}

State& ready() {
  pthread_once(&once, init);
  // A call made while a sanitizer's runtime starts up can come before libc
  // has set up the environment; the environment is read at the first call
  // after that, and the data file is opened long after.
  if (environ != nullptr) pthread_once(&configured, configure);
  return *state_ptr;
}

// True if fd is the watched data file. REQUIRES: ready().
bool is_data(int fd) {
  if (state_ptr->file.empty()) return false;
  struct stat s;
  if (::fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) return false;
  Locked held;
  if (!state_ptr->known) {
    struct stat f;
    if (::stat(state_ptr->file.c_str(), &f) == 0) {
      state_ptr->known = true;
      state_ptr->dev = f.st_dev;
      state_ptr->ino = f.st_ino;
    }
  }
  return state_ptr->known && s.st_dev == state_ptr->dev && s.st_ino == state_ptr->ino;
}

// Counts an event and dies if it is the crash point. REQUIRES: mu held.
void reach(Event e) {
  const long n = ++state_ptr->counts[static_cast<int>(e)];
  if (e == state_ptr->crash_event && n == state_ptr->crash_at) {
    ::kill(::getpid(), SIGKILL);
    for (;;)
      ::pause();
  }
}

void write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = state_ptr->real.write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write the journal");
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

// REQUIRES: mu held.
void append(disk_sim::RecordKind kind, std::uint64_t offset, const char* data, std::size_t size) {
  if (!state_ptr->journal) return;
  std::vector<char> rec(sizeof(disk_sim::JournalRecord) + size);
  disk_sim::JournalRecord h;
  h.kind = kind;
  h.offset = offset;
  h.length = size;
  std::memcpy(rec.data(), &h, sizeof h);
  if (size > 0) std::memcpy(rec.data() + sizeof h, data, size);
  write_all(state_ptr->pending_fd, rec.data(), rec.size());
}

// After a sync: every journalled write is now on the simulated disk.
// REQUIRES: mu held.
void apply_pending() {
  if (!state_ptr->journal) return;
  append(disk_sim::RecordKind::sync, 0, nullptr, 0);
  off_t at = 0;
  disk_sim::JournalRecord h;
  std::vector<char> data;
  while (::pread(state_ptr->pending_fd, &h, sizeof h, at) == static_cast<ssize_t>(sizeof h)) {
    at += static_cast<off_t>(sizeof h);
    if (h.kind == disk_sim::RecordKind::sync) continue;
    data.resize(h.length);
    if (::pread(state_ptr->pending_fd, data.data(), h.length, at) != static_cast<ssize_t>(h.length))
      fail("cannot read the journal back");
    at += static_cast<off_t>(h.length);
    if (state_ptr->real.pwrite(state_ptr->image_fd, data.data(), h.length,
                               static_cast<off_t>(h.offset)) != static_cast<ssize_t>(h.length))
      fail("cannot update synced.img");
  }
  if (state_ptr->real.ftruncate(state_ptr->pending_fd, 0) != 0) fail("cannot empty pending.log");
}

// Records a write that returned. Through an O_DSYNC descriptor it is durable,
// with the whole sectors it touched. REQUIRES: mu held.
void record_write(bool dsync, std::uint64_t offset, const char* data, std::size_t size) {
  // Until it returns, even a write through an O_DSYNC descriptor may or may
  // not be on the disk: journal it as a plain write first.
  append(disk_sim::RecordKind::write, offset, data, size);
  if (!dsync) return;
  reach(Event::meta_after);
  if (!state_ptr->journal) return;
  if (state_ptr->read_fd < 0)
    state_ptr->read_fd = ::open(state_ptr->file.c_str(), O_RDONLY | O_CLOEXEC);
  if (state_ptr->read_fd < 0) fail("cannot read the data file");
  const std::uint64_t first = offset / disk_sim::kSector * disk_sim::kSector;
  const std::uint64_t end =
      (offset + size + disk_sim::kSector - 1) / disk_sim::kSector * disk_sim::kSector;
  std::vector<char> sectors(end - first);
  ssize_t n =
      ::pread(state_ptr->read_fd, sectors.data(), sectors.size(), static_cast<off_t>(first));
  if (n < static_cast<ssize_t>(offset + size - first)) fail("cannot read back a durable write");
  append(disk_sim::RecordKind::durable_write, first, sectors.data(), static_cast<std::size_t>(n));
}

std::vector<char> gather(const iovec* iov, int count, std::size_t size) {
  std::vector<char> out;
  out.reserve(size);
  for (int i = 0; i < count && out.size() < size; ++i) {
    const std::size_t take = std::min(iov[i].iov_len, size - out.size());
    const char* base = static_cast<const char*>(iov[i].iov_base);
    out.insert(out.end(), base, base + take);
  }
  return out;
}

// One write of the data file at a known offset: counted (and perhaps the
// crash point), run, and journalled, all under mu.
template <class Call>
ssize_t data_write(int fd, const iovec* iov, int count, std::uint64_t offset, Call call) {
  Locked held;
  const bool dsync = (::fcntl(fd, F_GETFL) & O_DSYNC) == O_DSYNC;
  reach(dsync ? Event::meta : Event::write);
  ssize_t n = call();
  const int saved = errno;
  if (n > 0) {
    auto bytes = gather(iov, count, static_cast<std::size_t>(n));
    record_write(dsync, offset, bytes.data(), bytes.size());
  }
  errno = saved;
  return n;
}

int data_sync(SyncFn fn, int fd) {
  Locked held;
  reach(Event::sync);
  int rc = fn(fd);
  const int saved = errno;
  if (rc == 0) apply_pending();
  errno = saved;
  return rc;
}

void* data_mmap(MmapFn fn, void* addr, size_t size, int prot, int flags, int fd, off_t offset) {
  if ((prot & PROT_WRITE) != 0 && (flags & MAP_SHARED) != 0) {
    std::fprintf(stderr, "disk simulator: a writable shared map of %s is not modelled\n",
                 state_ptr->file.c_str());
    std::abort();
  }
  {
    Locked held;
    if (state_ptr->largest_map != 0 && size > state_ptr->largest_map) reach(Event::resize);
    if (size > state_ptr->largest_map) state_ptr->largest_map = size;
  }
  return fn(addr, size, prot, flags, fd, offset);
}

int data_truncate(TruncateFn fn, int fd, off_t size) {
  if (is_data(fd)) {
    std::fprintf(stderr, "disk simulator: ftruncate of %s is not modelled\n",
                 state_ptr->file.c_str());
    std::abort();
  }
  return fn(fd, size);
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t size) {
  State& s = ready();
  if (!is_data(fd)) return s.real.write(fd, buf, size);
  iovec one{const_cast<void*>(buf), size};
  const off_t at = ::lseek(fd, 0, SEEK_CUR);
  return data_write(fd, &one, 1, static_cast<std::uint64_t>(at),
                    [&] { return s.real.write(fd, buf, size); });
}

ssize_t pwrite(int fd, const void* buf, size_t size, off_t offset) {
  State& s = ready();
  if (!is_data(fd)) return s.real.pwrite(fd, buf, size, offset);
  iovec one{const_cast<void*>(buf), size};
  return data_write(fd, &one, 1, static_cast<std::uint64_t>(offset),
                    [&] { return s.real.pwrite(fd, buf, size, offset); });
}

ssize_t pwrite64(int fd, const void* buf, size_t size, off_t offset) {
  State& s = ready();
  if (!is_data(fd)) return s.real.pwrite64(fd, buf, size, offset);
  iovec one{const_cast<void*>(buf), size};
  return data_write(fd, &one, 1, static_cast<std::uint64_t>(offset),
                    [&] { return s.real.pwrite64(fd, buf, size, offset); });
}

ssize_t writev(int fd, const iovec* iov, int count) {
  State& s = ready();
  if (!is_data(fd)) return s.real.writev(fd, iov, count);
  const off_t at = ::lseek(fd, 0, SEEK_CUR);
  return data_write(fd, iov, count, static_cast<std::uint64_t>(at),
                    [&] { return s.real.writev(fd, iov, count); });
}

ssize_t pwritev(int fd, const iovec* iov, int count, off_t offset) {
  State& s = ready();
  if (!is_data(fd)) return s.real.pwritev(fd, iov, count, offset);
  return data_write(fd, iov, count, static_cast<std::uint64_t>(offset),
                    [&] { return s.real.pwritev(fd, iov, count, offset); });
}

ssize_t pwritev64(int fd, const iovec* iov, int count, off_t offset) {
  State& s = ready();
  if (!is_data(fd)) return s.real.pwritev64(fd, iov, count, offset);
  return data_write(fd, iov, count, static_cast<std::uint64_t>(offset),
                    [&] { return s.real.pwritev64(fd, iov, count, offset); });
}

int fdatasync(int fd) {
  State& s = ready();
  if (!is_data(fd)) return s.real.fdatasync(fd);
  return data_sync(s.real.fdatasync, fd);
}

int fsync(int fd) {
  State& s = ready();
  if (!is_data(fd)) return s.real.fsync(fd);
  return data_sync(s.real.fsync, fd);
}

void* mmap(void* addr, size_t size, int prot, int flags, int fd, off_t offset) {
  State& s = ready();
  if (fd < 0 || !is_data(fd)) return s.real.mmap(addr, size, prot, flags, fd, offset);
  return data_mmap(s.real.mmap, addr, size, prot, flags, fd, offset);
}

void* mmap64(void* addr, size_t size, int prot, int flags, int fd, off_t offset) {
  State& s = ready();
  if (fd < 0 || !is_data(fd)) return s.real.mmap64(addr, size, prot, flags, fd, offset);
  return data_mmap(s.real.mmap64, addr, size, prot, flags, fd, offset);
}

int ftruncate(int fd, off_t size) {
  return data_truncate(ready().real.ftruncate, fd, size);
}

int ftruncate64(int fd, off_t size) {
  return data_truncate(ready().real.ftruncate64, fd, size);
}

}  // extern "C"
