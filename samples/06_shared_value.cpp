// 06 — shared Value: two processes increment one counter in shared memory;
// without the lock updates get lost, with it (or with fetch_add) none do.
#include <troupe.hpp>

#include <cstdio>

// Plain and atomic increments are cheap: many, so the two processes surely
// overlap. Locked ones take a coroutine round each: fewer.
constexpr long per_process = 3'000'000;
constexpr long locked_per_process = 300'000;

// Read, then write: another process can write in between, and one of the
// two increments is lost.
troupe::task<void> add_unlocked(troupe::value<long> counter, troupe::barrier start) {
  (void)co_await start.wait();
  for (long i = 0; i < per_process; ++i) counter.store(counter.load() + 1);
}

// The same read-then-write, under the value's lock. Uncontended, taking
// the lock is one compare-and-swap in shared memory.
troupe::task<void> add_locked(troupe::value<long> counter, troupe::barrier start) {
  (void)co_await start.wait();
  for (long i = 0; i < locked_per_process; ++i) {
    auto guard = (co_await counter.get_lock().scoped()).value();
    counter.store(counter.load() + 1);
  }
}

// One atomic read-modify-write needs no lock at all.
troupe::task<void> add_atomic(troupe::value<long> counter, troupe::barrier start) {
  (void)co_await start.wait();
  for (long i = 0; i < per_process; ++i) counter.fetch_add(1);
}

// Both processes start counting at the same moment (a barrier), so they
// really race.
template <class F>
troupe::task<long> race(F target, troupe::value<long> counter) {
  auto start = troupe::barrier::make(2);
  troupe::process a(target, counter, start), b(target, counter, start);
  a.start();
  b.start();
  co_await a.join();
  co_await b.join();
  start.shutdown();
  co_return counter.load();
}

troupe::task<void> main_task() {
  const long expected = 2 * per_process;
  long unlocked = co_await race(add_unlocked, troupe::value<long>::make_raw(0));
  std::printf("without the lock: %ld of %ld (%ld updates lost)\n", unlocked, expected, expected - unlocked);
  long locked = co_await race(add_locked, troupe::value<long>::make(0));
  std::printf("with the lock:    %ld of %ld\n", locked, 2 * locked_per_process);
  long atomic = co_await race(add_atomic, troupe::value<long>::make_raw(0));
  std::printf("with fetch_add:   %ld of %ld\n", atomic, expected);
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
