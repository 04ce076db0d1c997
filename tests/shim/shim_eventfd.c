/* eventfd breakages for EVENTFD-* (tests/shim/shim.h), chained from the
 * read and write wrappers of shim_pipe.c:
 *
 *   efd-blocking-read-eagain      EVENTFD-COUNTER, -SEMAPHORE: a blocking read
 *                                 at 0 gives EAGAIN instead of waiting
 *   efd-blocking-overflow-eagain  EVENTFD-EAGAIN: a blocking write past the
 *                                 maximum gives EAGAIN instead of waiting
 *   efd-write-zero-einval         EVENTFD-COUNTER: a write of 0 gives EINVAL
 *   efd-large-buffer-einval       EVENTFD-COUNTER: a read into more than 8
 *                                 bytes gives EINVAL
 *
 * Only calls on an eventfd change; every other call is not theirs.
 */
#define _GNU_SOURCE /* before any system header */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim_fd.h"

#define MODE(name) ipcspec_shim_mode(name)

/* An eventfd: its /proc/self/fd link says so. */
static int IsEventfd(int fd) {
  char path[64], target[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, target, sizeof target - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  return strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* A blocking eventfd whose calls are made without waiting (O_NONBLOCK for
 * the call). */
static int BlockingEventfd(int fd) {
  return IsEventfd(fd) && !(shim_status_flags(fd) & O_NONBLOCK);
}
static int NonBlockingForNow(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return flags;
}
static void RestoreFlags(int fd, int flags) {
  const int saved = errno;
  fcntl(fd, F_SETFL, flags);
  errno = saved;
}

ssize_t ipcspec_shim_eventfd_read(int fd, void* buf, size_t n) {
  if (MODE("efd-blocking-read-eagain") && BlockingEventfd(fd)) {
    const int flags = NonBlockingForNow(fd);
    const ssize_t r = IPCSPEC_SHIM_NEXT(read)(fd, buf, n);
    RestoreFlags(fd, flags);
    return r;
  }
  if (MODE("efd-large-buffer-einval") && n > 8 && IsEventfd(fd)) {
    errno = EINVAL;
    return -1;
  }
  return SHIM_NOT_MINE;
}

ssize_t ipcspec_shim_eventfd_write(int fd, const void* buf, size_t n) {
  if (MODE("efd-blocking-overflow-eagain") && BlockingEventfd(fd)) {
    const int flags = NonBlockingForNow(fd);
    const ssize_t r = IPCSPEC_SHIM_NEXT(write)(fd, buf, n);
    RestoreFlags(fd, flags);
    return r;
  }
  if (MODE("efd-write-zero-einval") && n == 8 && IsEventfd(fd)) {
    unsigned long long v;
    memcpy(&v, buf, sizeof v);
    if (v == 0) {
      errno = EINVAL;
      return -1;
    }
  }
  return SHIM_NOT_MINE;
}
