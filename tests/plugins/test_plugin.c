/* tests/plugins/test_plugin.c: transport plugins for tests/plugin_test.cc.
 *
 * One source, built into several shared objects by tests/CMakeLists.txt.
 * Without switches it is "plugin_pipe", a correct STREAM transport over an
 * anonymous pipe. Each switch makes one deliberately broken variant:
 *
 *   TEST_PLUGIN_DROP4096          send() silently drops sends of 4096 bytes
 *   TEST_PLUGIN_NO_ENTRY          exports no ipcspec_transport_v1
 *   TEST_PLUGIN_ENTRY_NULL        ipcspec_transport_v1() returns NULL
 *   TEST_PLUGIN_ABI_V2            abi_version is 2
 *   TEST_PLUGIN_NULL_NAME         name is NULL
 *   TEST_PLUGIN_NULL_RECV         recv is NULL
 *   TEST_PLUGIN_NAME_CLASH        named "pipe", like a built-in transport
 *   TEST_PLUGIN_CONTRADICTORY     atomic_write without IPCSPEC_MULTI_WRITER
 *   TEST_PLUGIN_CRASH_IN_ENTRY    ipcspec_transport_v1() raises SIGSEGV
 *   TEST_PLUGIN_CRASH_IN_CREATE   create() raises SIGSEGV
 *   TEST_PLUGIN_HANG_IN_RECV      recv() never returns
 *   TEST_PLUGIN_NOISY             DROP4096, and every send() prints bytes that are
 *                                 not UTF-8 and control characters to stderr; its
 *                                 entry point prints a line to stdout
 *   TEST_PLUGIN_OVERRUN           recv() reads up to 16 bytes more than its buffer holds
 *                                 (and reports no more than cap of them)
 *   TEST_PLUGIN_SCRIBBLE          send() encodes the caller's buffer in place (XOR) and
 *                                 recv() decodes: what arrives is right, but the const
 *                                 buffer send() was given is changed
 *   TEST_PLUGIN_DEFERRED          send() keeps the caller's pointer and writes its bytes
 *                                 at the next send() or close() (a batching transport
 *                                 that copies too late)
 *   TEST_PLUGIN_EINTR_COUNT       a wait interrupted by a caught signal makes send() give
 *                                 -EINTR, forgetting the bytes it already wrote (the
 *                                 caller's retry sends them again)
 *   TEST_PLUGIN_EINTR_RESTART     a wait interrupted by a caught signal starts over with
 *                                 the whole timeout (signals that keep coming keep a
 *                                 bounded call from ever returning)
 *   TEST_PLUGIN_EINTR_TIMEOUT     a wait interrupted by a caught signal is taken for the
 *                                 end of the timeout: -ETIMEDOUT, early
 *   TEST_PLUGIN_OPEN_DRAINS       the reader's open() throws away what is in the pipe ("stale
 *                                 data"): what a writer sent before the reader came is lost
 *   TEST_PLUGIN_HEAP_PER_SEND     send() copies each message into a frame it never frees
 *   TEST_PLUGIN_STATIC_FD         keeps the descriptor of the end of each role it opened
 *                                 last in a static, which every end of that role uses: a
 *                                 process with ends on two channels mixes them up
 *   TEST_PLUGIN_ALARM_TIMEOUT     recv() bounds its wait with a SIGALRM handler and
 *                                 ITIMER_REAL, and leaves both behind when data comes first
 *   TEST_PLUGIN_ONE_LOCK          one process-wide mutex around every send() and recv(),
 *                                 held while a call sleeps: a process whose one thread
 *                                 waits in recv() cannot send from another
 *   TEST_PLUGIN_UNBOUNDED_SHORT   a call with timeout -1 waits at most 50 ms, then gives
 *                                 -ETIMEDOUT ("as long as it takes" as a short default)
 *   TEST_PLUGIN_LEAK_CHANNEL      destroy() closes the channel's descriptors but never frees
 *                                 its memory
 *   TEST_PLUGIN_LEAK_SYSV         create() also makes a System V message queue (IPC_PRIVATE)
 *                                 that nothing ever removes
 *   TEST_PLUGIN_HANG_IN_CREATE    create() never returns (a broker it waits for never answers)
 *   TEST_PLUGIN_HANG_IN_OPEN      the reader's open() never returns
 *   TEST_PLUGIN_RETURNS_COUNT     recv() returns the byte count, as read(2) does, instead of 0
 *   TEST_PLUGIN_COUNTS_QUEUED     recv() sets *received to what the pipe held before the read
 *                                 (FIONREAD), not to what it read
 *   TEST_PLUGIN_RAISES_SIGPIPE    send() writes with plain write(2): a reader gone, it returns
 *                                 -EPIPE in the harness, which catches SIGPIPE, where a
 *                                 program that keeps SIGPIPE's default action dies of it
 *
 * Every variant but NAME_CLASH is named by its target: TEST_PLUGIN_NAME,
 * e.g. "plugin_drop4096" (default "plugin_pipe").
 *
 * C11, libc, <ipcspec/plugin.h> and the quirks' quirk_util.h only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ipcspec/plugin.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "quirk_util.h"

#ifdef TEST_PLUGIN_NOISY
#define TEST_PLUGIN_DROP4096
#endif

#if defined(TEST_PLUGIN_EINTR_COUNT) || defined(TEST_PLUGIN_EINTR_RESTART)
#define TP_WAIT_GIVES_EINTR /* wait_fd() gives -EINTR; what the caller makes of it is the bug */
#endif

