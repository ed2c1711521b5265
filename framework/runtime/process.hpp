#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/runtime/os_process.hpp"
#include "framework/runtime/remote_error.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"
#include "framework/wire/packed.hpp"

namespace troupe {

using detail::start_method;

/// Exit status of a child whose handshake failed (build id mismatch, a
/// function that cannot be found): the parent's join reports why.
inline constexpr int exit_code_refused = 121;
/// Exit status of a child that lost the link to its parent.
inline constexpr int exit_code_parent_lost = 122;

/// How a process is started and treated.
struct process_options {
  /// Shown in logs and remote errors; "process-N" when empty.
  std::string name;
  /// A daemon child is killed when its parent's main task ends; other
  /// children are joined first (as in Python).
  bool daemon = false;
  /// How to start it; the program's default (set_start_method) if unset.
  std::optional<start_method> method;
};

/// The start method of processes that do not choose one (spawn unless
/// changed), as Python's set_start_method. Thread-safe.
void set_start_method(start_method m) noexcept;
[[nodiscard]] start_method get_start_method() noexcept;

namespace detail {

using entry_fn = coro::task<int> (*)(raw_function target, const wire::packed& args);
using spawn_fn = result<actor_ref> (*)(runtime& rt, raw_function target, const wire::packed& args);

template <class F>
struct target_traits;
template <class R, class... A>
struct target_traits<R (*)(A...)> {
  using result_type = R;
  using args_tuple = std::tuple<std::decay_t<A>...>;
  static constexpr std::size_t arity = sizeof...(A);
};

template <class T>
inline constexpr bool valid_target_result = std::is_void_v<T> || std::is_same_v<T, int> ||
                                            std::is_same_v<T, coro::task<void>> || std::is_same_v<T, coro::task<int>>;

template <class Tuple>
result<Tuple> decode_args(const wire::packed& packed) {
  auto args = packed.unpack<Tuple>();
  if (!args) return error{errc::decode_error, "the arguments did not decode: " + args.error().message};
  return std::move(*args);
}

template <class R, class... A>
coro::task<int> run_decoded(raw_function target, result<std::tuple<std::decay_t<A>...>> decoded) {
  auto fn = reinterpret_cast<R (*)(A...)>(target);
  auto args = std::move(decoded).value();
  if constexpr (std::is_same_v<R, coro::task<void>>) {
    coro::task<void> t = std::apply(fn, std::move(args));
    co_await std::move(t);
    co_return 0;
  } else if constexpr (std::is_same_v<R, coro::task<int>>) {
    coro::task<int> t = std::apply(fn, std::move(args));
    co_return co_await std::move(t);
  } else if constexpr (std::is_void_v<R>) {
    std::apply(fn, std::move(args));
    co_return 0;
  } else {
    co_return std::apply(fn, std::move(args));
  }
}

// Runs in the child: decodes the arguments (now, while the descriptors
// that came with them are at hand) and returns the task calling the target.
template <class R, class... A>
coro::task<int> run_entry(raw_function target, const wire::packed& bytes) {
  return run_decoded<R, A...>(target, decode_args<std::tuple<std::decay_t<A>...>>(bytes));
}

template <class Inbox, class... A>
result<actor_ref> spawn_function_entry(runtime& rt, raw_function target, const wire::packed& bytes) {
  auto fn = reinterpret_cast<coro::task<void> (*)(Inbox, A...)>(target);
  auto args = decode_args<std::tuple<std::decay_t<A>...>>(bytes);
  if (!args) return args.error();
  return std::apply([&](auto&... a) { return troupe::spawn(rt, fn, std::move(a)...); }, *args);
}

template <class C, class... A>
result<actor_ref> spawn_class_entry(runtime& rt, raw_function, const wire::packed& bytes) {
  auto args = decode_args<std::tuple<A...>>(bytes);
  if (!args) return args.error();
  return std::apply([&](auto&... a) { return troupe::spawn<C>(rt, std::move(a)...); }, *args);
}

/// The entry that runs a process target of type R(A...).
template <class R, class... A>
entry_fn process_entry_for(R (*)(A...)) noexcept {
  return &run_entry<R, A...>;
}

template <class Fp>
constexpr raw_function erase(Fp f) noexcept {
  return reinterpret_cast<raw_function>(f);
}

template <class Tuple, std::size_t... I>
constexpr bool all_encodable(std::index_sequence<I...>) {
  return (wire::encodable<std::tuple_element_t<I, Tuple>> && ...);
}

// Turns a target (free function or captureless lambda) into a function
// pointer, with readable errors for what cannot cross a process boundary.
template <class F>
auto as_function_pointer(F target) {
  static_assert(std::is_pointer_v<F> || std::is_empty_v<F>,
                "troupe: a capturing lambda cannot run in another process (its captures live in this "
                "one); pass its state as arguments instead");
  if constexpr (std::is_pointer_v<F>) {
    static_assert(std::is_function_v<std::remove_pointer_t<F>>, "troupe: the target must be a function");
    return target;
  } else {
    static_assert(requires { +target; },
                  "troupe: the target must be a free function or a lambda with typed parameters (a generic "
                  "lambda has no single address to start)");
    return +target;
  }
}

template <class Traits, class... Args>
wire::packed encode_args(Args&&... args) {
  using Tuple = typename Traits::args_tuple;
  static_assert(Traits::arity == sizeof...(Args), "troupe: the number of arguments does not match the target's parameters");
  static_assert(all_encodable<Tuple>(std::make_index_sequence<std::tuple_size_v<Tuple>>{}),
                "troupe: every parameter of a function started in another process must be encodable "
                "(numbers, strings, containers, aggregates of those, actor refs); pointers and "
                "references to this process's memory cannot cross");
  static_assert(std::is_constructible_v<Tuple, Args&&...>,
                "troupe: the arguments cannot be converted to the target's parameter types");
  return wire::packed::of(Tuple(std::forward<Args>(args)...));
}

}  // namespace detail

namespace detail {

/// Starts an actor in the runtime of node `node` through its system actor
/// and resumes with its ref (or why it could not be started).
coro::task<result<actor_ref>> spawn_on_node(node_id node, raw_function entry, raw_function target,
                                            wire::packed args);

/// What process and thread handles share: starting actors in the runtime
/// they host. `Derived` provides spawn_remote(entry, target, args).
template <class Derived>
class remote_spawner {
 public:
  /// Starts a receive-loop actor there (fn's first parameter is its inbox;
  /// the rest are encoded `args`, so they must be encodable) and resumes
  /// with its ref. Fails with errc::invalid_argument if the host is not
  /// running, or with the error the other side met.
  template <class F, class... Args>
  [[nodiscard]] coro::task<result<actor_ref>> spawn(F fn, Args&&... args) {
    auto fp = as_function_pointer(fn);
    return self().spawn_remote(erase(spawn_entry_for(fp)), erase(fp), encode_spawn_args(fp, std::forward<Args>(args)...));
  }
  /// Starts a class-style actor C there, constructed from `args`.
  template <class C, class... Args>
  [[nodiscard]] coro::task<result<actor_ref>> spawn(Args&&... args) {
    using Tuple = std::tuple<std::decay_t<Args>...>;
    static_assert(all_encodable<Tuple>(std::make_index_sequence<sizeof...(Args)>{}),
                  "troupe: the constructor arguments of an actor started in another runtime must be encodable");
    spawn_fn e = &spawn_class_entry<C, std::decay_t<Args>...>;
    return self().spawn_remote(erase(e), raw_function{}, wire::packed::of(Tuple(std::forward<Args>(args)...)));
  }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  template <class R, class Inbox, class... A>
  static spawn_fn spawn_entry_for(R (*)(Inbox, A...)) noexcept {
    return &spawn_function_entry<Inbox, A...>;
  }
  template <class R, class Inbox, class... A, class... Args>
  static wire::packed encode_spawn_args(R (*)(Inbox, A...), Args&&... args) {
    static_assert(std::is_same_v<R, coro::task<void>>, "troupe: an actor function returns task<void>");
    return encode_args<target_traits<void (*)(A...)>>(std::forward<Args>(args)...);
  }
};

}  // namespace detail

class process;
namespace detail {
/// A process (not started) that runs `target` through `entry`, the typed
/// entry of its signature, with encoded `args`: the constructor's work once
/// the types are erased.
process erased_process(process_options options, raw_function entry, raw_function target, wire::packed args);
}  // namespace detail

/// A child process running a function, with Python's Process API.
///
/// The target is a free function or captureless lambda returning void, int
/// (the exit code), task<void> or task<int>; its arguments are encoded now
/// and decoded in the child, so they must be encodable. The child runs the
/// same binary (spawn: re-executed; fork: copied) with its own runtime,
/// linked to this one, so actor refs work both ways.
///
/// A process handle is a value that can be moved; destroying it does not
/// stop the child (as in Python). Children still running when the parent's
/// runtime shuts down are killed; troupe::run joins the non-daemon ones
/// first. Thread: the runtime's thread that started it.
class process : public detail::remote_spawner<process> {
 public:
  process() = default;

