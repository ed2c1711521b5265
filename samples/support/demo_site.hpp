#pragma once

// A small web site served on 127.0.0.1 for the scraping samples, their tests
// and the scrape benchmark, so they run anywhere without a network: pages
// with titles and links, slow pages, missing pages, a redirect, a page that
// never answers and an address that resets every connection.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace demo {

/// What scraping one URL of the site must give.
struct expectation {
  int status = 0;          ///< 0 when the request must fail
  std::string title;       ///< of a 200 (or 404) page
  std::string failure;     ///< "timeout" or "reset" when status is 0
};

class site {
 public:
  /// Starts serving on a free port of 127.0.0.1 (threads of this process).
  site();
  /// Stops serving; requests still waiting (the page that never answers)
  /// are released.
  ~site();
  site(const site&) = delete;
  site& operator=(const site&) = delete;

  /// "http://127.0.0.1:PORT".
  [[nodiscard]] std::string base() const;
  /// The default set to scrape: 24 pages, 3 slow ones, 3 missing ones, a
  /// redirect, one that never answers, and one that resets the connection.
  [[nodiscard]] std::vector<std::string> default_urls() const;
  /// Page `i`, answered after `delay` (the benchmark's pages).
  [[nodiscard]] std::string delayed_url(int i, std::chrono::milliseconds delay) const;
  /// What `url` must give, if it is one of this site's.
  [[nodiscard]] std::optional<expectation> expect(std::string_view url) const;
  /// Waits until at least `count` requests whose path starts with `prefix`
  /// have arrived; false after `timeout`.
  bool wait_for_requests(std::string_view prefix, std::size_t count, std::chrono::milliseconds timeout);
  /// The first request whose path starts with `prefix`: its path and the
  /// pid its client named in an X-Scraper-Pid header (0 if none).
  [[nodiscard]] std::pair<std::string, int> first_request(std::string_view prefix) const;

  /// The words of page i's text (sample 19 counts them).
  static std::string page_text(int i);
  static std::string page_title(int i);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace demo
