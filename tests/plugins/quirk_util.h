/* tests/plugins/quirk_util.h: what the correct-but-unusual transports
 * (quirk_*.c) share: deadlines from the ABI's timeout_ms, waiting on a
 * descriptor or a futex in shared memory until a deadline, and records over
 * an AF_UNIX SOCK_SEQPACKET socket, each carrying a 1-byte header so that an
 * empty message is never mistaken for end of stream.
 *
 *   int64_t d = qk_deadline(timeout_ms);      // -1 none, 0 do not block
 *   int rc = qk_seq_send(fd, buf, len, d);    // 0, -EPIPE, -EAGAIN, -ETIMEDOUT
 *   rc = qk_seq_recv(fd, buf, cap, &got, d, QK_KEEP);
 *
 * C11 with GNU extensions, libc and <ipcspec/plugin.h> only; every function
 * is static, so each transport carries its own copy.
 */
#ifndef IPCSPEC_TESTS_PLUGINS_QUIRK_UTIL_H_
#define IPCSPEC_TESTS_PLUGINS_QUIRK_UTIL_H_

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ipcspec/plugin.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define QK_UNUSED __attribute__((unused))

/* Entry point and name: a plugin build exports ipcspec_transport_v1; the
   built-in test build (tests/support) gives each its own symbol. */
#ifndef QUIRK_ENTRY
#define QUIRK_ENTRY ipcspec_transport_v1
#endif

/* The transport's table and its entry point, QUIRK_ENTRY. The file defines
   qk_create, qk_open, qk_send, qk_recv and qk_end_close, and names its detach
   and destroy; the rest are the capabilities' fields in their order:
     QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, IPCSPEC_ONE_WAY,
                         IPCSPEC_ORDERED, 0, max_message, capacity, atomic_write, max_queued)
 */
#define QK_DEFINE_TRANSPORT(detach, destroy, ...)                   \
  static const ipcspec_transport kTransport = {IPCSPEC_ABI_VERSION, \
                                               QUIRK_NAME,          \
                                               {__VA_ARGS__},       \
                                               qk_create,           \
                                               qk_open,             \
                                               detach,              \
                                               qk_send,             \
                                               qk_recv,             \
                                               qk_end_close,        \
                                               destroy};            \
  const ipcspec_transport* QUIRK_ENTRY(void) { return &kTransport; }

static QK_UNUSED void qk_err(char* err, size_t len, const char* what) {
  if (err != NULL && len > 0) snprintf(err, len, "%s: %s", what, strerror(errno));
}

static QK_UNUSED int64_t qk_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* -1: no deadline; 0: do not block; else CLOCK_MONOTONIC ns. */
static QK_UNUSED int64_t qk_deadline(int timeout_ms) {
  if (timeout_ms < 0) return -1;
  if (timeout_ms == 0) return 0;
  return qk_now() + (int64_t)timeout_ms * 1000000;
}

/* What a call that could not complete returns. */
static QK_UNUSED int qk_late(int64_t deadline) { return deadline == 0 ? -EAGAIN : -ETIMEDOUT; }

/* Milliseconds left, rounded up so a wait never ends early; -1 none, 0 passed. */
static QK_UNUSED int qk_left_ms(int64_t deadline) {
  if (deadline < 0) return -1;
  if (deadline == 0) return 0;
  const int64_t left = deadline - qk_now();
  if (left <= 0) return 0;
  const int64_t ms = (left + 999999) / 1000000;
  return ms > 1000000 ? 1000000 : (int)ms;
}

/* Waits for `events` on fd: 1 ready, 0 deadline passed, -errno. */
static QK_UNUSED int qk_wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    const int ms = qk_left_ms(deadline);
    if (ms == 0) return 0;
    struct pollfd p = {fd, events, 0};
    const int n = poll(&p, 1, ms);
    if (n > 0) return 1; /* POLLERR / POLLHUP too: the next call says */
    if (n < 0 && errno != EINTR) return -errno;
  }
}

