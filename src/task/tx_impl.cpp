#include "task/tx_impl.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/services.hpp"
#include "data/type_registry.hpp"
#include "task/attempt.hpp"
#include "task/scheduled_task.hpp"
#include "task/task_service.hpp"

namespace starhold::task {

using data::Version;

TxImpl::TxImpl(TaskService& service, Attempt& attempt)
    : Transaction(detail::TransactionAccess{}, service.services()),
      service_(service),
      data_(service.data()),
      attempt_(attempt),
      snapshot_(data_.snapshots().acquire()) {}

TxImpl::~TxImpl() {
  end();
  data_.snapshots().release(snapshot_);
}

void TxImpl::begin(Task& task) {
  task_ = &task;
  active_.store(true, std::memory_order_relaxed);
  doomed_ = false;
  behind_ = false;
  take_snapshot();
  deadline_ = service_.clock().now() + task.time_limit;
}

void TxImpl::take_snapshot() {
  // The epoch first: a failure that drops versions after it is seen moved.
  epoch_ = data_.begin_epoch();
  start_ts_ = data_.begin_snapshot(*snapshot_);
}

void TxImpl::end() noexcept {
  objects_.clear();  // runs game destructors; must not throw
  object_index_.clear();
  names_.clear();
  structure_read_.reset();
  index_writes_.clear();
  hooks_.clear();
  arms_.clear();
  active_.store(false, std::memory_order_relaxed);
  task_ = nullptr;
  snapshot_->end();
}

std::string_view TxImpl::task_name() const noexcept {
  return task_ != nullptr ? std::string_view(task_->name) : std::string_view();
}
int TxImpl::attempt() const noexcept {
  return task_ != nullptr ? task_->attempts : 0;
}
TaskHandle TxImpl::task_handle() const noexcept {
  return task_ != nullptr ? TaskHandle{ObjectId{task_->record}} : TaskHandle{};
}

// ---- Liveness and consistency ------------------------------------------

void TxImpl::check_live() {
  if (!active_.load(std::memory_order_relaxed))
    throw UsageError("a Transaction was used after its task ended");
  if (doomed_) throw AbortSignal{doom_reason_};
  if (service_.clock().now() > deadline_) abort_with(Outcome::timeout);
}

void TxImpl::abort_with(Outcome reason) {
  doomed_ = true;
  doom_reason_ = reason;
  throw AbortSignal{reason};
}

void TxImpl::conflict(std::uint64_t id, std::string name) {
  attempt_.conflict_id = id;
  attempt_.conflict_name = std::move(name);
  abort_with(Outcome::conflict);
}

void TxImpl::check_epoch() {
  // A store failure drops the commits that were not durable, first counting
  // itself in the epoch: every read is checked once it is done, so game code
  // never sees part of a dropped commit beside the rest.
  if (data_.failure_epoch() != epoch_) conflict(0, "(commits undone by a store failure)");
}

std::optional<std::string> TxImpl::checked(std::optional<std::string> name) {
  check_epoch();
  return name;
}

bool TxImpl::admit(Version v) {
  check_epoch();
  if (v <= start_ts_) return true;
  if (behind_) return false;
  // The snapshot moves to v, not to whatever is newest by now: once every
  // commit up to v is installed and everything read so far is still current,
  // all of it is the state at v, and so is any later read of a version <= v.
  data_.await_published(v);
  std::uint64_t id = 0;
  std::string name;
  if (!find_stale_read(id, name)) {
    start_ts_ = v;
    snapshot_->move_to(v);
    return true;
  }
  // Something read has changed since. A task that wrote cannot commit from
  // here; one that has only read stays on its snapshot and may still commit.
  if (writes_anything()) conflict(id, std::move(name));
  fall_behind(id, std::move(name));
  return false;
}

void TxImpl::fall_behind(std::uint64_t id, std::string name) {
  behind_ = true;
  behind_id_ = id;
  behind_name_ = std::move(name);
  service_.counters().behind.fetch_add(1, std::memory_order_relaxed);
}

void TxImpl::note_write() {
  if (behind_) conflict(behind_id_, behind_name_);
}

bool TxImpl::writes_anything() const noexcept {
  for (const Loaded& o : objects_) {
    if (o.state != State::read && o.state != State::absent) return true;
  }
  for (const auto& [name, st] : names_) {
    if (st.written) return true;
  }
  return !index_writes_.empty() || !arms_.empty();
}

bool TxImpl::find_stale_read(std::uint64_t& id, std::string& name) {
  for (const Loaded& o : objects_) {
    if (o.state == State::created || o.state == State::created_removed) continue;
    if (data_.read_object(o.id, nullptr)->version != o.version) {
      id = o.id;
      return true;
    }
  }
  for (const auto& [n, st] : names_) {
    if (st.read && data_.read_name(n)->version != st.version) {
      name = n;
      return true;
    }
  }
  if (structure_read_ && data_.structure_version() != *structure_read_) {
    name = "(the set of bound names)";
    return true;
  }
  return false;
}

void TxImpl::validate_reads() {
  std::uint64_t id = 0;
  std::string name;
  if (find_stale_read(id, name)) conflict(id, std::move(name));
}

bool TxImpl::reads_current() {
  std::uint64_t id = 0;
  std::string name;
  if (!find_stale_read(id, name)) return true;
  attempt_.conflict_id = id;
  attempt_.conflict_name = std::move(name);
  return false;
}

// ---- Objects -------------------------------------------------------------

TxImpl::Loaded* TxImpl::find_loaded(std::uint64_t id) noexcept {
  if (objects_.size() <= kLinear) {
    for (Loaded& o : objects_) {
      if (o.id == id) return &o;
    }
    return nullptr;
  }
  auto it = object_index_.find(id);
  return it == object_index_.end() ? nullptr : &objects_[it->second];
}

const TypeInfo* TxImpl::type_of(std::uint32_t hash) {
  for (const auto& [h, t] : types_) {
    if (h == hash) return t;
  }
  const TypeInfo* t = detail::find_type(hash);
  if (t != nullptr) types_.emplace_back(hash, t);
  return t;
}

std::unique_ptr<ManagedObject> TxImpl::decode(std::uint64_t id, const data::Record& rec,
                                              std::string_view expected_type) {
  if (rec.value.size() < data::kRecordHeader) {
    throw DecodeError(id, std::string(expected_type),
                      fmt::format("the record is {} bytes, shorter than its {}-byte header",
                                  rec.value.size(), data::kRecordHeader));
  }
  const TypeInfo* type = type_of(rec.type_hash);
  if (type == nullptr) throw UnknownType(id, rec.type_hash, data_.stored_type_name(rec.type_hash));
  if (type->make == nullptr) {
    throw DecodeError(id, std::string(type->name), "the stored type is abstract");
  }
  std::unique_ptr<ManagedObject> obj = type->make();
  try {
    obj->decode(rec.fields());
  } catch (const FieldError& e) {
    throw DecodeError(id, std::string(type->name), e.what());
  }
  detail::ObjectAccess::set_id(*obj, ObjectId{id});
  return obj;
}

void TxImpl::take_intent(std::uint64_t id, bool for_update, bool hot) {
  if (!for_update && !hot) return;
  auto& held = attempt_.held;
  if (std::find(held.begin(), held.end(), id) != held.end()) return;
  // Past the bound on parked attempts, this one runs on unordered instead.
  // An attempt run on a network thread's behalf never parks there.
  const bool may_wait =
      IntentTable::may_wait(id, held) && service_.may_park() && !attempt_.worker->here();
  auto took = service_.intents().take(id, &attempt_, may_wait, held);
  if (took == IntentTable::Take::queued) {
    service_.counters().hot_waits.fetch_add(1, std::memory_order_relaxed);
    // An attempt that has touched nothing yet holds no snapshot while it
    // waits: a snapshot that old would keep every version the hot object
    // passes through meanwhile, for each waiter.
    const bool untouched = objects_.empty() && names_.empty() && !structure_read_;
    if (untouched) snapshot_->end();
    service_.parking(true);
    attempt_.worker->park(attempt_);
    service_.parking(false);
    if (untouched) take_snapshot();
    check_live();
  }
}

void TxImpl::take_intents(std::vector<std::uint64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (std::uint64_t id : ids)
    take_intent(id, true, false);
}

TxImpl::Loaded& TxImpl::load_loaded(std::uint64_t id, std::string_view expected_type,
                                    bool for_update) {
  check_live();
  if (Loaded* o = find_loaded(id)) {
    if (o->state == State::removed || o->state == State::created_removed ||
        o->state == State::absent) {
      throw ObjectNotFound(id, std::string(expected_type));
    }
    if (for_update && o->state == State::read) {
      note_write();
      take_intent(id, true, false);
      o->state = State::update;
      // The intent may have waited for another writer; an object that
      // changed meanwhile cannot be updated from this snapshot.
      if (data_.read_object(id, nullptr)->version != o->version) conflict(id, {});
    }
    return *o;
  }
  if (id == 0) throw ObjectNotFound(0, std::string(expected_type));
  if (for_update) note_write();
  bool hot = false;
  data::RecordPtr rec = data_.read_object(id, &hot);
  if ((for_update || hot) && !behind_) {
    const std::size_t held_before = attempt_.held.size();
    take_intent(id, for_update, hot);
    if (attempt_.held.size() != held_before) rec = data_.read_object(id, nullptr);
  }
  if (!admit(rec->version)) {
    rec = data_.read_object_at(id, start_ts_);
    if (rec == nullptr) conflict(id, {});  // no longer kept: start again
    check_epoch();
  }
  const Version version = rec->version;
  if (!rec->exists()) {
    // Absence is a read like any other: if the commit that removed the object
    // is undone (a failed store write), this attempt must not commit.
    push_loaded(Loaded{id, version, std::move(rec), nullptr, State::absent});
    throw ObjectNotFound(id, std::string(expected_type));
  }
  std::unique_ptr<ManagedObject> obj = decode(id, *rec, expected_type);
  return push_loaded(Loaded{id, version, std::move(rec), std::move(obj),
                            for_update ? State::update : State::read});
}

TxImpl::Loaded& TxImpl::push_loaded(Loaded l) {
  objects_.push_back(std::move(l));
  if (objects_.size() > kLinear) {
    if (object_index_.empty()) {
      for (std::size_t i = 0; i < objects_.size(); ++i)
        object_index_[objects_[i].id] = i;
    } else {
      object_index_[objects_.back().id] = objects_.size() - 1;
    }
  }
  return objects_.back();
}

ManagedObject& TxImpl::load(ObjectId id, std::string_view expected_type, bool for_update) {
  return *load_loaded(id.value, expected_type, for_update).object;
}

std::uint64_t TxImpl::new_id() {
  if (id_next_ == id_end_) {
    constexpr std::uint64_t kBlock = 256;
    id_next_ = data_.allocate_ids(kBlock);
    id_end_ = id_next_ + kBlock;
  }
  return id_next_++;
}

void TxImpl::adopt(std::unique_ptr<ManagedObject> obj) {
  check_live();
  note_write();
  if (obj->id()) {
    throw UsageError(fmt::format("create: object #{} is already managed", obj->id().value));
  }
  const std::uint64_t id = new_id();
  detail::ObjectAccess::set_id(*obj, ObjectId{id});
  push_loaded(Loaded{id, 0, nullptr, std::move(obj), State::created});
}

void TxImpl::remove_object(ObjectId id) {
  check_live();
  note_write();
  Loaded* o = find_loaded(id.value);
  if (o == nullptr) {
    throw UsageError(fmt::format("remove: object #{} was not loaded by this task", id.value));
  }
  switch (o->state) {
    case State::created:
      o->state = State::created_removed;
      break;
    case State::read:
    case State::update:
      o->state = State::removed;
      break;
    case State::removed:
    case State::created_removed:
      throw ObjectNotFound(id.value, std::string(o->object->type().name));
    case State::absent:
      throw ObjectNotFound(id.value, {});
  }
}

void TxImpl::mark_object(ObjectId id) {
  Loaded* o = find_loaded(id.value);
  if (o == nullptr || o->object == nullptr) {
    throw UsageError(
        fmt::format("mark_for_update: object #{} was not loaded by this task", id.value));
  }
  (void)load_loaded(id.value, o->object->type().name, true);
}

// ---- Names ---------------------------------------------------------------

TxImpl::NameState& TxImpl::name_state(std::string_view name, bool read) {
  auto it = names_.find(name);
  if (it == names_.end()) it = names_.emplace(std::string(name), NameState{}).first;
  NameState& st = it->second;
  if (read && !st.read && !st.written) {
    data::NamePtr rec = data_.read_name(name);
    if (!admit(rec->version)) {
      rec = data_.read_name_at(name, start_ts_);
      if (rec == nullptr) conflict(0, std::string(name));
      check_epoch();
    }
    st.version = rec->version;
    st.target = rec->target;
    st.read = true;
  }
  return st;
}

void TxImpl::bind_name(std::string_view name, ObjectId id) {
  check_live();
  note_write();
  if (!id) throw UsageError(fmt::format("bind '{}': the object has no id (create it first)", name));
  NameState& st = name_state(name, false);
  st.target = id.value;
  st.written = true;
}

ObjectId TxImpl::name_target(std::string_view name) {
  check_live();
  return ObjectId{name_state(name, true).target};
}

bool TxImpl::unbind_name(std::string_view name) {
  check_live();
  note_write();
  NameState& st = name_state(name, true);
  const bool was_bound = st.target != 0;
  st.target = 0;
  st.written = true;
  return was_bound;
}

std::optional<std::string> TxImpl::next_name(std::string_view after) {
  check_live();
  // Behind its snapshot, a task has written nothing: the names as of the snapshot.
  if (behind_) return checked(data_.next_bound_name_at(after, start_ts_));
  if (!structure_read_) {
    const Version sv = data_.structure_version();
    if (!admit(sv)) return checked(data_.next_bound_name_at(after, start_ts_));
    structure_read_ = sv;
  }
  std::string cursor(after);
  for (;;) {
    std::optional<std::string> committed = data_.next_bound_name(cursor);
    check_epoch();
    auto local = names_.upper_bound(cursor);
    while (local != names_.end() && !local->second.written)
      ++local;
    if (local != names_.end() && (!committed || local->first <= *committed)) {
      if (local->second.target != 0) return local->first;
      cursor = local->first;  // unbound by this task
      continue;
    }
    if (data_.structure_version() != *structure_read_) {
      // Names were bound or unbound since: what was returned so far holds at
      // the snapshot; a task that has only read goes on from there.
      if (writes_anything()) conflict(0, "(the set of bound names)");
      fall_behind(0, "(the set of bound names)");
      return checked(data_.next_bound_name_at(after, start_ts_));
    }
    return committed;
  }
}

// ---- Tasks ---------------------------------------------------------------

TaskHandle TxImpl::schedule_task(std::string_view handler, std::string payload,
                                 std::chrono::milliseconds delay,
                                 std::chrono::milliseconds period) {
  check_live();
  if (service_.handler(handler) == nullptr) {
    throw UsageError(fmt::format("schedule: no task handler is registered as '{}'", handler));
  }
  const std::int64_t due = service_.wall_ms() + std::max<std::int64_t>(0, delay.count());
  auto& rec =
      create<detail::ScheduledTask>(std::string(handler), std::move(payload), due, period.count());
  index_writes_.push_back({rec.id().value, true});
  schedule_arm(rec.id().value, rec.handler, due);
  return TaskHandle{rec.id()};
}

void TxImpl::schedule_arm(std::uint64_t record, std::string handler, std::int64_t due_ms) {
  arms_.push_back(Arm{record, std::move(handler), due_ms});
}

bool TxImpl::cancel_task(TaskHandle handle) {
  check_live();
  detail::ScheduledTask* rec = nullptr;
  try {
    rec = &get_for_update(Ref<detail::ScheduledTask>(handle.id));
  } catch (const ObjectNotFound&) {
    return false;
  }
  remove(*rec);
  index_writes_.push_back({handle.id.value, false});
  std::erase_if(arms_, [&](const Arm& a) { return a.record == handle.id.value; });
  return true;
}

void TxImpl::run_scheduled(std::uint64_t record) {
  detail::ScheduledTask* rec = nullptr;
  try {
    rec = &get_for_update(Ref<detail::ScheduledTask>(ObjectId{record}));
  } catch (const ObjectNotFound&) {
    return;  // cancelled, or already run by an earlier attempt that committed
  }
  const TaskHandler* handler = service_.handler(rec->handler);
  if (handler == nullptr) {
    throw UsageError(fmt::format("no task handler is registered as '{}'", rec->handler));
  }
  const std::string payload = rec->payload;
  (*handler)(*this, payload);
  if (find_loaded(record)->state == State::removed) return;  // it cancelled itself
  retire_scheduled(record);
}

void TxImpl::retire_scheduled(std::uint64_t record) {
  detail::ScheduledTask* rec = nullptr;
  try {
    rec = &get_for_update(Ref<detail::ScheduledTask>(ObjectId{record}));
  } catch (const ObjectNotFound&) {
    return;
  }
  if (rec->period_ms <= 0) {
    remove(*rec);
    index_writes_.push_back({record, false});
    return;
  }
  // One period after this run ends (it ends when this commits, moments from now).
  rec->due_ms = service_.wall_ms() + rec->period_ms;
  schedule_arm(record, rec->handler, rec->due_ms);
}

void TxImpl::add_commit_hook(std::function<void()> fn) {
  check_live();
  hooks_.push_back(std::move(fn));
}

// ---- Commit --------------------------------------------------------------

void TxImpl::build_request() {
  data::CommitRequest& req = request_;
  req.clear();
  for (Loaded& o : objects_) {
    if (o.state == State::created_removed) continue;
    if (o.state != State::created) req.object_reads.push_back({o.id, o.version});
    if (o.state == State::absent) continue;
    std::shared_ptr<data::Record> rec;
    if (o.state == State::removed) {
      rec = std::make_shared<data::Record>();
    } else {
      scratch_.clear();
      o.object->encode(scratch_);
      if (o.state != State::created && scratch_ == o.record->fields()) continue;  // unchanged
      rec = std::make_shared<data::Record>();
      rec->type_hash = o.object->type().hash;
      rec->value.reserve(data::kRecordHeader + scratch_.size());
      rec->value.resize(data::kRecordHeader);
      data::store_u32le(rec->value.data() + 8, rec->type_hash);
      rec->value.append(scratch_);
    }
    req.object_writes.push_back({o.id, std::move(rec), o.record});
  }
  for (const auto& [name, st] : names_) {
    if (st.read) req.name_reads.push_back({name, st.version});
    if (st.written) req.name_writes.push_back({name, st.target});
  }
  req.structure_read = structure_read_;
  req.index_writes = index_writes_;
  req.epoch = epoch_;
}

Outcome TxImpl::commit() {
  check_live();
  // The body has returned: from here on the game may not use this
  // transaction, and the commit may be reported before this attempt ends.
  active_.store(false, std::memory_order_relaxed);
  build_request();
  if (behind_ && !request_.read_only()) {
    // It changed an object it read from a snapshot that fell behind.
    attempt_.conflict_id = behind_id_;
    attempt_.conflict_name = behind_name_;
    return Outcome::conflict;
  }
  Task& task = *task_;
  task.hooks = std::move(hooks_);
  task.arms = std::move(arms_);
  task.commit_started = Steady::now();
  request_.waiter = &task;
  std::function<void()> validated = std::move(task.validated);
  if (request_.read_only() && data_.release_read_only(start_ts_, epoch_, task)) {
    task_ = nullptr;  // reported and gone
    if (validated) validated();
    return Outcome::committed;
  }
  data::CommitResult result = data_.commit(request_);
  if (!result.committed) {
    hooks_ = std::move(task.hooks);  // still ours: the commit was refused
    arms_ = std::move(task.arms);
    task.validated = std::move(validated);
    if (result.failed) {
      try {
        std::rethrow_exception(result.failed);
      } catch (const std::exception& e) {
        attempt_.error = e.what();
      }
      return Outcome::storage;
    }
    attempt_.conflict_id = result.conflict_id;
    attempt_.conflict_name = std::move(result.conflict_name);
    return Outcome::conflict;
  }
  task_ = nullptr;  // the committer owns it now
  if (validated) validated();
  return Outcome::committed;
}

}  // namespace starhold::task
