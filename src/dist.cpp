#include "digitnet/dist.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "digitnet/error.hpp"

namespace digitnet {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail(ErrorKind::runtime, std::string(what) + " failed: " + std::string(msg, size_t(len)));
}

// MPI counts are int: split large buffers.
template <class T>
void allreduce_chunks(T* data, size_t n, MPI_Datatype type, MPI_Op op) {
  constexpr size_t kChunk = size_t(INT_MAX);
  for (size_t off = 0; off < n; off += kChunk) {
    const int count = int(std::min(kChunk, n - off));
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, count, type, op, MPI_COMM_WORLD), "MPI_Allreduce");
  }
}

}  // namespace

World::World(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) check(MPI_Init(argc, argv), "MPI_Init");
  // Errors come back as codes we turn into exceptions with a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
}

World::~World() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void World::allreduce_sum(float* data, size_t n) { allreduce_chunks(data, n, MPI_FLOAT, MPI_SUM); }
void World::allreduce_sum(double* data, size_t n) { allreduce_chunks(data, n, MPI_DOUBLE, MPI_SUM); }
void World::allreduce_sum(uint64_t* data, size_t n) { allreduce_chunks(data, n, MPI_UINT64_T, MPI_SUM); }

void World::broadcast(float* data, size_t n, int root) {
  constexpr size_t kChunk = size_t(INT_MAX);
  for (size_t off = 0; off < n; off += kChunk)
    check(MPI_Bcast(data + off, int(std::min(kChunk, n - off)), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
}

uint64_t World::allreduce_max(uint64_t value) {
  allreduce_chunks(&value, 1, MPI_UINT64_T, MPI_MAX);
  return value;
}

void World::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

bool World::all_equal(uint64_t value) {
  uint64_t lo = value, hi = value;
  allreduce_chunks(&lo, 1, MPI_UINT64_T, MPI_MIN);
  allreduce_chunks(&hi, 1, MPI_UINT64_T, MPI_MAX);
  return lo == hi;
}

void World::abort(int status) {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);
}

}  // namespace digitnet
