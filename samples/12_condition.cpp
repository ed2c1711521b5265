// 12 — Condition: a consumer process waits until a producer has produced.
#include <troupe.hpp>

#include <chrono>
#include <cstdio>

// The shared state the condition protects: a stock count in an actor.
struct get_stock { using response = int; };
struct set_stock { using response = void; int value = 0; };

troupe::task<void> stock(troupe::inbox<get_stock, set_stock> self) {
  int value = 0;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    l->visit([&](get_stock&) { return value; }, [&](set_stock& s) { value = s.value; });
  }
}

troupe::task<bool> in_stock(troupe::actor_ref s) { co_return (co_await s.request(get_stock{})).value() > 0; }

troupe::task<void> consumer(troupe::condition cond, troupe::actor_ref s) {
  auto guard = (co_await cond.scoped()).value();
  std::printf("consumer: waiting for stock\n");
  (void)co_await cond.wait_for([s] { return in_stock(s); });
  int n = (co_await s.request(get_stock{})).value();
  (void)co_await s.request(set_stock{n - 1});
  std::printf("consumer: took one item, %d left\n", n - 1);
}

troupe::task<void> producer(troupe::condition cond, troupe::actor_ref s) {
  auto guard = (co_await cond.scoped()).value();
  (void)co_await s.request(set_stock{3});
  std::printf("producer: produced 3 items, notifying\n");
  (void)co_await cond.notify_all();
}

troupe::task<void> main_task() {
  auto cond = troupe::condition::make();
  auto s = troupe::spawn(stock);
  troupe::process c(consumer, cond, s);
  c.start();
  // The producer starts once the consumer waits, so the wait is visible.
  while ((co_await cond.status()).value().waiting == 0) (void)co_await troupe::sleep_for(std::chrono::milliseconds(1));
  troupe::process p(producer, cond, s);
  p.start();
  co_await p.join();
  co_await c.join();
  std::printf("stock at the end: %d\n", (co_await s.request(get_stock{})).value());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
