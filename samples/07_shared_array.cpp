// 07 — shared Array: worker processes compute rows of a matrix product
// straight into one shared array; the parent prints the result.
#include <troupe.hpp>

#include <cstdio>
#include <vector>

constexpr int n = 6;

// A and B are the arguments (copied to each child); C is shared: each
// worker writes only its own rows, so no lock is needed.
void multiply_rows(std::vector<double> a, std::vector<double> b, troupe::array<double> c, int first, int step) {
  for (int i = first; i < n; i += step)
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int k = 0; k < n; ++k) sum += a[i * n + k] * b[k * n + j];
      c[static_cast<std::size_t>(i * n + j)] = sum;
    }
}

troupe::task<void> main_task() {
  std::vector<double> a(n * n), b(n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      a[i * n + j] = i + j;
      b[i * n + j] = i == j ? 2 : 0;  // 2·I: the product is 2·A
    }
  auto c = troupe::array<double>::make(n * n);
  constexpr int workers = 3;
  std::vector<troupe::process> procs;
  for (int w = 0; w < workers; ++w) procs.emplace_back(multiply_rows, a, b, c, w, workers);
  for (auto& p : procs) p.start();
  for (auto& p : procs) co_await p.join();

  bool right = true;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      std::printf("%5.0f", c[static_cast<std::size_t>(i * n + j)]);
      right = right && c[static_cast<std::size_t>(i * n + j)] == 2 * a[i * n + j];
    }
    std::printf("\n");
  }
  std::printf("%d workers filled %zu cells: %s\n", workers, c.size(), right ? "C = 2A as expected" : "WRONG");
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
