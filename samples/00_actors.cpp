// 00_actors: your first actors — a counter and a client talking by request/response in one process.
#include <cstdio>

#include <troupe.hpp>

// Messages are plain structs. A request names its reply type as `response`.
struct increment {
  int by = 1;
};
struct read_total {
  using response = int;
};
struct reset {
  using response = int;  // the total before the reset
};

// Style 1: a class whose handler overloads troupe dispatches by message type.
class counter {
 public:
  using messages = troupe::message_list<increment, read_total, reset>;

  void on(increment m) { total_ += m.by; }
  int on(read_total) const { return total_; }
  int on(reset) { return std::exchange(total_, 0); }

 private:
  int total_ = 0;
};

// Style 2: a receive loop, Erlang style. This client is told which counter
// to use and how many increments to send, then reports when asked.
struct start_counting {
  troupe::actor_ref counter;
  int times = 0;
};
struct report {
  using response = int;
};

troupe::task<void> client(troupe::inbox<start_counting, report> self, int id) {
  int sent = 0;
  for (;;) {
    auto letter = co_await self.receive();
    if (!letter) co_return;  // stopped
    if (letter->is<start_counting>()) {
      auto job = letter->get<start_counting>();
      for (int i = 0; i < job.times; ++i) co_await job.counter.send(increment{id});
      sent += job.times;
      // Wait until the counter has seen our increments: a request is answered
      // only after every message sent before it was handled.
      int seen = (co_await job.counter.request(read_total{})).value();
      std::printf("client %d sent %d increments of %d; the counter now reads at least %d\n", id,
                  job.times, id, seen);
    } else {
      letter->reply(sent);
    }
  }
}

troupe::task<int> tour(troupe::runtime& rt) {
  auto c = troupe::spawn<counter>(rt);
  auto a = troupe::spawn(rt, client, 1);
  auto b = troupe::spawn(rt, client, 10);

  co_await a.send(start_counting{c, 5});
  co_await b.send(start_counting{c, 3});

  int sent_a = (co_await a.request(report{})).value();
  int sent_b = (co_await b.request(report{})).value();
  int total = (co_await c.request(read_total{})).value();
  std::printf("clients sent %d and %d messages; total = %d (expected %d)\n", sent_a, sent_b, total,
              5 * 1 + 3 * 10);

  int before = (co_await c.request(reset{})).value();
  int after = (co_await c.request(read_total{})).value();
  std::printf("reset: %d -> %d\n", before, after);

  // A request that nobody can answer fails as a value, not a hang.
  auto silent = troupe::open_inbox<read_total>(rt);
  auto r = co_await silent.ref().request(read_total{}, std::chrono::milliseconds(50));
  std::printf("request to a silent actor: %s\n", r.error().describe().c_str());
  co_return total == 35 && after == 0 ? 0 : 1;
}

int main() {
  troupe::runtime rt;
  return rt.block_on(tour(rt));
}
