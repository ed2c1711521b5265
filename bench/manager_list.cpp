// manager_list: 4 processes append 10,000 items each to a list served by a
// manager process (fewer with an argument); prints appends per second, from
// the moment all four start together until all have returned.
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> appender(troupe::list_proxy<long> l, troupe::barrier start, long id, long count) {
  (void)co_await start.wait();
  for (long i = 0; i < count; ++i) co_await l.append(id * count + i);
  (void)(co_await l.sync()).value();  // every append applied before it reports done
}

troupe::task<void> bench(long count) {
  constexpr int procs = 4;
  auto m = troupe::manager::start();
  auto l = (co_await m.list<long>()).value();
  auto start = troupe::barrier::make(procs + 1);
  std::vector<troupe::process> ps;
  for (long id = 0; id < procs; ++id) ps.emplace_back(appender, l, start, id, count);
  for (auto& p : ps) p.start();
  (void)co_await start.wait();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& p : ps) co_await p.join();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  if ((co_await l.len()).value() != static_cast<std::size_t>(procs * count))
    throw std::runtime_error("appends lost or duplicated");
  fmt::print(
      R"({{"system": "troupe", "workload": "manager_list", "metric": "throughput", "value": {:.0f}, "unit": "appends/s", "params": {{"processes": {}, "items": {}}}}})"
      "\n",
      static_cast<double>(procs * count) / dt.count(), procs, count);
  start.shutdown();
  co_await m.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  long count = 10'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) count = std::atol(argv[1]);
  return troupe::run(argc, argv, [count]() -> troupe::task<void> { return bench(count); });
}
