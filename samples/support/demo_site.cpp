#include "samples/support/demo_site.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fcntl.h>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace demo {

namespace {

constexpr std::array<const char*, 8> topics = {"actors", "mailboxes", "processes", "queues",
                                               "locks",  "barriers",  "pools",     "rings"};
constexpr std::array<const char*, 24> words = {
    "actor",  "message", "process", "queue",   "lock",   "ring",   "pool",   "worker",
    "thread", "link",    "frame",   "barrier", "event",  "signal", "memory", "reply",
    "the",    "a",       "of",      "and",     "to",     "every",  "one",    "fast"};
constexpr int page_count = 24;
constexpr auto slow_delay = std::chrono::milliseconds(300);
constexpr auto hang_limit = std::chrono::seconds(30);

int number_after(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return -1;
  int n = 0;
  std::string_view digits = path.substr(prefix.size());
  if (digits.empty()) return -1;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::string html(const std::string& title, const std::string& body) {
  return "<!doctype html>\n<html><head><title>" + title + "</title></head>\n<body><h1>" + title + "</h1>\n" + body +
         "\n</body></html>\n";
}

std::string page_body(int i) {
  std::string body = "<p>" + site::page_text(i) + "</p>\n<ul>";
  for (int k = 1; k <= 3; ++k) {
    int to = (i + k * 7) % page_count + 1;
    body += "<li><a href=\"/page/" + std::to_string(to) + "\">" + site::page_title(to) + "</a></li>";
  }
  return body + "</ul>";
}

// Debian's compiled cpp-httplib listens with a backlog of 5: eight clients
// connecting at once overflow it, and a dropped SYN is retried only after a
// second. Listening again on the same socket widens the queue.
void widen_backlog(int port) {
  for (int fd = 0; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t n = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 || listening == 0) continue;
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.sin_family == AF_INET &&
        ntohs(addr.sin_port) == port)
      ::listen(fd, 256);
  }
}

}  // namespace

struct site::impl {
  httplib::Server server;
  std::thread server_thread;
  std::atomic<bool> server_returned{false};
  int port = 0;

  // The address that resets: a bare listening socket.
  int reset_fd = -1;
  int reset_port = 0;
  int stop_pipe[2] = {-1, -1};
  std::thread reset_thread;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  struct request_seen {
    std::string path;
    int pid = 0;  // the X-Scraper-Pid header, if sent
  };
  std::vector<request_seen> seen;  // in arrival order

  void record(const std::string& path, int pid = 0) {
    std::lock_guard lock(mu);
    seen.push_back({path, pid});
    cv.notify_all();
  }
  void record(const httplib::Request& req) {
    int pid = 0;
    if (req.has_header("X-Scraper-Pid")) pid = std::atoi(req.get_header_value("X-Scraper-Pid").c_str());
    record(req.path, pid);
  }

