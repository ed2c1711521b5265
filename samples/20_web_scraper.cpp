// 20 — web scraper: worker processes fetch URLs in parallel and store what
// they find in a shared Manager list; failures are results, never crashes.
// Usage: 20_web_scraper [--workers N] [--timeout MS] [--retries N]
//                       [--kill-worker] [URL... | @file]
#include <troupe.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "samples/support/demo_site.hpp"

struct page {
  std::string url;
  int status = 0;           // 0: no response (see error)
  std::string error;        // "timeout", "connection", ... or empty
  std::size_t bytes = 0;
  std::string title;
  double ms = 0;
  int attempts = 0;
};
struct job {
  std::string url;
  std::int64_t slot = 0;    // this URL's own entry in the list
  int timeout_ms = 0;
  int retries = 0;
  troupe::list_proxy<page> results;
};

std::string title_of(const std::string& html) {
  auto a = html.find("<title>"), b = html.find("</title>");
  return a == std::string::npos || b == std::string::npos || b < a ? "" : html.substr(a + 7, b - a - 7);
}

// Runs in a worker. It writes its URL's own entry, so a call that runs again
// (its first worker died) overwrites instead of adding a duplicate.
troupe::task<int> fetch(job j) {
  troupe::http::options o;
  o.connect_timeout = o.read_timeout = std::chrono::milliseconds(j.timeout_ms);
  o.headers = {{"X-Scraper-Pid", std::to_string(::getpid())}};
  page p{j.url};
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 0; attempt <= j.retries; ++attempt) {
    ++p.attempts;
    auto r = co_await troupe::http::get(j.url, o);
    if (r) {
      p = page{j.url, r->status, "", r->body.size(), title_of(r->body), r->elapsed.count() / 1e6, p.attempts};
      break;
    }
    p.error = std::string(troupe::to_string(r.error().code));
    p.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (r.error().code == troupe::errc::invalid_argument) break;  // a bad URL stays bad
  }
  (void)co_await j.results.set(j.slot, p);
  co_return p.status;
}

// SIGKILLs the worker fetching the first slow page of the site, mid-request.
troupe::task<void> kill_slow_worker(demo::site& site) {
  auto wait = [&site] { return site.wait_for_requests("/slow/", 1, std::chrono::seconds(10)); };
  bool seen = (co_await troupe::offload(wait)).value();
  auto [path, pid] = site.first_request("/slow/");
  if (seen && pid > 0 && ::kill(pid, SIGKILL) == 0) std::printf("killed worker %d while it fetched %s\n", pid, path.c_str());
}

troupe::task<int> main_task(int argc, char** argv) {
  int workers = 8, timeout_ms = 1000, retries = 1;
  bool kill_one = false;
  std::vector<std::string> urls;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workers" && i + 1 < argc) workers = std::atoi(argv[++i]);
    else if (a == "--timeout" && i + 1 < argc) timeout_ms = std::atoi(argv[++i]);
    else if (a == "--retries" && i + 1 < argc) retries = std::atoi(argv[++i]);
    else if (a == "--kill-worker") kill_one = true;
    else if (a[0] == '@') for (std::ifstream in(a.substr(1)); std::getline(in, a);) { if (!a.empty()) urls.push_back(a); }
    else urls.push_back(a);
  }
  demo::site site;  // served from this process; used when no URLs are given
  const bool embedded = urls.empty();
  if (embedded) urls = site.default_urls();

  auto manager = troupe::manager::start();
  auto results = (co_await manager.list<page>()).value();
  std::vector<job> jobs;
  for (const auto& u : urls) {
    page placeholder{u, 0, "not fetched"};
    co_await results.append(placeholder);
    jobs.push_back(job{u, static_cast<std::int64_t>(jobs.size()), timeout_ms, retries, results});
  }
  troupe::pool pool(troupe::pool_options{.processes = static_cast<std::size_t>(workers)});
  const auto start = std::chrono::steady_clock::now();
  if (kill_one && embedded) (void)co_await troupe::when_all(pool.map(fetch, jobs, 1), kill_slow_worker(site));
  else (void)co_await pool.map(fetch, jobs, 1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  auto pages = (co_await results.snapshot()).value();
  int ok = 0, missing = 0, failed = 0, as_expected = 0;
  bool once = pages.size() == urls.size();
  std::printf("%-44s %6s %7s %7s  %s\n", "url", "status", "bytes", "ms", "title or error");
  for (std::size_t i = 0; i < pages.size(); ++i) {
    const page& p = pages[i];
    once = once && p.url == urls[i] && p.error != "not fetched";
    (p.status == 200 ? ok : p.status != 0 ? missing : failed) += 1;
    std::printf("%-44s %6d %7zu %7.1f  %s\n", p.url.c_str(), p.status, p.bytes, p.ms, p.status ? p.title.c_str() : p.error.c_str());
    if (auto e = site.expect(p.url)) {
      bool good = p.status == e->status && (p.status ? p.title == e->title : p.error == (e->failure == "reset" ? "connection" : e->failure));
      as_expected += good ? 1 : 0;
    }
  }
  std::printf("%zu URLs by %d worker processes in %.2f s: %d ok, %d other statuses, %d failed\n", pages.size(), workers, secs, ok, missing, failed);
  std::printf("every URL exactly once: %s\n", once ? "yes" : "NO");
  if (embedded) std::printf("checked against the site: %d of %zu as expected\n", as_expected, pages.size());
  co_await manager.shutdown();
  co_return once ? 0 : 1;
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
