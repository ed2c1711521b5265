// The peer of hosts_pingpong: raw MPI, 8-byte messages bounced between
// rank 0 and rank 1 with blocking MPI_Send/MPI_Recv (over TCP between the
// fake hosts); prints the microseconds per round trip as one JSON line.
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int round_trips = argc > 1 ? std::atoi(argv[1]) : 20'000;
  if (size < 2) {
    if (rank == 0) std::fprintf(stderr, "mpi_pingpong needs two ranks\n");
    MPI_Finalize();
    return 2;
  }
  std::uint64_t ball = 0;
  auto bounce = [&](int n) {
    for (int i = 0; i < n; ++i) {
      if (rank == 0) {
        MPI_Send(&ball, 1, MPI_UINT64_T, 1, 0, MPI_COMM_WORLD);
        MPI_Recv(&ball, 1, MPI_UINT64_T, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(&ball, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        ++ball;
        MPI_Send(&ball, 1, MPI_UINT64_T, 0, 0, MPI_COMM_WORLD);
      }
    }
  };
  bounce(round_trips / 10);  // warm-up
  MPI_Barrier(MPI_COMM_WORLD);
  const auto t0 = std::chrono::steady_clock::now();
  bounce(round_trips);
  const std::chrono::duration<double, std::micro> dt = std::chrono::steady_clock::now() - t0;
  if (rank == 0)
    std::printf(
        "{\"system\": \"mpi\", \"workload\": \"hosts_pingpong\", \"metric\": \"latency\", \"value\": %.2f, "
        "\"unit\": \"us/round trip\", \"params\": {\"round_trips\": %d, \"ranks\": %d}}\n",
        dt.count() / round_trips, round_trips, size);
  MPI_Finalize();
  return 0;
}