  // Sleeps as a slow server would, or less if the site stops.
  void lag(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [this] { return stopping; });
  }

  void serve_resets() {
    for (;;) {
      pollfd fds[2] = {{reset_fd, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      int c = ::accept(reset_fd, nullptr, nullptr);
      if (c < 0) continue;
      record("/reset");
      // Read the request, then close with a zero linger: the peer gets a
      // reset instead of an orderly end.
      pollfd in{c, POLLIN, 0};
      char buf[4096];
      if (::poll(&in, 1, 1000) > 0) (void)::recv(c, buf, sizeof buf, 0);
      linger lg{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      ::close(c);
    }
  }
};

site::site() : impl_(std::make_unique<impl>()) {
  impl& s = *impl_;
  s.server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  s.server.set_keep_alive_max_count(100000);
  s.server.set_keep_alive_timeout(2);
  s.server.set_tcp_nodelay(true);
  s.server.Get(R"(/page/(\d+))", [&s](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    int i = number_after(req.path, "/page/");
    if (i < 1 || i > page_count) {
      res.status = 404;
      res.set_content(html("Not found", "<p>no such page</p>"), "text/html");
      return;
    }
    res.set_content(html(page_title(i), page_body(i)), "text/html");
  });
  s.server.Get(R"(/slow/(\d+))", [&s](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    s.lag(slow_delay);
    int i = number_after(req.path, "/slow/");
    res.set_content(html("Slow " + page_title(i), page_body(i)), "text/html");
  });
  s.server.Get(R"(/delay/(\d+)/(\d+))", [&s](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    s.lag(std::chrono::milliseconds(std::stoi(req.matches[1])));
    int i = std::stoi(req.matches[2]);
    res.set_content(html(page_title(i % page_count + 1), page_body(i % page_count + 1)), "text/html");
  });
  s.server.Get(R"(/moved/(\d+))", [&s](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    res.set_redirect("/page/" + std::string(req.matches[1]), 302);
  });
  s.server.Get("/hang", [&s](const httplib::Request& req, httplib::Response& res) {
    s.record(req);
    s.lag(std::chrono::duration_cast<std::chrono::milliseconds>(hang_limit));
    res.set_content(html("Too late", "<p>nobody waited</p>"), "text/html");
  });
  s.server.set_error_handler([&s](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404) {
      s.record(req);
      res.set_content(html("Not found", "<p>no such page</p>"), "text/html");
    }
  });
  s.port = s.server.bind_to_any_port("127.0.0.1");
  if (s.port <= 0) throw std::runtime_error("the demo site could not bind a port on 127.0.0.1");
  widen_backlog(s.port);
  // Connections wait in the listen backlog until the loop below accepts them.
  s.server_thread = std::thread([&s] {
    s.server.listen_after_bind();
    s.server_returned = true;
  });

  s.reset_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (s.reset_fd < 0 || ::bind(s.reset_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s.reset_fd, 64) != 0 || ::getsockname(s.reset_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe2(s.stop_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("the demo site could not open its resetting address");
  s.reset_port = ntohs(addr.sin_port);
  s.reset_thread = std::thread([&s] { s.serve_resets(); });
}

site::~site() {
  impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
  }
  s.cv.notify_all();
  // stop() does nothing before the accept loop runs, and cpp-httplib 0.11
  // cannot tell when it does: a site destroyed right after it was made
  // waits (at most two seconds) for the loop to start or to give up.
  for (int i = 0; i < 2000 && !s.server.is_running() && !s.server_returned; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.server.stop();
  if (s.server_thread.joinable()) s.server_thread.join();
  (void)!::write(s.stop_pipe[1], "x", 1);
  if (s.reset_thread.joinable()) s.reset_thread.join();
  ::close(s.reset_fd);
  ::close(s.stop_pipe[0]);
  ::close(s.stop_pipe[1]);
}

std::string site::base() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }

std::vector<std::string> site::default_urls() const {
  std::vector<std::string> urls;
  for (int i = 1; i <= page_count; ++i) urls.push_back(base() + "/page/" + std::to_string(i));
  for (int i : {3, 9, 15}) urls.push_back(base() + "/slow/" + std::to_string(i));
  for (int i : {404, 405, 406}) urls.push_back(base() + "/page/" + std::to_string(i));
  urls.push_back(base() + "/moved/5");
  urls.push_back(base() + "/hang");
  urls.push_back("http://127.0.0.1:" + std::to_string(impl_->reset_port) + "/reset");
  return urls;
}

std::string site::delayed_url(int i, std::chrono::milliseconds delay) const {
  return base() + "/delay/" + std::to_string(delay.count()) + "/" + std::to_string(i);
}

std::optional<expectation> site::expect(std::string_view url) const {
  const std::string reset = "http://127.0.0.1:" + std::to_string(impl_->reset_port);
  if (url.substr(0, reset.size()) == reset) return expectation{0, "", "reset"};
  const std::string b = base();
  if (url.substr(0, b.size()) != b) return std::nullopt;
  std::string_view path = url.substr(b.size());
  if (path == "/hang") return expectation{0, "", "timeout"};
  if (int i = number_after(path, "/page/"); i >= 0)
    return i >= 1 && i <= page_count ? expectation{200, page_title(i), ""} : expectation{404, "Not found", ""};
  if (int i = number_after(path, "/slow/"); i >= 0) return expectation{200, "Slow " + page_title(i), ""};
  if (int i = number_after(path, "/moved/"); i >= 0) return expectation{200, page_title(i), ""};
  return std::nullopt;
}

bool site::wait_for_requests(std::string_view prefix, std::size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] {
    std::size_t n = 0;
    for (const auto& r : impl_->seen)
      if (r.path.compare(0, prefix.size(), prefix) == 0) ++n;
    return n >= count;
  });
}

std::pair<std::string, int> site::first_request(std::string_view prefix) const {
  std::lock_guard lock(impl_->mu);
  for (const auto& r : impl_->seen)
    if (r.path.compare(0, prefix.size(), prefix) == 0) return {r.path, r.pid};
  return {};
}

std::string site::page_title(int i) { return "Page " + std::to_string(i) + ": " + topics[static_cast<std::size_t>(i) % topics.size()]; }

std::string site::page_text(int i) {
  std::string text;
  std::uint32_t x = static_cast<std::uint32_t>(i) * 2654435761u + 1;
  for (int w = 0; w < 120; ++w) {
    x = x * 1664525u + 1013904223u;
    if (!text.empty()) text += ' ';
    text += words[(x >> 16) % words.size()];
  }
  return text;
}

}  // namespace demo
