// The only code that touches MPI, built as a module of its own
// (libtroupe_mpi.so) that a rank loads when a launcher started it. Programs
// do not link MPI: its libraries would cost every process troupe starts
// about 2 ms of loading, launcher or not.
//
// The rendezvous: MPI_Init, each rank's fixed-size entry gathered to all,
// rank 0's session key broadcast, MPI_Finalize. Nothing else; C linkage,
// so the loader needs only dlsym.

#include <mpi.h>

#include <cstddef>

extern "C" {

/// Starts MPI and gives this rank and the number of ranks; null, or what
/// failed.
__attribute__((visibility("default"))) const char* troupe_mpi_start(int* rank, int* size) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) return "MPI_Init failed";
  if (MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS) return "MPI_Comm_rank failed";
  if (MPI_Comm_size(MPI_COMM_WORLD, size) != MPI_SUCCESS) return "MPI_Comm_size failed";
  return nullptr;
}

/// Gathers every rank's `entry_size` bytes into `all` (size × entry_size
/// bytes, in rank order), replaces `key` (32 bytes) with rank 0's, and
/// ends MPI; null, or what failed.
__attribute__((visibility("default"))) const char* troupe_mpi_exchange(const void* mine, std::size_t entry_size,
                                                                       void* all, unsigned char* key) {
  const int n = static_cast<int>(entry_size);
  if (MPI_Allgather(mine, n, MPI_BYTE, all, n, MPI_BYTE, MPI_COMM_WORLD) != MPI_SUCCESS) return "MPI_Allgather failed";
  if (MPI_Bcast(key, 32, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return "MPI_Bcast failed";
  MPI_Finalize();
  return nullptr;
}

}  // extern "C"
