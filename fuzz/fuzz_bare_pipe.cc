// The baseline for fuzz-bench: a libFuzzer target that only writes its input
// to a pipe and reads it back, so the exec/s of the real targets can be set
// beside the cost of the bare mechanism.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) std::abort();
  char buf[4096];
  size_t n = size < sizeof buf ? size : sizeof buf;
  if (n > 0 && ::write(fds[1], data, n) != static_cast<ssize_t>(n)) std::abort();
  if (n > 0 && ::read(fds[0], buf, sizeof buf) != static_cast<ssize_t>(n)) std::abort();
  ::close(fds[0]);
  ::close(fds[1]);
  return 0;
}