  /// A process that will run `target(args...)` when started. `target` is a
  /// free function or captureless lambda; `args` are encoded now and decoded
  /// in the child, so each must be encodable (a compile-time error says which
  /// is not). Nothing runs until start().
  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, process_options>)
  explicit process(F target, Args&&... args) : process(process_options{}, target, std::forward<Args>(args)...) {}

  /// As above, with a name, the daemon flag and the start method.
  template <class F, class... Args>
  process(process_options options, F target, Args&&... args) {
    auto fn = detail::as_function_pointer(target);
    using Traits = detail::target_traits<decltype(fn)>;
    using R = typename Traits::result_type;
    static_assert(detail::valid_target_result<R>,
                  "troupe: a process target returns void, int, task<void> or task<int>");
    auto bytes = detail::encode_args<Traits>(std::forward<Args>(args)...);
    init(std::move(options), detail::erase(entry_for(fn)), detail::erase(fn), std::move(bytes));
  }

  /// A process with no target that serves actors spawned into it with
  /// spawn() until it is terminated or its parent ends (always a daemon).
  static process host(process_options options = {});

  /// The moved-from handle is empty; the child is not affected.
  process(process&&) noexcept;
  /// Releases the handle held before (as the destructor does), then takes `other`'s.
  process& operator=(process&&) noexcept;
  ~process();

