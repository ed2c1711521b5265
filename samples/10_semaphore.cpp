// 10 — Semaphore: eight worker processes, at most three inside the shared
// resource at once; the resource itself counts who is inside.
#include <troupe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

struct arrive { using response = int; };  // answers how many are inside now
struct depart { using response = void; };
struct peak { using response = int; };

troupe::task<void> resource(troupe::inbox<arrive, depart, peak> self) {
  int inside = 0, most = 0;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    l->visit([&](arrive&) { most = std::max(most, ++inside); return inside; },
             [&](depart&) { --inside; }, [&](peak&) { return most; });
  }
}

troupe::task<void> worker(troupe::semaphore slots, troupe::actor_ref room, int id) {
  auto permit = (co_await slots.scoped()).value();
  int now_inside = (co_await room.request(arrive{})).value();
  std::printf("worker %d enters (%d inside)\n", id, now_inside);
  (void)co_await troupe::sleep_for(std::chrono::milliseconds(20));  // uses the resource
  (void)co_await room.request(depart{});
}

troupe::task<void> main_task() {
  auto slots = troupe::semaphore::make(3);
  auto room = troupe::spawn(resource);
  std::vector<troupe::process> workers;
  for (int id = 0; id < 8; ++id) workers.emplace_back(worker, slots, room, id);
  for (auto& w : workers) w.start();
  for (auto& w : workers) co_await w.join();
  int most = (co_await room.request(peak{})).value();
  std::printf("at most %d workers were inside at once (limit 3): %s\n", most, most <= 3 ? "bound held" : "BOUND BROKEN");
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
