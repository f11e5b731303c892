// Tasks and their transactions.
//
// Every task runs as an optimistic transaction. Game code receives a
// Transaction& and uses it for everything it touches: objects, names, tasks
// it schedules. Reads see a consistent snapshot; writes stay private until the
// task commits, and then become visible all at once. If another task changed
// something this one read, the task is rolled back and run again, so a task
// body must not have side effects outside the Transaction (use on_commit).
//
// A Transaction& is valid only during the task body, on the thread that runs
// it; objects returned by get/create/lookup are owned by the transaction and
// valid until the body returns. Keep Refs, not pointers, across tasks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

#include "starhold/data.hpp"
#include "starhold/errors.hpp"

namespace starhold {

// Identifies a durable scheduled task; use it to cancel the task. Storable in
// managed objects (it is an id).
struct TaskHandle {
  ObjectId id;
  explicit operator bool() const noexcept { return static_cast<bool>(id); }
  friend bool operator==(TaskHandle, TaskHandle) = default;
};

// Settings of one task, or of every task a handler runs (Server::submit,
// Server::handle).
struct TaskOptions {
  // Each attempt may run this long (see ServerOptions::task_time_limit);
  // zero: ServerOptions::task_time_limit. For long maintenance work, which
  // holds its worker for that long.
  std::chrono::milliseconds time_limit{0};
};

template <>
struct FieldCodec<TaskHandle> {
  static constexpr wire::Kind kind = wire::Kind::varint;
  static void encode(std::string& out, TaskHandle h) { wire::put_varint(out, h.id.value); }
  static void decode(wire::Cursor& in, TaskHandle& h) { h.id.value = in.varint(); }
};

namespace detail {
std::string demangle(const std::type_info& t);

template <class T>
std::string_view type_label() {
  if constexpr (NamedManaged<T>) {
    return T::type_name;
  } else {
    static const std::string name = demangle(typeid(T));
    return name;
  }
}
}  // namespace detail
namespace detail {
struct TransactionAccess;    // Starhold's own: makes transactions, reaches their server
struct TransactionServices;  // the services of the server running a transaction
}  // namespace detail

class Transaction {
 public:
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // ---- Objects ----------------------------------------------------------

  // The object ref names. Throws ObjectNotFound if it does not exist,
  // WrongType if it is not a T, DecodeError/UnknownType if its record cannot
  // be read. Changes made to the returned object are detected and stored at
  // commit, even without get_for_update.
  template <class T>
  T& get(Ref<T> ref) {
    return cast<T>(load(ref.id(), detail::type_label<T>(), false), ref.id());
  }

  // As get, and declares that the task will change the object: a conflict
  // with another task then shows at once instead of at commit.
  template <class T>
  T& get_for_update(Ref<T> ref) {
    return cast<T>(load(ref.id(), detail::type_label<T>(), true), ref.id());
  }

  // Makes a new managed object of T, constructed from args, and returns it.
  // Its id (and so Ref<T>(obj)) is valid at once; the object exists for other
  // tasks only if this task commits.
  template <class T, class... Args>
  T& create(Args&&... args) {
    static_assert(std::is_base_of_v<ManagedObject, T> && detail::NamedManaged<T>,
                  "starhold: create<T> needs a class derived from starhold::Managed<T>");
    auto obj = std::make_unique<T>(std::forward<Args>(args)...);
    T& ref = *obj;
    adopt(std::move(obj));
    return ref;
  }

  // Removes the object. Later gets of it, in this task or after commit,
  // throw ObjectNotFound. Names bound to it are not unbound.
  void remove(const ManagedObject& obj) { remove_object(obj.id()); }
  template <class T>
  void remove(Ref<T> ref) {
    (void)get(ref);
    remove_object(ref.id());
  }

  // Declares, after the fact, that obj will be changed (see get_for_update).
  void mark_for_update(const ManagedObject& obj) { mark_object(obj.id()); }

  // ---- Names ------------------------------------------------------------

  // Binds name to obj, replacing any earlier binding of name.
  void bind(std::string_view name, const ManagedObject& obj) { bind_name(name, obj.id()); }
  template <class T>
  void bind(std::string_view name, Ref<T> ref) {
    bind_name(name, ref.id());
  }

  // The object bound to name. Throws NameNotBound, WrongType, ObjectNotFound.
  template <class T>
  T& lookup(std::string_view name) {
    ObjectId id = name_target(name);
    if (!id) throw NameNotBound(std::string(name));
    return get(Ref<T>(id));
  }

  // As lookup, and declares that the task will change the object (see
  // get_for_update).
  template <class T>
  T& lookup_for_update(std::string_view name) {
    ObjectId id = name_target(name);
    if (!id) throw NameNotBound(std::string(name));
    return get_for_update(Ref<T>(id));
  }

  // As lookup, but returns nullptr when the name is not bound.
  template <class T>
  T* find(std::string_view name) {
    ObjectId id = name_target(name);
    return id ? &get(Ref<T>(id)) : nullptr;
  }

  // Removes name's binding (not the object). Returns false if it was not bound.
  bool unbind(std::string_view name);