  /// Starts the child. Throws error_exception if it cannot be started
  /// (errc::system_error naming the call) or was started before.
  void start();

  /// Waits until the child has ended, at most `timeout`: true if it ended.
  /// Throws remote_error if its target threw, and error_exception if the
  /// child refused to start (errc::invalid_argument with the reason).
  [[nodiscard]] coro::task<bool> join(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  /// Started and not yet ended (checks the kernel, not only the loop).
  [[nodiscard]] bool is_alive() const;
  /// The child's pid, -1 before start.
  [[nodiscard]] pid_t pid() const noexcept;
  /// The name given in process_options, or "process-N".
  [[nodiscard]] const std::string& name() const noexcept;
  /// Whether the child is terminated (rather than joined) when the parent's main returns.
  [[nodiscard]] bool daemon() const noexcept;
  /// Before start only.
  void set_daemon(bool d);
  /// nullopt while running or before start; then the exit status, or minus
  /// the signal number if a signal killed it.
  [[nodiscard]] std::optional<int> exitcode() const;
  /// The node id of the child's runtime (actor refs there carry it).
  [[nodiscard]] node_id node() const noexcept;

  /// SIGTERM / SIGKILL to the child (through its pidfd, so never to a
  /// recycled pid). No effect once it has ended.
  void terminate();
  /// SIGKILL (see terminate()).
  void kill();
  /// Releases the handle's resources; throws error_exception
  /// (errc::invalid_argument) if the child is still running.
  void close();

  /// Starts a receive-loop actor in the child (fn's first parameter is its
  /// inbox; the rest are encoded `args`) and returns its ref; spawn<C>(args)
  /// starts a class-style actor C there. See detail::remote_spawner.
  using detail::remote_spawner<process>::spawn;

 private:
  friend class detail::remote_spawner<process>;
  template <class R, class... A>
  static detail::entry_fn entry_for(R (*f)(A...)) noexcept {
    return detail::process_entry_for(f);
  }
  friend process detail::erased_process(process_options options, detail::raw_function entry,
                                        detail::raw_function target, wire::packed args);
  void init(process_options options, detail::raw_function entry, detail::raw_function target, wire::packed args);
  coro::task<result<actor_ref>> spawn_remote(detail::raw_function entry, detail::raw_function target,
                                             wire::packed args);

  std::shared_ptr<detail::process_state> state_;
};

/// Processes made with one start method, as Python's get_context("fork").
class context {
 public:
  /// Processes made through this context start with `m`.
  explicit context(start_method m) noexcept : method_(m) {}
  /// The context's start method.
  [[nodiscard]] start_method method() const noexcept { return method_; }
  template <class F, class... Args>
  /// process(target, args...) with this context's start method.
  [[nodiscard]] process make_process(F target, Args&&... args) const {
    process_options options;
    options.method = method_;
    return process(std::move(options), target, std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  /// process(options, target, args...) with this context's start method.
  [[nodiscard]] process make_process(process_options options, F target, Args&&... args) const {
    options.method = method_;
    return process(std::move(options), target, std::forward<Args>(args)...);
  }

 private:
  start_method method_;
};

namespace detail {
/// Kills the daemon children of `rt` and waits for the others to end (what
/// troupe::run does after the main task).
coro::task<void> finish_children(runtime& rt);
}  // namespace detail

}  // namespace troupe
