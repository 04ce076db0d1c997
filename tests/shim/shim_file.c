/* Regular-file breakages for FILE-HANDOFF (tests/shim/shim.h), chained from
 * the write and close wrappers of shim_pipe.c:
 *
 *   file-write-deferred  writes to a regular file opened write-only are kept
 *                        in memory and made at close: a write-back cache that
 *                        forgets that a write which has returned must be
 *                        there for a read
 */
#define _GNU_SOURCE /* before any system header: mremap */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_fd.h"

enum { kDeferredFds = 256 };
static struct {
  char* data;
  size_t len, cap;
} g_deferred[kDeferredFds];

static int DeferredFile(int fd) {
  struct stat st;
  return fd >= 0 && fd < kDeferredFds && syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) &&
         shim_accmode(fd) == O_WRONLY;
}

ssize_t ipcspec_shim_file_write(int fd, const void* buf, size_t n) {
  if (!ipcspec_shim_mode("file-write-deferred") || !DeferredFile(fd)) return SHIM_NOT_MINE;
  if (g_deferred[fd].len + n > g_deferred[fd].cap) {
    size_t cap = g_deferred[fd].cap ? g_deferred[fd].cap : 65536;
    while (cap < g_deferred[fd].len + n) cap *= 2;
    void* grown = g_deferred[fd].data == NULL
                      ? mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                      : mremap(g_deferred[fd].data, g_deferred[fd].cap, cap, MREMAP_MAYMOVE);
    if (grown == MAP_FAILED) {
      errno = ENOSPC;
      return -1;
    }
    g_deferred[fd].data = grown;
    g_deferred[fd].cap = cap;
  }
  memcpy(g_deferred[fd].data + g_deferred[fd].len, buf, n);
  g_deferred[fd].len += n;
  return (ssize_t)n;
}

void ipcspec_shim_file_close(int fd) {
  if (!ipcspec_shim_mode("file-write-deferred") || fd < 0 || fd >= kDeferredFds ||
      g_deferred[fd].data == NULL) {
    return;
  }
  for (size_t off = 0; off < g_deferred[fd].len;) {
    const long k = syscall(SYS_write, fd, g_deferred[fd].data + off, g_deferred[fd].len - off);
    if (k <= 0) break;
    off += (size_t)k;
  }
  munmap(g_deferred[fd].data, g_deferred[fd].cap);
  g_deferred[fd].data = NULL;
  g_deferred[fd].len = g_deferred[fd].cap = 0;
}
