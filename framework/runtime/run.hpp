#pragma once

#include <concepts>
#include <exception>
#include <type_traits>

#include "framework/coro/task.hpp"
#include "framework/runtime/cluster.hpp"
#include "framework/runtime/process.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe {

namespace detail {

/// Whether this process was started by troupe as a child.
bool is_child(int argc, char** argv) noexcept;
/// A child's whole life: handshake, entry, exit status.
int run_child(int argc, char** argv);
/// Line-buffered stdout and stderr, so processes sharing them interleave by
/// whole lines.
void prepare_output() noexcept;
void prepare_main_process() noexcept;
void report_main_exception(std::exception_ptr e) noexcept;

template <class Main>
coro::task<int> run_main(runtime& rt, Main& main, int argc, char** argv) {
  int code = 0;
  std::exception_ptr failure;
  adopt_cluster_links(rt);
  try {
    if constexpr (std::is_invocable_v<Main&, int, char**>) {
      auto t = main(argc, argv);
      if constexpr (std::is_same_v<decltype(t), coro::task<int>>) code = co_await std::move(t);
      else co_await std::move(t);
    } else {
      auto t = main();
      if constexpr (std::is_same_v<decltype(t), coro::task<int>>) code = co_await std::move(t);
      else co_await std::move(t);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  co_await finish_children(rt);
  co_await end_cluster(rt);
  if (failure) std::rethrow_exception(failure);
  co_return code;
}

}  // namespace detail

/// The entry of a troupe program: `int main(int argc, char** argv) { return
/// troupe::run(argc, argv, main_task); }`.
///
/// In the program it runs `main` (a function or lambda returning task<void>
/// or task<int>, taking nothing or (argc, argv)) on a new runtime; when it
/// returns, daemon children are terminated and the others joined, and its
/// int (or 0) is the exit status. An exception escaping `main` is printed
/// and the status is 1.
/// In a child started by troupe (recognised by the marker argument) it runs
/// what the parent asked for instead and never calls `main`.
/// Started by an MPI launcher as one of several ranks (troupe built with
/// MPI), every rank first joins the cluster (see cluster.hpp); rank 0 runs
/// `main` and, when it returns, ends the other ranks, which serve until
/// then (or exit with status 3 if rank 0 is lost).
template <class Main>
int run(int argc, char** argv, Main main) {
  if (detail::is_child(argc, argv)) return detail::run_child(argc, argv);
  detail::prepare_main_process();
  try {
    // Under an MPI launcher: meet the other ranks first. Rank 0 runs main;
    // the others serve until it ends.
    runtime_options options;
    options.node = detail::join_cluster();
    runtime rt(options);
    if (detail::cluster_serves()) {
      detail::adopt_cluster_links(rt);
      return rt.block_on(detail::serve_cluster(rt));
    }
    return rt.block_on(detail::run_main(rt, main, argc, argv));
  } catch (...) {
    detail::report_main_exception(std::current_exception());
    return 1;
  }
}

}  // namespace troupe
