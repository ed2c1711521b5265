#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include <troupe.hpp>

// g++ cannot see that the replaced operator new below is malloc-based.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Counts every allocation in this test program, so a test can prove that a
// code path allocates nothing.
namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

struct token {
  troupe::actor_ref back;
  int left = 0;
};

troupe::task<void> bouncer(troupe::inbox<token> self) {
  for (;;) {
    auto m = co_await self.receive();
    if (!m) co_return;
    token t = m->get<token>();
    if (t.left > 0) co_await t.back.send(token{self.ref(), t.left - 1});
  }
}

}  // namespace

TEST_SUITE("runtime") {

TEST_CASE("steady-state messaging between local actors allocates nothing") {
  troupe::runtime rt;
  auto me = troupe::open_inbox<token>(rt);
  auto other = troupe::spawn(rt, bouncer);
  // Each round: a token to the bouncer, which sends one back.
  auto body = [](troupe::inbox<token>& m, troupe::actor_ref o) -> troupe::task<std::size_t> {
    std::size_t before = allocations.load();
    for (int i = 0; i < 10'000; ++i) {
      co_await o.send(token{m.ref(), 1});  // bouncer answers once
      auto l = co_await m.receive();
      (void)l;
    }
    co_return allocations.load() - before;
  };
  // Warm-up grows the rings and the ready queue to their working size.
  (void)rt.block_on(body(me, other));
  CHECK(rt.block_on(body(me, other)) == 0u);
}

}  // TEST_SUITE
