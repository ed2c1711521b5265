// A program of its own built against troupe: its own message types and
// actor, worker processes fed by a queue, and a pool.
#include <troupe.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

// Messages are the program's own plain structs: nothing to register.
struct tally {
  std::string word;
  int count = 0;
};
struct top_word {
  using response = tally;  // a request names its reply type
};

// The program's own actor: keeps the counts that workers report.
class census {
 public:
  using messages = troupe::message_list<tally, top_word>;

  void on(tally t) { counts_[t.word] += t.count; }
  tally on(top_word) const {
    tally best;
    for (const auto& [word, count] : counts_)
      if (count > best.count) best = {word, count};
    return best;
  }

 private:
  std::map<std::string, int> counts_;
};

// A worker process: takes lines from the queue until it gets an empty one
// and reports every word it counted to the census actor in the parent.
troupe::task<void> count_words(troupe::queue<std::string> lines, troupe::actor_ref counts) {
  std::map<std::string, int> mine;
  for (;;) {
    std::string line = (co_await lines.get()).value();
    if (line.empty()) break;
    std::string word;
    for (char c : line + ' ') {
      if (c != ' ') { word += c; continue; }
      if (!word.empty()) ++mine[word];
      word.clear();
    }
  }
  for (auto& [word, count] : mine) {
    tally t{word, count};
    co_await counts.send(std::move(t));
  }
  // A request is answered only after everything this process sent before
  // it, so when it returns the census holds all of this worker's counts.
  (void)(co_await counts.request(top_word{})).value();
}

// A pool function: any free function whose arguments and result are plain data.
int letters(std::string line) {
  int n = 0;
  for (char c : line) n += c != ' ';
  return n;
}

troupe::task<int> main_task() {
  std::printf("troupe %s\n", troupe::version().string);
  const std::vector<std::string> text = {
      "the quick brown fox", "jumps over the lazy dog", "the dog sleeps",
      "the fox runs", "a lazy afternoon for the dog"};

  auto counts = troupe::spawn<census>(troupe::runtime::current());
  auto lines = troupe::queue<std::string>::make(4);
  std::vector<troupe::process> workers;
  for (int i = 0; i < 2; ++i) workers.emplace_back(count_words, lines, counts);
  for (auto& w : workers) w.start();
  for (const auto& line : text) (void)(co_await lines.put(line)).value();
  for (std::size_t i = 0; i < workers.size(); ++i) (void)(co_await lines.put(std::string())).value();
  for (auto& w : workers) co_await w.join();

  tally top = (co_await counts.request(top_word{})).value();
  std::printf("2 worker processes counted the words; the most common is \"%s\" (%d times)\n",
              top.word.c_str(), top.count);

  troupe::pool pool(2);
  std::vector<int> per_line = co_await pool.map(letters, text);
  int total = 0;
  for (int n : per_line) total += n;
  std::printf("a pool of 2 counted %d letters in %zu lines\n", total, per_line.size());
  co_return top.word == "the" && top.count == 5 && total == 80 ? 0 : 1;
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
