// 19 — hybrid pipeline: downloader processes fetch pages from a local site
// into a queue; one processing process parses them on threads and adds up
// the word counts. Processes isolate the network stage (a stuck or crashed
// downloader takes nothing else down); threads inside one process start in
// microseconds and share its memory for the CPU-bound stage.
#include <troupe.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "samples/support/demo_site.hpp"

using counts = std::map<std::string, long>;
struct doc {
  std::string url;   // empty: a downloader has finished
  std::string body;
};
struct tally {
  using response = counts;
};
struct summary {
  int pages = 0;
  long words = 0;
  double parse_ms = 0;
  counts words_by_count;
};

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t) { return std::chrono::duration<double, std::milli>(clock_type::now() - t).count(); }

// Stage 1, in each downloader process: every `step`-th page from `first`.
troupe::task<void> download(std::string base, int first, int step, int pages, troupe::queue<doc> out) {
  for (int i = first; i <= pages; i += step) {
    auto page = co_await troupe::http::get(base + "/page/" + std::to_string(i));
    doc d{base + "/page/" + std::to_string(i), page ? page->body : ""};
    (void)(co_await out.put(std::move(d))).value();
  }
  doc done;
  (void)(co_await out.put(std::move(done))).value();
}

// Stage 2, on a thread of the processing process: counts the words of the
// paragraph text of each page it is sent.
troupe::task<void> parser(troupe::inbox<doc, tally> self) {
  counts seen;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    if (l->is<tally>()) { l->reply(seen); continue; }
    const std::string& html = l->get<doc>().body;
    auto a = html.find("<p>"), b = html.find("</p>");
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string word;
    for (char c : html.substr(a + 3, b - a - 3) + " ") {
      if (std::isalpha(static_cast<unsigned char>(c))) word += c;
      else if (!word.empty()) { ++seen[word]; word.clear(); }
    }
  }
}

// The processing process: fans pages out to parser threads, then merges.
troupe::task<void> process_pages(troupe::queue<doc> in, int downloaders, int threads, troupe::queue<summary> out) {
  std::vector<troupe::thread> pool;
  std::vector<troupe::actor_ref> parsers;
  for (int t = 0; t < threads; ++t) {
    pool.push_back(troupe::thread::host());
    pool.back().start();
    parsers.push_back((co_await pool.back().spawn(parser)).value());
  }
  summary s;
  const auto start = clock_type::now();
  for (int finished = 0; finished < downloaders;) {
    doc d = (co_await in.get()).value();
    if (d.url.empty()) { ++finished; continue; }
    co_await parsers[static_cast<std::size_t>(s.pages++ % threads)].send(std::move(d));
  }
  for (auto& p : parsers) {
    tally ask;
    counts part = (co_await p.request(std::move(ask))).value();
    for (auto& [w, n] : part) { s.words_by_count[w] += n; s.words += n; }
  }
  s.parse_ms = ms_since(start);
  for (auto& t : pool) t.request_stop();
  (void)(co_await out.put(std::move(s))).value();
}

troupe::task<void> main_task() {
  constexpr int pages = 24, downloaders = 4, threads = 2;
  demo::site site;
  auto docs = troupe::queue<doc>::make(64);
  auto result = troupe::queue<summary>::make(1);
  troupe::process processing(process_pages, docs, downloaders, threads, result);
  processing.start();
  const auto start = clock_type::now();
  std::vector<troupe::process> fetchers;
  for (int k = 0; k < downloaders; ++k) fetchers.emplace_back(download, site.base(), k + 1, downloaders, pages, docs);
  for (auto& f : fetchers) f.start();
  for (auto& f : fetchers) co_await f.join();
  const double download_ms = ms_since(start);
  summary s = (co_await result.get()).value();
  co_await processing.join();

  std::printf("stage 1: %d downloader processes fetched %d pages in %.0f ms (%.0f pages/s)\n", downloaders, s.pages,
              download_ms, s.pages / download_ms * 1000);
  std::printf("stage 2: %d parser threads in process %d counted %ld words in %.0f ms (%.0f pages/s)\n", threads,
              processing.pid(), s.words, s.parse_ms, s.pages / s.parse_ms * 1000);
  std::vector<std::pair<std::string, long>> top(s.words_by_count.begin(), s.words_by_count.end());
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  for (std::size_t i = 0; i < 5 && i < top.size(); ++i) std::printf("  %-8s %ld\n", top[i].first.c_str(), top[i].second);

  counts here;  // the same count, made here from the site's own text
  for (int i = 1; i <= pages; ++i) {
    std::string text = demo::site::page_text(i) + " ";
    for (std::size_t a = 0, b; (b = text.find(' ', a)) != std::string::npos; a = b + 1) ++here[text.substr(a, b - a)];
  }
  std::printf("counts agree with a single-threaded count: %s\n", here == s.words_by_count ? "yes" : "NO");
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