  // The first bound name after `after` in byte order, or nullopt. Starting
  // from "" visits every name; from a prefix, the names that follow it.
  std::optional<std::string> next_bound_name(std::string_view after);

  // ---- Tasks ------------------------------------------------------------

  // Schedules handler (registered with Server::handle) to run once with
  // payload, after delay. The task is stored with this transaction: it exists
  // only if this task commits, and then runs exactly once, even across a crash.
  TaskHandle schedule(std::string_view handler, std::string payload,
                      std::chrono::milliseconds delay = std::chrono::milliseconds(0));

  // As schedule, then again every period after each run ends (runs never
  // overlap; a run that falls behind is not repeated to catch up).
  TaskHandle schedule_periodic(std::string_view handler, std::string payload,
                               std::chrono::milliseconds delay, std::chrono::milliseconds period);

  // Cancels a scheduled task; takes effect if this task commits. Returns false
  // if the task had already ended or been cancelled.
  bool cancel(TaskHandle handle);

  // ---- Commit ------------------------------------------------------------

  // Runs fn once this transaction has committed and its commit is durable, in
  // commit order with other tasks' hooks and never at the same time as
  // another hook; never if the task aborts. fn runs on a Starhold thread (the
  // commit thread, or the worker of a task that wrote nothing): it must be
  // quick and must not block.
  void on_commit(std::function<void()> fn);

  // The task's name (the handler name, or the label given to submit()).
  virtual std::string_view task_name() const noexcept = 0;
  // 1 for the first attempt, 2 after one abort, and so on.
  virtual int attempt() const noexcept = 0;
  // The durable task this is a run of (what schedule() returned; a periodic
  // task may cancel itself with it), or an empty handle for a task of
  // Server::submit or of a client's message.
  virtual TaskHandle task_handle() const noexcept = 0;

 protected:
  // Only Starhold makes transactions (no program can make the access key);
  // each carries the services of the server running it, which Session::send
  // and Channel::send reach.
  Transaction(const detail::TransactionAccess&, detail::TransactionServices& services) noexcept
      : services_(&services) {}
  virtual ~Transaction() = default;

  virtual ManagedObject& load(ObjectId id, std::string_view expected_type, bool for_update) = 0;
  virtual void adopt(std::unique_ptr<ManagedObject> obj) = 0;
  virtual void remove_object(ObjectId id) = 0;
  virtual void mark_object(ObjectId id) = 0;
  virtual void bind_name(std::string_view name, ObjectId id) = 0;
  virtual ObjectId name_target(std::string_view name) = 0;
  virtual bool unbind_name(std::string_view name) = 0;
  virtual std::optional<std::string> next_name(std::string_view after) = 0;
  virtual TaskHandle schedule_task(std::string_view handler, std::string payload,
                                   std::chrono::milliseconds delay,
                                   std::chrono::milliseconds period) = 0;
  virtual bool cancel_task(TaskHandle handle) = 0;
  virtual void add_commit_hook(std::function<void()> fn) = 0;

 private:
  friend struct detail::TransactionAccess;
  detail::TransactionServices* services_;

  template <class T>
  static T& cast(ManagedObject& obj, ObjectId id) {
    if constexpr (std::is_same_v<T, ManagedObject>) {
      return obj;
    } else {
      if constexpr (detail::NamedManaged<T> && !std::is_abstract_v<T>) {
        if (&obj.type() == &detail::type_info_of<T>()) return static_cast<T&>(obj);
      }
      if (T* p = dynamic_cast<T*>(&obj)) return *p;
      throw WrongType(id.value, std::string(obj.type().name), std::string(detail::type_label<T>()));
    }
  }
};

inline bool Transaction::unbind(std::string_view name) {
  return unbind_name(name);
}
inline std::optional<std::string> Transaction::next_bound_name(std::string_view after) {
  return next_name(after);
}
inline TaskHandle Transaction::schedule(std::string_view handler, std::string payload,
                                        std::chrono::milliseconds delay) {
  return schedule_task(handler, std::move(payload), delay, std::chrono::milliseconds(0));
}
inline TaskHandle Transaction::schedule_periodic(std::string_view handler, std::string payload,
                                                 std::chrono::milliseconds delay,
                                                 std::chrono::milliseconds period) {
  if (period.count() <= 0) throw UsageError("schedule_periodic needs a positive period");
  return schedule_task(handler, std::move(payload), delay, period);
}
inline bool Transaction::cancel(TaskHandle handle) {
  return cancel_task(handle);
}
inline void Transaction::on_commit(std::function<void()> fn) {
  add_commit_hook(std::move(fn));
}

template <class T>
T& Ref<T>::get(Transaction& tx) const {
  return tx.get(*this);
}
template <class T>
T& Ref<T>::get_for_update(Transaction& tx) const {
  return tx.get_for_update(*this);
}

// A task handler registered by name: runs with the payload it was scheduled with.
using TaskHandler = std::function<void(Transaction&, std::string_view payload)>;

// The body of a task submitted from outside a task (Server::submit).
using TaskBody = std::function<void(Transaction&)>;

}  // namespace starhold