/* Some variants leave parts unused; that is the point of them. */
#define TP_STATIC static __attribute__((unused))

#if defined(TEST_PLUGIN_NAME_CLASH)
#undef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "pipe"
#elif !defined(TEST_PLUGIN_NAME)
#define TEST_PLUGIN_NAME "plugin_pipe"
#endif

typedef struct {
  int fds[2]; /* [0] read end, [1] write end; -1 once detached */
} pipe_channel;

typedef struct {
  int fd;
  int role;
#ifdef TEST_PLUGIN_DEFERRED
  const char* pending; /* the bug: the caller's buffer, read after send() returned */
  size_t pending_len;
#endif
} pipe_end;

#ifdef TEST_PLUGIN_STATIC_FD
/* The bug: one descriptor per role for the whole process. */
static int g_last_fd[2] = {-1, -1};
#define END_FD(end) (g_last_fd[(end)->role])
#else
#define END_FD(end) ((end)->fd)
#endif

#ifdef TEST_PLUGIN_HEAP_PER_SEND
static void* volatile g_last_frame __attribute__((unused));
#endif
#ifdef TEST_PLUGIN_LEAK_CHANNEL
static void* volatile g_leaked_channel __attribute__((unused));
#endif

TP_STATIC void set_err(char* err, size_t err_len, const char* what) {
  if (err != NULL && err_len > 0) snprintf(err, err_len, "%s: %s", what, strerror(errno));
}

