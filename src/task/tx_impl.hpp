// The Transaction given to game code: one per attempt, reused between
// attempts of the same worker so its buffers are allocated once.
//
// Consistency: the transaction reads at snapshot start_ts_. Reading a
// version newer than that moves the snapshot up to it if everything read so
// far is still current. Otherwise an attempt that has written aborts, and one
// that has only read stays behind on its snapshot, reading the versions kept
// for it (data/versioned_cache.hpp): it commits without validation if it
// writes nothing, and aborts at its first write. Game code never sees half of
// another task's commit, and a task that only reads never conflicts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "data/data_service.hpp"
#include "starhold/task.hpp"

namespace starhold::task {

struct Attempt;
struct Arm;
struct Task;
class TaskService;
enum class Outcome;

// Thrown through game code to end an attempt that must be retried. It does
// not derive from std::exception, and the transaction stays doomed even if
// game code swallows it.
struct AbortSignal {
  Outcome reason;
};

class TxImpl final : public Transaction {
 public:
  TxImpl(TaskService& service, Attempt& attempt);
  ~TxImpl() override;

  // Prepares for an attempt of task. Call on the attempt's fiber.
  void begin(Task& task);
  // Validates and commits. Returns committed (the task now belongs to the
  // committer), conflict (recorded in the attempt) or storage (the store is
  // in a fatal state; the cause is in the attempt's error).
  Outcome commit();
  // Drops everything the attempt loaded. Runs game destructors.
  void end() noexcept;

  bool doomed() const noexcept { return doomed_; }
  // True while everything this attempt read is still the committed version:
  // an error the game raised from a snapshot that is no longer current is a
  // conflict to retry, not the game's verdict.
  bool reads_current();
  Outcome doom_reason() const noexcept { return doom_reason_; }
  // Time spent parked does not count against the limit.
  void extend_deadline(std::chrono::steady_clock::duration d) { deadline_ += d; }

  // Takes intents on ids (in id order, waiting as needed) before the body runs.
  void take_intents(std::vector<std::uint64_t> ids);
  // Runs a durable task's handler against its stored record.
  void run_scheduled(std::uint64_t record);
  // Removes a failed one-shot record or moves a periodic one to its next period.
  void retire_scheduled(std::uint64_t record);

  TaskService& service() const noexcept { return service_; }

  std::string_view task_name() const noexcept override;
  int attempt() const noexcept override;
  TaskHandle task_handle() const noexcept override;

 protected:
  ManagedObject& load(ObjectId id, std::string_view expected_type, bool for_update) override;
  void adopt(std::unique_ptr<ManagedObject> obj) override;
  void remove_object(ObjectId id) override;
  void mark_object(ObjectId id) override;
  void bind_name(std::string_view name, ObjectId id) override;
  ObjectId name_target(std::string_view name) override;
  bool unbind_name(std::string_view name) override;
  std::optional<std::string> next_name(std::string_view after) override;
  TaskHandle schedule_task(std::string_view handler, std::string payload,
                           std::chrono::milliseconds delay,
                           std::chrono::milliseconds period) override;
  bool cancel_task(TaskHandle handle) override;
  void add_commit_hook(std::function<void()> fn) override;

 private:
  // absent: read and found missing; the absence is validated like any read.
  enum class State : std::uint8_t { read, update, created, removed, created_removed, absent };
  struct Loaded {
    std::uint64_t id;
    data::Version version;
    data::RecordPtr record;                 // null when created here
    std::unique_ptr<ManagedObject> object;  // null when absent
    State state;
  };
  struct NameState {
    data::Version version = 0;
    std::uint64_t target = 0;
    bool read = false;     // version is a read to validate
    bool written = false;  // target is to be stored
  };

  void check_live();
  [[noreturn]] void abort_with(Outcome reason);
  [[noreturn]] void conflict(std::uint64_t id, std::string name);
  // Decides how a version read as the newest fits the snapshot: true to use
  // it (not newer, or the snapshot moved up to it); false to read the version
  // as of start_ts_ instead (the attempt is behind). Aborts a writer that
  // cannot move.
  bool admit(data::Version v);
  // Aborts if a store failure dropped commits since begin (after each read).
  void check_epoch();
  // Begins a snapshot at the published version, with its failure epoch.
  void take_snapshot();
  std::optional<std::string> checked(std::optional<std::string> name);
  // Stays on start_ts_ from now on; id or name is what changed since.
  void fall_behind(std::uint64_t id, std::string name);
  // Called before every write: a task behind its snapshot cannot write.
  void note_write();
  bool writes_anything() const noexcept;
  void validate_reads();
  // Finds a read that is no longer the committed version (an object id, or
  // a name); false when every read is current.
  bool find_stale_read(std::uint64_t& id, std::string& name);
  Loaded* find_loaded(std::uint64_t id) noexcept;
  Loaded& push_loaded(Loaded l);
  Loaded& load_loaded(std::uint64_t id, std::string_view expected_type, bool for_update);
  void take_intent(std::uint64_t id, bool for_update, bool hot);
  std::unique_ptr<ManagedObject> decode(std::uint64_t id, const data::Record& rec,
                                        std::string_view expected_type);
  const TypeInfo* type_of(std::uint32_t hash);
  std::uint64_t new_id();
  NameState& name_state(std::string_view name, bool read);
  void build_request();
  void schedule_arm(std::uint64_t record, std::string handler, std::int64_t due_ms);

  TaskService& service_;
  data::DataService& data_;
  Attempt& attempt_;
  Task* task_ = nullptr;
  // Read by check_live on whatever thread misuses a kept Transaction: atomic,
  // so that the misuse is reported (UsageError) rather than a data race.
  std::atomic<bool> active_{false};
  bool doomed_ = false;
  Outcome doom_reason_{};
  data::Version start_ts_ = 0;
  data::SnapshotRegistry::Slot* const snapshot_;  // start_ts_, as the watermark sees it
  bool behind_ = false;                           // something read changed after start_ts_
  std::uint64_t behind_id_ = 0;                   // what changed: an object,
  std::string behind_name_;                       // or a name
  std::uint64_t epoch_ = 0;                       // the data service's failure epoch at begin
  std::chrono::steady_clock::time_point deadline_{};

  std::vector<Loaded> objects_;
  std::unordered_map<std::uint64_t, std::size_t> object_index_;  // used past kLinear objects
  std::map<std::string, NameState, std::less<>> names_;
  std::optional<data::Version> structure_read_;
  std::vector<data::IndexWrite> index_writes_;
  std::vector<std::function<void()>> hooks_;
  std::vector<Arm> arms_;

  std::uint64_t id_next_ = 0;
  std::uint64_t id_end_ = 0;
  std::vector<std::pair<std::uint32_t, const TypeInfo*>>
      types_;  // hash -> type, this worker's memo
  std::string scratch_;
  data::CommitRequest request_;

  static constexpr std::size_t kLinear = 16;
};

}  // namespace starhold::task
