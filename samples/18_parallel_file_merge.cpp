// 18 — parallel file merge: a pool of readers reads several files at once
// and sends their lines through a queue to one writer process, which merges
// them into one output file.
#include <troupe.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

// Whole lines of one file, at most about 64 KiB at a time; `last` marks a
// file's end.
struct block {
  int file = 0;
  std::string lines;
  bool last = false;
};

// File k holds `lines` lines of 64 bytes: "kk:iiiiiiii:" and filler.
void generate(const fs::path& path, int k, int lines) {
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < lines; ++i) {
    char head[24];
    std::snprintf(head, sizeof head, "%02d:%08d:", k, i);
    std::string line = std::string(head) + "abcdefghijklmnopqrstuvwxyz0123456789";
    line.resize(63, 'x');
    line += '\n';
    out << line;
  }
}

// A reader: sends its file's lines in blocks, then its end marker.
troupe::task<std::size_t> read_file(int k, std::string path, troupe::queue<block> q) {
  std::ifstream in(path, std::ios::binary);
  std::size_t lines = 0;
  block b{k, {}, false};
  for (std::string line; std::getline(in, line); ++lines) {
    b.lines += line;
    b.lines += '\n';
    if (b.lines.size() >= 64 * 1024) {
      (void)(co_await q.put(b)).value();
      b.lines.clear();
    }
  }
  b.last = true;
  (void)(co_await q.put(b)).value();
  co_return lines;
}

// The writer: appends blocks as they come until every file has ended.
troupe::task<int> write_merged(troupe::queue<block> q, std::string path, int files) {
  std::ofstream out(path, std::ios::binary);
  for (int ended = 0; ended < files;) {
    block b = (co_await q.get()).value();
    out << b.lines;
    if (b.last) ++ended;
  }
  co_return 0;
}

troupe::task<void> main_task(int argc, char** argv) {
  const int files = 8;
  const int lines = argc > 1 ? std::atoi(argv[1]) : 16384;
  const fs::path dir = fs::temp_directory_path() / ("troupe-merge-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<std::string> inputs;
  for (int k = 0; k < files; ++k) {
    inputs.push_back((dir / ("input-" + std::to_string(k) + ".txt")).string());
    generate(inputs.back(), k, lines);
  }
  const std::string merged = (dir / "merged.txt").string();

  auto t0 = std::chrono::steady_clock::now();
  auto q = troupe::queue<block>::make(64);
  troupe::process writer(write_merged, q, merged, files);
  writer.start();
  troupe::pool readers(troupe::pool_options{.processes = 4});
  std::vector<std::tuple<int, std::string, troupe::queue<block>>> jobs;
  for (int k = 0; k < files; ++k) jobs.emplace_back(k, inputs[static_cast<std::size_t>(k)], q);
  auto read = co_await readers.starmap(read_file, jobs, std::size_t{1});
  co_await writer.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Every input line exactly once: count each file's line numbers.
  std::vector<std::vector<int>> seen(files, std::vector<int>(static_cast<std::size_t>(lines)));
  std::ifstream in(merged, std::ios::binary);
  std::size_t total = 0, bad = 0;
  for (std::string line; std::getline(in, line); ++total) {
    int k = -1, i = -1;
    if (std::sscanf(line.c_str(), "%2d:%8d:", &k, &i) != 2 || k < 0 || k >= files || i < 0 || i >= lines) {
      ++bad;
      continue;
    }
    ++seen[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)];
  }
  std::size_t once = 0;
  for (auto& f : seen)
    for (int c : f) once += c == 1 ? 1 : 0;
  const auto bytes = fs::file_size(merged);
  std::size_t sent = 0;
  for (auto n : read) sent += n;
  std::printf("%d files read by %zu reader processes, %zu lines sent through the queue\n", files, readers.processes(), sent);
  std::printf("merged %zu lines, %llu bytes in %.3f s (%.0f MB/s)\n", total, static_cast<unsigned long long>(bytes), secs,
              static_cast<double>(bytes) / secs / 1e6);
  std::printf("every input line exactly once: %s\n",
              once == static_cast<std::size_t>(files) * static_cast<std::size_t>(lines) && bad == 0 && total == once ? "yes" : "NO");
  fs::remove_all(dir);
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