TP_STATIC void* pipe_create(const char* scratch_dir, char* err, size_t err_len) {
  (void)scratch_dir;
#ifdef TEST_PLUGIN_CRASH_IN_CREATE
  raise(SIGSEGV);
#endif
#ifdef TEST_PLUGIN_HANG_IN_CREATE
  for (;;) pause();
#endif
#ifdef TEST_PLUGIN_LEAK_SYSV
  (void)msgget(IPC_PRIVATE, IPC_CREAT | 0600); /* the bug: never removed */
#endif
  pipe_channel* ch = malloc(sizeof *ch);
  if (ch == NULL) {
    set_err(err, err_len, "malloc");
    return NULL;
  }
  if (pipe2(ch->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    set_err(err, err_len, "pipe2");
    free(ch);
    return NULL;
  }
  return ch;
}

/* The descriptor an end of `role` duplicates, or -1 with err set. */
TP_STATIC int pipe_source(const pipe_channel* ch, int role, char* err, size_t err_len) {
  if (role != IPCSPEC_READER && role != IPCSPEC_WRITER) {
    snprintf(err, err_len, "unknown role %d", role);
    return -1;
  }
  const int src = ch->fds[role == IPCSPEC_READER ? 0 : 1];
  if (src < 0) snprintf(err, err_len, "open() after detach()");
  return src;
}

TP_STATIC void* pipe_open(void* channel, int role, char* err, size_t err_len) {
#ifdef TEST_PLUGIN_HANG_IN_OPEN
  while (role == IPCSPEC_READER) pause();
#endif
  const int src = pipe_source(channel, role, err, err_len);
  if (src < 0) return NULL;
  pipe_end* end = calloc(1, sizeof *end);
  if (end == NULL) {
    set_err(err, err_len, "malloc");
    return NULL;
  }
  end->fd = fcntl(src, F_DUPFD_CLOEXEC, 0);
  if (end->fd < 0) {
    set_err(err, err_len, "fcntl(F_DUPFD_CLOEXEC)");
    free(end);
    return NULL;
  }
  end->role = role;
#ifdef TEST_PLUGIN_OPEN_DRAINS
  if (role == IPCSPEC_READER) { /* the bug: a fresh start for the reader */
    char junk[4096];
    while (read(end->fd, junk, sizeof junk) > 0) {
    }
  }
#endif
#ifdef TEST_PLUGIN_STATIC_FD
  g_last_fd[role] = end->fd;
#endif
  return end;
}

TP_STATIC void pipe_detach(void* channel) {
  pipe_channel* ch = channel;
  for (int i = 0; i < 2; ++i) {
    if (ch->fds[i] >= 0) close(ch->fds[i]);
    ch->fds[i] = -1;
  }
}

/* Deadlines are kept in nanoseconds and waits rounded up to whole
   milliseconds, so a bounded wait never ends early. */
TP_STATIC int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for `events` on fd until the deadline (CLOCK_MONOTONIC ns, -1: none).
   Returns 1 when ready, 0 once the deadline has passed, -errno on error. */
TP_STATIC int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int ms = -1;
    if (deadline >= 0) {
      const int64_t left = deadline - now_ns();
      if (left <= 0) return 0;
      const int64_t left_ms = (left + 999999) / 1000000;
      ms = left_ms > 1000000 ? 1000000 : (int)left_ms;
    }
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, ms);
    if (n > 0) return 1; /* POLLERR / POLLHUP: the next read or write says */
#if defined(TP_WAIT_GIVES_EINTR)
    if (n < 0 && errno == EINTR) return -EINTR;
#elif defined(TEST_PLUGIN_EINTR_TIMEOUT)
    if (n < 0 && errno == EINTR) return 0; /* the bug: as if the deadline had passed */
#endif
    if (n < 0 && errno != EINTR) return -errno;
  }
}

/* write(2) to the pipe that raises no SIGPIPE (quirk_util.h's qk_write). */
TP_STATIC ssize_t pipe_write(int fd, const void* buf, size_t len) {
#ifdef TEST_PLUGIN_RAISES_SIGPIPE
  return write(fd, buf, len); /* the bug */
#else
  return qk_write(fd, buf, len);
#endif
}

/* The deadline of a call bounded by timeout_ms (CLOCK_MONOTONIC ns; -1: none). */
TP_STATIC int64_t first_deadline(int timeout_ms) {
#ifdef TEST_PLUGIN_UNBOUNDED_SHORT
  if (timeout_ms < 0) timeout_ms = 50; /* the bug: "as long as it takes" is 50 ms */
#endif
  return timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : -1;
}

/* What a variant makes of wait_fd()'s result r: 1 to wait again (with
 *deadline as it now is); otherwise r stands (0: the timeout). */
TP_STATIC int interrupted(int r, int timeout_ms, int64_t* deadline) {
  (void)timeout_ms;
  (void)deadline;
#if defined(TEST_PLUGIN_EINTR_RESTART)
  if (r == -EINTR) { /* the bug: the whole timeout again */
    *deadline = timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : -1;
    return 1;
  }
#endif
  return r == -EINTR; /* a correct wait goes on until its deadline */
}

