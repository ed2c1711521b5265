// file_merge: 8 files of 262,144 lines × 64 bytes (16 MiB each; fewer lines
// with an argument) are read by 4 reader processes, which send whole lines
// in blocks of 64 KiB through one queue to the main process; it writes
// them to one merged file. Inputs are generated before the clock starts; the
// clock stops when the merged file is written and closed. Prints megabytes
// merged per second.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

namespace fs = std::filesystem;

constexpr int files = 8;
constexpr int readers = 4;
constexpr std::size_t block_size = 64 * 1024;
constexpr std::size_t line_size = 64;

struct block {
  int file = 0;
  std::string lines;
  bool last = false;
};

// File k, line i: "kk:iiiiiiii:" then the alphabet and digits, padded with
// 'x' to 63 bytes, then a newline.
void generate(const std::string& path, int k, int lines) {
  std::string all;
  all.reserve(static_cast<std::size_t>(lines) * line_size);
  for (int i = 0; i < lines; ++i) {
    char head[16];
    std::snprintf(head, sizeof head, "%02d:%08d:", k, i);
    std::string line = std::string(head) + "abcdefghijklmnopqrstuvwxyz0123456789";
    line.resize(line_size - 1, 'x');
    line += '\n';
    all += line;
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(all.data(), 1, all.size(), f) != all.size() || std::fclose(f) != 0)
    throw std::runtime_error("file_merge: cannot write " + path);
}

// Sends the file's whole lines in blocks; a partial line at the end of a
// read waits for the next one.
troupe::task<void> send_file(int k, const std::string& path, const troupe::queue<block>& q) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("file_merge: cannot open " + path);
  std::string carry;
  std::vector<char> buf(block_size);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) throw std::runtime_error("file_merge: cannot read " + path);
    if (n == 0) break;
    std::string_view got(buf.data(), static_cast<std::size_t>(n));
    const auto cut = got.rfind('\n');
    if (cut == std::string_view::npos) {
      carry.append(got);
      continue;
    }
    block b{k, std::move(carry), false};
    b.lines.append(got.substr(0, cut + 1));
    carry.assign(got.substr(cut + 1));
    (void)(co_await q.put(std::move(b))).value();
  }
  ::close(fd);
  block end{k, std::move(carry), true};
  (void)(co_await q.put(std::move(end))).value();
}

troupe::task<void> read_files(int first, std::vector<std::string> paths, troupe::queue<block> q) {
  for (int k = first; k < files; k += readers) co_await send_file(k, paths[static_cast<std::size_t>(k)], q);
}

// Every line of every file exactly once, each file's lines in order.
bool merged_correctly(const std::string& path, int lines) {
  const auto size = fs::file_size(path);
  if (size != static_cast<std::uintmax_t>(files) * static_cast<std::uintmax_t>(lines) * line_size) return false;
  std::vector<char> all(size);
  FILE* f = std::fopen(path.c_str(), "rb");
  const bool read_all = f != nullptr && std::fread(all.data(), 1, all.size(), f) == all.size();
  if (f != nullptr) std::fclose(f);
  if (!read_all) return false;
  std::vector<int> next(files, 0);
  for (std::size_t at = 0; at < all.size(); at += line_size) {
    // sscanf would measure the whole remaining buffer on every call.
    const char* line = all.data() + at;
    int k = 0, i = 0;
    for (int d = 0; d < 2; ++d) k = k * 10 + (line[d] - '0');
    for (int d = 3; d < 11; ++d) i = i * 10 + (line[d] - '0');
    if (line[2] != ':' || line[11] != ':' || line[line_size - 1] != '\n') return false;
    if (k < 0 || k >= files || i != next[static_cast<std::size_t>(k)]++) return false;
  }
  for (int n : next)
    if (n != lines) return false;
  return true;
}

troupe::task<void> bench(int lines) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("troupe-file-merge-{}", ::getpid());
  fs::create_directories(dir);
  std::vector<std::string> paths;
  for (int k = 0; k < files; ++k) {
    paths.push_back((dir / fmt::format("input-{}.txt", k)).string());
    generate(paths.back(), k, lines);
  }
  const std::string merged = (dir / "merged.txt").string();

  const auto t0 = std::chrono::steady_clock::now();
  auto q = troupe::queue<block>::make(64);
  std::vector<troupe::process> procs;
  for (int r = 0; r < readers; ++r) procs.emplace_back(read_files, r, paths, q).start();
  const int out = ::open(merged.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("file_merge: cannot create " + merged);
  for (int ended = 0; ended < files;) {
    block b = (co_await q.get()).value();
    for (std::size_t done = 0; done < b.lines.size();) {
      const ssize_t n = ::write(out, b.lines.data() + done, b.lines.size() - done);
      if (n < 0) throw std::runtime_error("file_merge: cannot write " + merged);
      done += static_cast<std::size_t>(n);
    }
    if (b.last) ++ended;
  }
  ::close(out);
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  for (auto& p : procs) co_await p.join();
  q.shutdown();

  const bool ok = merged_correctly(merged, lines);
  fs::remove_all(dir);
  if (!ok) {
    fmt::print(stderr, "file_merge: the merged file does not hold every line exactly once\n");
    std::exit(1);
  }
  const double bytes = static_cast<double>(files) * lines * line_size;
  fmt::print(
      R"({{"system": "troupe", "workload": "file_merge", "metric": "throughput", "value": {:.0f}, "unit": "MB/s", "params": {{"files": {}, "lines": {}, "readers": {}, "block": {}}}}})"
      "\n",
      bytes / 1e6 / dt.count(), files, lines, readers, block_size);
}

}  // namespace

int main(int argc, char** argv) {
  int lines = 262'144;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) lines = std::atoi(argv[1]);
  return troupe::run(argc, argv, [lines]() -> troupe::task<void> { return bench(lines); });
}
