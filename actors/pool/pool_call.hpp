#pragma once

// How a pool task crosses: the client encodes a chunk of calls of one
// function (a count, then each call's argument tuple); in the worker a
// trampoline instantiated for that function decodes them one by one, calls
// the function, and encodes what came back. Everything here is templated on
// the function's type, so the worker needs nothing registered beforehand:
// the trampoline and the function travel as code addresses.

#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "actors/pool/pool_messages.hpp"
#include "framework/base/exception_info.hpp"
#include "framework/base/throw_trace.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/runtime/process.hpp"
#include "framework/wire/codec.hpp"
#include "framework/wire/packed.hpp"

namespace troupe::actors::detail {

/// What a void function's call returns on the wire: one byte per call.
struct pool_void {
  std::uint8_t unused = 0;
};

}  // namespace troupe::actors::detail

template <>
struct troupe::wire::codec<troupe::actors::detail::pool_void> {
  static constexpr std::size_t min_size = 1;
  static void encode(writer& w, const troupe::actors::detail::pool_void&) { w.scalar(std::uint8_t{0}); }
  static bool decode(reader& r, troupe::actors::detail::pool_void&) {
    std::uint8_t b = 0;
    return r.scalar(b);
  }
};

namespace troupe::actors::detail {

template <class R>
struct pool_value {
  using type = R;  ///< what the caller receives
};
template <class T>
struct pool_value<coro::task<T>> {
  using type = T;
};

/// The result type a caller sees for a function returning R (a task<T>'s
/// T; void stays void).
template <class R>
using pool_value_t = typename pool_value<R>::type;

/// The type a result travels as (void becomes pool_void).
template <class V>
using pool_wire_t = std::conditional_t<std::is_void_v<V>, pool_void, V>;

/// What a worker sends back for one task.
struct pool_call_outcome {
  wire::packed results;
  std::vector<pool_item_failure> failures;
  std::optional<troupe::detail::remote_failure> chunk_failure;
};

/// The trampoline's type, the same for every function.
using pool_entry = coro::task<pool_call_outcome> (*)(troupe::detail::raw_function fn, const wire::packed& args);

/// Describes the exception being handled, as a failure of call `index`.
pool_item_failure describe_call_failure(std::uint32_t index);

/// The process name and pid of this worker, for failures.
troupe::detail::remote_failure worker_failure(std::string type, std::string message);

template <class R, class... A>
coro::task<pool_call_outcome> run_calls(troupe::detail::raw_function target, const wire::packed& args) {
  using Tuple = std::tuple<std::decay_t<A>...>;
  using W = pool_wire_t<pool_value_t<R>>;
  auto fn = reinterpret_cast<R (*)(A...)>(target);
  pool_call_outcome out;
  std::vector<W> results;
  std::uint32_t n = 0;
  {
    wire::fd_decode_scope fds(args.fds());
    wire::reader r(args.bytes());
    if (!r.scalar(n)) {
      out.chunk_failure = worker_failure("troupe::decode_error", "the task's call count did not decode");
      co_return out;
    }
    results.reserve(std::min<std::size_t>(n, args.bytes().size()));
    for (std::uint32_t i = 0; i < n; ++i) {
      Tuple call{};
      if (!wire::decode(r, call)) {
        // What ran stays run; the calls that cannot be read fail each.
        for (std::uint32_t j = i; j < n; ++j) {
          pool_item_failure f;
          f.index = j;
          f.info = worker_failure("troupe::decode_error", "the call's arguments did not decode: " + r.failure().message);
          out.failures.push_back(std::move(f));
        }
        break;
      }
      try {
        if constexpr (std::is_same_v<R, coro::task<void>>) {
          co_await std::apply(fn, std::move(call));
          results.push_back(W{});
        } else if constexpr (!std::is_same_v<pool_value_t<R>, R>) {
          results.push_back(co_await std::apply(fn, std::move(call)));
        } else if constexpr (std::is_void_v<R>) {
          std::apply(fn, std::move(call));
          results.push_back(W{});
        } else {
          results.push_back(std::apply(fn, std::move(call)));
        }
      } catch (...) {
        out.failures.push_back(describe_call_failure(i));
      }
    }
  }
  out.results = wire::packed::of(results);
  co_return out;
}

template <class R, class... A>
constexpr pool_entry entry_for(R (*)(A...)) noexcept {
  return &run_calls<R, A...>;
}

/// Writes the chunk header; `finish_chunk` patches in the count.
inline std::size_t begin_chunk(wire::writer& w, std::vector<std::byte>& bytes) {
  std::size_t at = bytes.size();
  w.scalar(std::uint32_t{0});
  return at;
}
inline void finish_chunk(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t count) {
  std::memcpy(bytes.data() + at, &count, sizeof count);
}

/// Encodes one call of a function taking `Tuple` from a value `v`: the value
/// itself when the function takes one parameter, or a tuple of arguments
/// (starmap).
template <class Tuple, bool Star, class V>
void encode_call(wire::writer& w, const V& v) {
  if constexpr (Star) {
    wire::encode(w, Tuple(v));
  } else {
    using A = std::tuple_element_t<0, Tuple>;
    if constexpr (std::is_same_v<std::decay_t<V>, A>) wire::encode(w, v);
    else wire::encode(w, static_cast<A>(v));
  }
}

/// Splits a chunk into single-call chunks (after its worker died, so each
/// call can be retried, and failed, on its own).
template <class Tuple>
std::vector<wire::packed> split_chunk(const wire::packed& chunk) {
  std::vector<wire::packed> out;
  wire::fd_decode_scope fds(chunk.fds());
  wire::reader r(chunk.bytes());
  std::uint32_t n = 0;
  if (!r.scalar(n)) return out;
  for (std::uint32_t i = 0; i < n; ++i) {
    Tuple call{};
    if (!wire::decode(r, call)) break;
    out.push_back(wire::packed::build([&](wire::writer& w, std::vector<std::byte>&) {
      w.scalar(std::uint32_t{1});
      wire::encode(w, call);
    }));
  }
  return out;
}

}  // namespace troupe::actors::detail