#ifdef TEST_PLUGIN_DEFERRED
/* Writes the send that is still pending, whole, blocking. */
TP_STATIC void flush_pending(pipe_end* end) {
  size_t off = 0;
  while (end->pending != NULL && off < end->pending_len) {
    ssize_t n = pipe_write(end->fd, end->pending + off, end->pending_len - off);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno == EAGAIN) {
      struct pollfd p = {end->fd, POLLOUT, 0};
      poll(&p, 1, -1);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  end->pending = NULL;
}
#endif

#ifdef TEST_PLUGIN_ONE_LOCK
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
TP_STATIC int pipe_send_unlocked(void* e, const void* buf, size_t len, size_t* sent,
                                 int timeout_ms);
TP_STATIC int pipe_recv_unlocked(void* e, void* buf, size_t cap, size_t* received, int timeout_ms);
/* The bug: "thread-safe" with one lock, held while the call sleeps. */
TP_STATIC int pipe_send(void* e, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  pthread_mutex_lock(&g_lock);
  int rc = pipe_send_unlocked(e, buf, len, sent, timeout_ms);
  pthread_mutex_unlock(&g_lock);
  return rc;
}
TP_STATIC int pipe_recv(void* e, void* buf, size_t cap, size_t* received, int timeout_ms) {
  pthread_mutex_lock(&g_lock);
  int rc = pipe_recv_unlocked(e, buf, cap, received, timeout_ms);
  pthread_mutex_unlock(&g_lock);
  return rc;
}
#define pipe_send pipe_send_unlocked
#define pipe_recv pipe_recv_unlocked
#endif

TP_STATIC int pipe_send(void* e, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  pipe_end* end = e;
  *sent = 0;
  if (end->role != IPCSPEC_WRITER) return -EBADF;
#ifdef TEST_PLUGIN_DEFERRED
  flush_pending(end);
  end->pending = buf;
  end->pending_len = len;
  *sent = len;
  (void)timeout_ms;
  return 0;
#endif
#ifdef TEST_PLUGIN_SCRIBBLE
  for (size_t i = 0; i < len; ++i) ((unsigned char*)buf)[i] ^= 0x5a; /* the bug: in place */
#endif
#ifdef TEST_PLUGIN_NOISY
  fputs("noisy: \x01\x02\x1b[31m <&>\"' \xff\xfe \xc3 \xe2\x82 \xed\xa0\x80 end\n", stderr);
#endif
#ifdef TEST_PLUGIN_HEAP_PER_SEND
  {
    char* frame = malloc(len + sizeof(size_t));
    if (frame != NULL) {
      memcpy(frame, &len, sizeof len);
      if (len > 0) memcpy(frame + sizeof len, buf, len);
    }
    g_last_frame = frame; /* the bug: the previous frame is never freed */
  }
#endif
#ifdef TEST_PLUGIN_DROP4096
  if (len == 4096) { /* the bug: reports success, writes nothing */
    *sent = len;
    return 0;
  }
#endif
  int64_t deadline = first_deadline(timeout_ms);
  const char* p = buf;
  while (*sent < len) {
    ssize_t n = pipe_write(END_FD(end), p + *sent, len - *sent);
    if (n >= 0) {
      *sent += (size_t)n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return *sent > 0 ? 0 : -errno;
    if (timeout_ms == 0) return *sent > 0 ? 0 : -EAGAIN;
    int r = wait_fd(END_FD(end), POLLOUT, deadline);
#ifdef TEST_PLUGIN_EINTR_COUNT
    if (r == -EINTR) { /* the bug: what was written is forgotten */
      *sent = 0;
      return -EINTR;
    }
#endif
    if (interrupted(r, timeout_ms, &deadline)) continue;
    if (r < 0) return *sent > 0 ? 0 : r;
    if (r == 0) return *sent > 0 ? 0 : -ETIMEDOUT;
  }
  return 0;
}

#ifdef TEST_PLUGIN_ALARM_TIMEOUT
static void on_alarm(int sig) { (void)sig; }
/* Arms a one-shot SIGALRM for the timeout, to cut a blocking wait short. */
TP_STATIC void arm_alarm(int timeout_ms) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = timeout_ms / 1000;
  it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
  setitimer(ITIMER_REAL, &it, NULL);
}
#endif

TP_STATIC int pipe_recv(void* e, void* buf, size_t cap, size_t* received, int timeout_ms) {
  pipe_end* end = e;
  *received = 0;
  if (end->role != IPCSPEC_READER) return -EBADF;
#ifdef TEST_PLUGIN_ALARM_TIMEOUT
  if (timeout_ms > 0) arm_alarm(timeout_ms); /* the bug: never disarmed, never restored */
#endif
#ifdef TEST_PLUGIN_HANG_IN_RECV
  for (;;) pause();
#endif
  int64_t deadline = first_deadline(timeout_ms);
  for (;;) {
#ifdef TEST_PLUGIN_OVERRUN
    ssize_t n = read(END_FD(end), buf, cap + 16); /* the bug: a bound off by 16 */
    if (n > (ssize_t)cap) n = (ssize_t)cap;
#else
#ifdef TEST_PLUGIN_COUNTS_QUEUED
    int queued = 0; /* the bug: counted before the read, added to what it read */
    if (ioctl(END_FD(end), FIONREAD, &queued) != 0) queued = 0;
#endif
    ssize_t n = read(END_FD(end), buf, cap);
#ifdef TEST_PLUGIN_COUNTS_QUEUED
    queued -= n > 0 ? (int)n : 0;
#endif
#endif
    if (n > 0) {
#ifdef TEST_PLUGIN_SCRIBBLE
      for (ssize_t i = 0; i < n; ++i) ((unsigned char*)buf)[i] ^= 0x5a;
#endif
      *received = (size_t)n;
#ifdef TEST_PLUGIN_COUNTS_QUEUED
      *received = (size_t)n + (size_t)queued;
#endif
#ifdef TEST_PLUGIN_RETURNS_COUNT
      return (int)n;
#endif
      return 0;
    }
    if (n == 0) return cap == 0 ? 0 : IPCSPEC_END;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    if (timeout_ms == 0) return -EAGAIN;
    int r = wait_fd(END_FD(end), POLLIN, deadline);
    if (interrupted(r, timeout_ms, &deadline)) continue;
    if (r < 0) return r;
    if (r == 0) return -ETIMEDOUT;
  }
}

TP_STATIC void pipe_close(void* e) {
  pipe_end* end = e;
#ifdef TEST_PLUGIN_DEFERRED
  if (end->role == IPCSPEC_WRITER) flush_pending(end);
#endif
#ifdef TEST_PLUGIN_STATIC_FD
  if (g_last_fd[end->role] == end->fd) g_last_fd[end->role] = -1;
#endif
  close(end->fd);
  free(end);
}

TP_STATIC void pipe_destroy(void* channel) {
  pipe_detach(channel);
#ifdef TEST_PLUGIN_LEAK_CHANNEL
  g_leaked_channel = channel; /* the bug: the channel's memory is never freed */
#else
  free(channel);
#endif
}

#ifdef TEST_PLUGIN_ONE_LOCK
#undef pipe_send
#undef pipe_recv
#endif

#ifdef TEST_PLUGIN_ABI_V2
#define TEST_PLUGIN_ABI 2u
#else
#define TEST_PLUGIN_ABI IPCSPEC_ABI_VERSION
#endif

#ifdef TEST_PLUGIN_NULL_NAME
#define TEST_PLUGIN_NAME_FIELD NULL
#else
#define TEST_PLUGIN_NAME_FIELD TEST_PLUGIN_NAME
#endif

#ifdef TEST_PLUGIN_CONTRADICTORY
#define TEST_PLUGIN_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE)
#else
#define TEST_PLUGIN_FLAGS \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_MULTI_WRITER)
#endif

#ifdef TEST_PLUGIN_NULL_RECV
#define TEST_PLUGIN_RECV NULL
#else
#define TEST_PLUGIN_RECV pipe_recv
#endif

TP_STATIC const ipcspec_transport kTransport = {
    TEST_PLUGIN_ABI,
    TEST_PLUGIN_NAME_FIELD,
    {IPCSPEC_STREAM, IPCSPEC_ONE_WAY, TEST_PLUGIN_FLAGS, 0,
     /*max_message=*/0, /*capacity=*/65536, /*atomic_write=*/4096, /*max_queued=*/0},
    pipe_create,
    pipe_open,
    pipe_detach,
    pipe_send,
    TEST_PLUGIN_RECV,
    pipe_close,
    pipe_destroy,
};

#ifdef TEST_PLUGIN_NO_ENTRY
/* Exports something, but not the entry point. */
const ipcspec_transport* ipcspec_transport_v0(void) { return &kTransport; }
#else
const ipcspec_transport* ipcspec_transport_v1(void) {
#if defined(TEST_PLUGIN_CRASH_IN_ENTRY)
  raise(SIGSEGV);
  return &kTransport;
#elif defined(TEST_PLUGIN_ENTRY_NULL)
  return NULL;
#else
#if defined(TEST_PLUGIN_NOISY)
  fputs("noisy plugin: loaded\n", stdout); /* not into `list --format=json` */
  fflush(stdout);
#endif
  return &kTransport;
#endif
}
#endif