/* Waits while *word == seen, until woken or the deadline: 0 or -ETIMEDOUT. */
static QK_UNUSED int qk_futex_wait(_Atomic uint32_t* word, uint32_t seen, int64_t deadline) {
  const int ms = qk_left_ms(deadline);
  if (ms == 0) return -ETIMEDOUT;
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  syscall(SYS_futex, (uint32_t*)word, FUTEX_WAIT, seen, ms < 0 ? NULL : &ts, NULL, 0);
  return 0;
}

static QK_UNUSED void qk_futex_wake(_Atomic uint32_t* word) {
  syscall(SYS_futex, (uint32_t*)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* A MAP_SHARED anonymous page, inherited across fork. */
static QK_UNUSED void* qk_shared_page(void) {
  void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static QK_UNUSED int qk_dup(int fd) { return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0); }

static QK_UNUSED void qk_close(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

#define QK_DATA 0x01 /* the record header */

/* Sends one record (header + body) on a non-blocking SOCK_SEQPACKET or
   SOCK_DGRAM socket, waiting for room until the deadline. */
static QK_UNUSED int qk_seq_send(int fd, const void* buf, size_t len, int64_t deadline) {
  unsigned char hdr = QK_DATA;
  struct iovec iov[2] = {{&hdr, 1}, {(void*)buf, len}};
  struct msghdr m = {0};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  for (;;) {
    if (sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EMSGSIZE) return -EMSGSIZE;
    if (errno != EAGAIN) return errno == ECONNRESET || errno == ECONNREFUSED ? -EPIPE : -errno;
    const int r = qk_wait_fd(fd, POLLOUT, deadline);
    if (r < 0) return r;
    if (r == 0) return qk_late(deadline);
  }
}

/* What a receive does with a record that does not fit the buffer. */
enum { QK_KEEP, QK_DROP, QK_CUT /* a bug: returns its first bytes as a success */ };

/* Receives one record: 0 with *got set, IPCSPEC_END (the peer closed, for
   SOCK_SEQPACKET), -EMSGSIZE, -EAGAIN / -ETIMEDOUT or -errno. */
static QK_UNUSED int qk_seq_recv(int fd, void* buf, size_t cap, size_t* got, int64_t deadline,
                                 int policy) {
  *got = 0;
  for (;;) {
    unsigned char hdr = 0;
    const ssize_t n = recv(fd, &hdr, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (n == 0) return IPCSPEC_END;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      const int r = qk_wait_fd(fd, POLLIN, deadline);
      if (r < 0) return r;
      if (r == 0) return qk_late(deadline);
      continue;
    }
    const size_t body = (size_t)n - 1;
    if (body > cap && policy == QK_KEEP) return -EMSGSIZE;
    struct iovec iov[2] = {{&hdr, 1}, {buf, body > cap ? cap : body}};
    struct msghdr m = {0};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    const ssize_t r = recvmsg(fd, &m, MSG_DONTWAIT);
    if (r < 0) return errno == EAGAIN ? qk_late(deadline) : -errno;
    if (body > cap && policy == QK_DROP) return -EMSGSIZE;
    *got = body > cap ? cap : body;
    return 0;
  }
}

/* write(2) to a pipe that raises no SIGPIPE (a caller that leaves SIGPIPE
   at its default action would die of it): blocked for the call, and the one
   a pipe without readers raises taken back unless one was pending before. */
static QK_UNUSED ssize_t qk_write(int fd, const void* buf, size_t len) {
  sigset_t pipe_only, before, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &before);
  const int was_blocked = sigismember(&before, SIGPIPE) == 1;
  const int was_pending =
      was_blocked && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  const ssize_t n = write(fd, buf, len);
  const int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    static const struct timespec now = {0, 0};
    while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR) {
    }
  }
  if (!was_blocked) pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
  errno = err;
  return n;
}

/* A byte-stream send on a non-blocking pipe: takes what fits, waits for
   room until the deadline; 0 once something was taken. */
