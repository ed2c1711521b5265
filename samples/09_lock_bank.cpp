// 09 — Lock: teller processes move money between accounts; each transfer
// reads and writes two balances under one lock, so the total is conserved.
#include <troupe.hpp>

#include <cstdio>
#include <numeric>
#include <vector>

// The accounts live in an actor; reading and writing are separate steps,
// so a transfer is only safe while the lock is held.
struct read_balance { using response = long; int account = 0; };
struct write_balance { using response = void; int account = 0; long amount = 0; };

troupe::task<void> accounts(troupe::inbox<read_balance, write_balance> self, int count, long initial) {
  std::vector<long> balance(static_cast<std::size_t>(count), initial);
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    l->visit([&](read_balance& r) { return balance[static_cast<std::size_t>(r.account)]; },
             [&](write_balance& w) { balance[static_cast<std::size_t>(w.account)] = w.amount; });
  }
}

troupe::task<void> teller(troupe::lock lock, troupe::actor_ref bank, int id, int transfers) {
  for (int i = 0; i < transfers; ++i) {
    int from = (id + i) % 4, to = (id + 2 * i + 1) % 4;
    if (from == to) continue;
    auto guard = (co_await lock.scoped()).value();
    long a = (co_await bank.request(read_balance{from})).value();
    long b = (co_await bank.request(read_balance{to})).value();
    (void)co_await bank.request(write_balance{from, a - 10});
    (void)co_await bank.request(write_balance{to, b + 10});
  }
}

troupe::task<void> main_task() {
  auto lock = troupe::lock::make();
  auto bank = troupe::spawn(accounts, 4, 1000L);
  std::vector<troupe::process> tellers;
  for (int id = 0; id < 3; ++id) tellers.emplace_back(teller, lock, bank, id, 50);
  for (auto& t : tellers) t.start();
  for (auto& t : tellers) co_await t.join();
  long total = 0;
  for (int a = 0; a < 4; ++a) {
    long b = (co_await bank.request(read_balance{a})).value();
    std::printf("account %d: %ld\n", a, b);
    total += b;
  }
  std::printf("total %ld (started with 4000): %s\n", total, total == 4000 ? "conserved" : "MONEY LOST");
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