static QK_UNUSED int qk_pipe_send(int fd, const void* buf, size_t len, size_t* sent,
                                  int64_t deadline) {
  const char* p = buf;
  *sent = 0;
  while (*sent < len) {
    const ssize_t n = qk_write(fd, p + *sent, len - *sent);
    if (n >= 0) {
      *sent += (size_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return *sent > 0 ? 0 : -errno;
    if (deadline == 0) return *sent > 0 ? 0 : -EAGAIN;
    const int r = qk_wait_fd(fd, POLLOUT, deadline);
    if (r < 0) return *sent > 0 ? 0 : r;
    if (r == 0) return *sent > 0 ? 0 : -ETIMEDOUT;
  }
  return 0;
}

/* A byte-stream receive on a non-blocking pipe: what is there, or END once
   every write end is closed. */
static QK_UNUSED int qk_pipe_recv(int fd, void* buf, size_t cap, size_t* got, int64_t deadline) {
  *got = 0;
  if (cap == 0) return 0;
  for (;;) {
    const ssize_t n = read(fd, buf, cap);
    if (n > 0) {
      *got = (size_t)n;
      return 0;
    }
    if (n == 0) return IPCSPEC_END;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    const int r = qk_wait_fd(fd, POLLIN, deadline);
    if (r < 0) return r;
    if (r == 0) return qk_late(deadline);
  }
}

/* A pipe or socketpair whose two descriptors are handed out by role. */
typedef struct {
  int fds[2]; /* [IPCSPEC_READER] and [IPCSPEC_WRITER]; -1 once detached */
} qk_pair;

static QK_UNUSED int qk_pipe_pair(qk_pair* p) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  p->fds[IPCSPEC_READER] = fds[0];
  p->fds[IPCSPEC_WRITER] = fds[1];
  return 0;
}

static QK_UNUSED int qk_socket_pair(qk_pair* p, int type) {
  int fds[2];
  if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return -1;
  p->fds[IPCSPEC_READER] = fds[0];
  p->fds[IPCSPEC_WRITER] = fds[1];
  return 0;
}

static QK_UNUSED void qk_pair_close(qk_pair* p) {
  qk_close(&p->fds[0]);
  qk_close(&p->fds[1]);
}

/* The channel of the socketpair quirks: one socketpair of `type` and one
   shared page for what the ends coordinate through. */
typedef struct {
  qk_pair pair;
  void* page;
} qk_chan;

static QK_UNUSED void* qk_chan_create(int type, char* err, size_t err_len) {
  qk_chan* ch = calloc(1, sizeof *ch);
  if (ch == NULL) return NULL;
  ch->page = qk_shared_page();
  if (ch->page == NULL || qk_socket_pair(&ch->pair, type) != 0) {
    qk_err(err, err_len, "socketpair");
    if (ch->page != NULL) munmap(ch->page, 4096);
    free(ch);
    return NULL;
  }
  return ch;
}

/* What every end of a quirk holds; a quirk's end struct begins with it. */
typedef struct {
  int fd, role;
  void* page; /* the channel's shared page, if it has one */
} qk_end;

/* A zeroed end of `size` bytes (a struct that begins with a qk_end) holding
   a duplicate of `src`, the role's descriptor, or NULL with err set (`src`
   is -1 after detach). */
static QK_UNUSED void* qk_end_open(int src, int role, void* page, size_t size, char* err,
                                   size_t err_len) {
  qk_end* e = calloc(1, size);
  if (e == NULL) return NULL;
  e->fd = qk_dup(src);
  if (e->fd < 0) {
    qk_err(err, err_len, "open after detach");
    free(e);
    return NULL;
  }
  e->role = role;
  e->page = page;
  return e;
}

/* An end of a qk_chan (see qk_end_open). */
static QK_UNUSED void* qk_chan_open(void* c, int role, size_t size, char* err, size_t err_len) {
  qk_chan* ch = c;
  return qk_end_open(ch->pair.fds[role], role, ch->page, size, err, err_len);
}

static QK_UNUSED void qk_chan_detach(void* c) { qk_pair_close(&((qk_chan*)c)->pair); }

static QK_UNUSED void qk_chan_destroy(void* c) {
  qk_chan* ch = c;
  qk_pair_close(&ch->pair);
  munmap(ch->page, 4096);
  free(ch);
}

#endif /* IPCSPEC_TESTS_PLUGINS_QUIRK_UTIL_H_ */
