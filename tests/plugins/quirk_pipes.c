/* tests/plugins/quirk_pipes.c: correct but unusual byte-stream and framed
 * transports over anonymous pipes, and their deliberately broken siblings.
 * One source, one build per switch:
 *
 *   QUIRK_KIND_DUPLEX  duplex over two pipes, one each way: STREAM, DUPLEX,
 *                      RELIABLE, ORDERED, PEER_CLOSE, capacity 65536.
 *                      Broken: the reader's end drops the first byte of each
 *                      reply (G-DUPLEX).
 *   QUIRK_KIND_NOEND   no end of stream at all: the reader's end keeps a
 *                      write descriptor of its own pipe, so a read never
 *                      returns 0: STREAM, RELIABLE, ORDERED, MULTI_WRITER,
 *                      no PEER_CLOSE. Broken: declares PEER_CLOSE all the
 *                      same (G-PEER-CRASH).
 *   QUIRK_KIND_QUIETEND  a plain pipe that reports end of stream once every
 *                      writer has closed without promising it: STREAM,
 *                      RELIABLE, ORDERED, MULTI_WRITER, no PEER_CLOSE
 *                      (plugin.h allows END then); it refuses a send of
 *                      more than 100,000 bytes (max_message, which a
 *                      stream may declare). Broken: once data has
 *                      come, reports END whenever the pipe is empty
 *                      (G-MODEL).
 *   QUIRK_KIND_FRAMES  length-prefixed frames over a pipe: MESSAGE, a 4-byte
 *                      header per message (so 16384 empty messages fill the
 *                      64 KiB pipe), capacity 65532, max_message 4092 (a
 *                      frame is one atomic write); a receive buffer too small
 *                      for the frame gives -EMSGSIZE and skips the frame
 *                      (neither SHORT_RECV flag is declared). Broken:
 *                      declares IPCSPEC_EXACT_CAPACITY (G-BACKPRESSURE).
 *   QUIRK_KIND_BIGFRAMES  broken only: FRAMES with messages up to 4096
 *                      bytes, so that a frame of more than 4092 is a pipe
 *                      write past PIPE_BUF, sent in pieces as room comes; it
 *                      claims atomic_write 4096 all the same, forgetting the
 *                      header, and two writers that wait for room interleave
 *                      such frames (G-MULTI-WRITER, under pressure). No
 *                      correct sibling: a writer killed inside such a frame
 *                      leaves the pipe out of step for the others.
 *   QUIRK_KIND_LOSSYSTREAM  a plain pipe that does not promise RELIABLE (a
 *                      stream may then stop short) yet loses nothing:
 *                      STREAM, ORDERED, MULTI_WRITER, PEER_CLOSE, capacity
 *                      65536. Broken: a send that finds the pipe full is
 *                      dropped and reported sent, so what arrives has a
 *                      hole instead of being a prefix (G-BACKPRESSURE).
 *   QUIRK_KIND_PARTIAL  a plain pipe whose send takes what fits and returns
 *                      at once with that count, waiting only while nothing
 *                      fits: STREAM, RELIABLE, ORDERED, MULTI_WRITER,
 *                      PEER_CLOSE, capacity 65536 (plugin.h: a STREAM
 *                      transport may send part of the buffer).
 *   QUIRK_KIND_HANDOFF  FRAMES whose writes a thread of the writer's end
 *                      makes: send() copies the message into a job it
 *                      allocates, hands it over and waits for the verdict;
 *                      the thread writes the frame and frees the job. A
 *                      refusal then leaves a freed chunk in the thread's
 *                      malloc cache, which the sender's thread counts as
 *                      held (a cache, bounded). Broken: the thread frees
 *                      only a job it wrote, so every refused send leaks its
 *                      copy (G-FULL).
 *   QUIRK_KIND_DOORBELL  FRAMES with a doorbell (an eventfd) that every
 *                      writer's end rings as it opens and as it closes, as
 *                      a transport that keeps count of its writers would;
 *                      the reader's wait for a frame also wakes on it,
 *                      takes the rings and waits on until its deadline.
 *                      Broken: it waits on for the caller's whole timeout
 *                      again, so each writer that comes or goes starts the
 *                      bound anew (G-TIMEOUT).
 *   QUIRK_KIND_ROOMBELL  DOORBELL whose writers' waits for room also wake on
 *                      the doorbell, take its rings and wait on until their
 *                      deadline. Broken: a send waits on for the caller's
 *                      whole timeout again after each ring (G-TIMEOUT: a
 *                      send into the full channel while writers come and
 *                      go).
 *   QUIRK_KIND_FETCH   FRAMES whose reads a thread of the reader's end makes:
 *                      a bounded recv() asks the thread for the next frame
 *                      and waits for it; once the bound has passed it tells
 *                      the thread to stop (an eventfd the thread's poll
 *                      also watches), waits for a read the thread may have
 *                      begun meanwhile, and returns that frame if there is
 *                      one, else -ETIMEDOUT. Broken: it reports the timeout
 *                      without looking, so a frame that came just as the
 *                      bound ran out is taken and dropped (G-TIMEOUT-RACE).
 *   QUIRK_KIND_PUSH    the mirror: FRAMES whose writes a thread of the
 *                      writer's end makes, which a bounded send that has
 *                      timed out withdraws the same way, reporting the frame
 *                      sent if the thread wrote it meanwhile. Broken: it
 *                      reports the timeout without looking, so a frame
 *                      written as the reader made room just as the bound
 *                      ran out arrives though its send said it was not sent
 *                      (G-TIMEOUT-RACE-SEND).
 */
/* quirk_util.h first, for its _GNU_SOURCE */
/* clang-format off */
#include "quirk_util.h"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
/* clang-format on */

typedef struct {
  qk_pair fwd, back; /* fwd: writer -> reader; back: reader -> writer (DUPLEX) */
  int bell;          /* DOORBELL: the eventfd writers ring; -1 otherwise */
} channel;

/* HANDOFF: a message on its way to the writer's thread. */
typedef struct {
  int64_t deadline;
  size_t len;
  unsigned char data[];
} job;

typedef struct {
  int in, out, role; /* descriptors this end reads and writes; -1 if none */
  int keep;          /* NOEND: the reader's own write end of its pipe */
  int bell;          /* DOORBELL: the channel's doorbell; -1 otherwise */
  int had_data;      /* broken QUIETEND: a receive has returned data */
  /* HANDOFF, a writer's end: its thread, and the job it is given. */
  int has_thread, stop, done, rc;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  job* pending;
  /* FETCH (a reader's end), PUSH (a writer's end): what its thread is asked
     to do, and the eventfd that withdraws a request. */
  int work, cancel;
  void* buf;
  size_t cap, got;
} end;

#if defined(QUIRK_KIND_DUPLEX)
#define QK_FRAMING IPCSPEC_STREAM
#define QK_DIRECTION IPCSPEC_DUPLEX
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE)
#define QK_MAX_MESSAGE 0
#define QK_CAPACITY 65536
#define QK_ATOMIC 0
#elif defined(QUIRK_KIND_NOEND)
#define QK_FRAMING IPCSPEC_STREAM
#define QK_DIRECTION IPCSPEC_ONE_WAY
#ifdef QUIRK_BROKEN
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE)
#else
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER)
#endif
#define QK_MAX_MESSAGE 0
#define QK_CAPACITY 65536
#define QK_ATOMIC 4096
#elif defined(QUIRK_KIND_QUIETEND)
#define QK_FRAMING IPCSPEC_STREAM
#define QK_DIRECTION IPCSPEC_ONE_WAY
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER)
#define QK_MAX_MESSAGE 100000
#define QK_CAPACITY 65536
#define QK_ATOMIC 4096
#elif defined(QUIRK_KIND_FRAMES) || defined(QUIRK_KIND_HANDOFF) || defined(QUIRK_KIND_DOORBELL) || \
    defined(QUIRK_KIND_FETCH) || defined(QUIRK_KIND_PUSH) || defined(QUIRK_KIND_ROOMBELL)
#define QK_FRAMING IPCSPEC_MESSAGE
#define QK_DIRECTION IPCSPEC_ONE_WAY
#if defined(QUIRK_KIND_FRAMES) && defined(QUIRK_BROKEN)
#define QK_FLAGS                                                                    \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE | \
   IPCSPEC_EXACT_CAPACITY)
#else
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE)
#endif
#define QK_HEADER 4
#define QK_MAX_MESSAGE (4096 - QK_HEADER)
#define QK_CAPACITY (65536 - QK_HEADER)
#define QK_ATOMIC QK_MAX_MESSAGE
#define QK_FRAMES 1
#if defined(QUIRK_KIND_HANDOFF)
#define QK_HANDOFF 1
#elif defined(QUIRK_KIND_DOORBELL)
#define QK_DOORBELL 1
#elif defined(QUIRK_KIND_ROOMBELL)
#define QK_DOORBELL 1
#define QK_ROOMBELL 1
#elif defined(QUIRK_KIND_FETCH)
#define QK_WORKER 1
#define QK_WORKER_READS 1
#elif defined(QUIRK_KIND_PUSH)
#define QK_WORKER 1
#define QK_WORKER_WRITES 1
#endif
#elif defined(QUIRK_KIND_BIGFRAMES)
#define QK_FRAMING IPCSPEC_MESSAGE
#define QK_DIRECTION IPCSPEC_ONE_WAY
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE)
#define QK_HEADER 4
#define QK_MAX_MESSAGE 4096
#define QK_CAPACITY (65536 - QK_HEADER)
#define QK_ATOMIC QK_MAX_MESSAGE /* the bug: a frame of 4096 is a write of 4100 */
#define QK_FRAMES 1
#elif defined(QUIRK_KIND_LOSSYSTREAM)
#define QK_FRAMING IPCSPEC_STREAM
#define QK_DIRECTION IPCSPEC_ONE_WAY
#define QK_FLAGS (IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE)
#define QK_MAX_MESSAGE 0
#define QK_CAPACITY 65536
#define QK_ATOMIC 4096
#elif defined(QUIRK_KIND_PARTIAL)
#define QK_FRAMING IPCSPEC_STREAM
#define QK_DIRECTION IPCSPEC_ONE_WAY
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE)
#define QK_MAX_MESSAGE 0
#define QK_CAPACITY 65536
#define QK_ATOMIC 4096
#else
#error "define one QUIRK_KIND_*"
#endif

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  (void)scratch;
  channel* ch = calloc(1, sizeof *ch);
  if (ch == NULL) return NULL;
  ch->back.fds[0] = ch->back.fds[1] = -1;
  ch->bell = -1;
  if (qk_pipe_pair(&ch->fwd) != 0 ||
      (QK_DIRECTION == IPCSPEC_DUPLEX && qk_pipe_pair(&ch->back) != 0)) {
    qk_err(err, err_len, "pipe2");
    qk_pair_close(&ch->fwd);
    free(ch);
    return NULL;
  }
#if defined(QK_DOORBELL)
  ch->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ch->bell < 0) {
    qk_err(err, err_len, "eventfd");
    qk_pair_close(&ch->fwd);
    free(ch);
    return NULL;
  }
#endif
  return ch;
}

#if defined(QK_DOORBELL)
static void ring(int bell) {
  const uint64_t one = 1;
  if (bell >= 0) (void)!write(bell, &one, sizeof one);
}
#endif

#if defined(QK_HANDOFF)
static int handoff_start(end* e);
static void handoff_stop(end* e);
#endif
#if defined(QK_WORKER)
#if defined(QK_WORKER_READS)
#define QK_WORKER_ROLE IPCSPEC_READER /* the end whose calls its thread makes */
#else
#define QK_WORKER_ROLE IPCSPEC_WRITER
#endif
static int worker_start(end* e);
static void worker_stop(end* e);
#endif

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  channel* ch = c;
  end* e = calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  e->role = role;
  e->keep = -1;
  e->cancel = -1;
  e->bell = qk_dup(ch->bell);
  if (role == IPCSPEC_WRITER) {
    e->out = qk_dup(ch->fwd.fds[IPCSPEC_WRITER]);
    e->in = qk_dup(ch->back.fds[IPCSPEC_READER]);
  } else {
    e->in = qk_dup(ch->fwd.fds[IPCSPEC_READER]);
    e->out = qk_dup(ch->back.fds[IPCSPEC_WRITER]);
#if defined(QUIRK_KIND_NOEND)
    e->keep = qk_dup(ch->fwd.fds[IPCSPEC_WRITER]); /* so no read ever returns 0 */
#endif
  }
  if ((role == IPCSPEC_WRITER ? e->out : e->in) < 0) {
    qk_err(err, err_len, "open after detach");
    qk_close(&e->in);
    qk_close(&e->out);
    qk_close(&e->bell);
    free(e);
    return NULL;
  }
#if defined(QK_DOORBELL)
  if (role == IPCSPEC_WRITER) ring(e->bell);
#endif
#if defined(QK_HANDOFF)
  if (role == IPCSPEC_WRITER && handoff_start(e) != 0) {
    qk_err(err, err_len, "pthread_create");
    qk_close(&e->out);
    qk_close(&e->in);
    free(e);
    return NULL;
  }
#endif
#if defined(QK_WORKER)
  if (role == QK_WORKER_ROLE && worker_start(e) != 0) {
    qk_err(err, err_len, "eventfd or pthread_create");
    qk_close(&e->out);
    qk_close(&e->in);
    free(e);
    return NULL;
  }
#endif
  return e;
}

static void qk_detach(void* c) {
  channel* ch = c;
  qk_pair_close(&ch->fwd);
  qk_pair_close(&ch->back);
  qk_close(&ch->bell);
}

#if defined(QK_FRAMES)
/* One frame, header and body. Up to PIPE_BUF bytes it is one write, whole or
   not at all; a larger one (BIGFRAMES) goes in pieces as room comes, and
   once its first piece is in, the rest follows whatever the deadline. */
static int frame_send(int fd, const void* buf, size_t len, int64_t deadline) {
  unsigned char frame[QK_HEADER + QK_MAX_MESSAGE];
  const uint32_t n = (uint32_t)len;
  memcpy(frame, &n, QK_HEADER);
  if (len > 0) memcpy(frame + QK_HEADER, buf, len);
  size_t off = 0;
  while (off < QK_HEADER + len) {
    const ssize_t w = qk_write(fd, frame + off, QK_HEADER + len - off);
    if (w >= 0) {
      off += (size_t)w;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    const int r = qk_wait_fd(fd, POLLOUT, off > 0 ? -1 : deadline);
    if (r < 0) return r;
    if (r == 0) return qk_late(deadline);
  }
  return 0;
}

/* Exactly `len` bytes of a frame whose first bytes have come: the rest is
   in the pipe or on its way (a frame past PIPE_BUF comes in pieces). */
static int read_rest(int fd, void* dst, size_t len) {
  for (size_t done = 0; done < len;) {
    const ssize_t r = read(fd, (char*)dst + done, len - done);
    if (r > 0) {
      done += (size_t)r;
      continue;
    }
    if (r == 0) return IPCSPEC_END; /* every writer closed inside a frame it never finished */
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    const int w = qk_wait_fd(fd, POLLIN, -1);
    if (w < 0) return w;
  }
  return 0;
}

/* The next frame: its header says how much follows, all of it already in
   the pipe (frames are written whole). */
static int frame_recv(int fd, void* buf, size_t cap, size_t* got, int64_t deadline) {
  uint32_t n = 0;
  size_t h = 0;
  const int rc = qk_pipe_recv(fd, &n, QK_HEADER, &h, deadline);
  if (rc != 0) return rc;
  int r = read_rest(fd, (char*)&n + h, QK_HEADER - h);
  if (r != 0) return r;
  if (n > QK_MAX_MESSAGE) return -EIO; /* not a frame: the stream is out of step */
  unsigned char skip[QK_MAX_MESSAGE];
  r = read_rest(fd, n <= cap ? buf : skip, n);
  if (r != 0) return r;
  if (n > cap) return -EMSGSIZE; /* the frame is consumed: the stream stays in step */
  *got = n;
  return 0;
}
#endif

#if defined(QK_DOORBELL)
/* The broken siblings' bug: the whole bound again after each ring, in the
   receive's wait (DOORBELL) or the send's (ROOMBELL). */
#if defined(QUIRK_BROKEN) && defined(QK_ROOMBELL)
#define QK_RECV_WHOLE 0
#define QK_SEND_WHOLE 1
#elif defined(QUIRK_BROKEN)
#define QK_RECV_WHOLE 1
#define QK_SEND_WHOLE 0
#else
#define QK_RECV_WHOLE 0
#define QK_SEND_WHOLE 0
#endif

/* Waits until `fd` is ready for `events` or the doorbell rings (a writer
   came or went: its rings are taken), until the deadline (`whole`: the
   caller's whole timeout again). 1 to look again, 0 at the deadline, or
   -errno. */
static int bell_wait(end* e, int fd, short events, int64_t deadline, int timeout_ms, int whole) {
  const int ms = whole ? timeout_ms : qk_left_ms(deadline);
  if (ms == 0) return 0;
  struct pollfd p[2] = {{fd, events, 0}, {e->bell, POLLIN, 0}};
  const int n = poll(p, 2, ms);
  if (n < 0) return errno == EINTR ? 1 : -errno;
  uint64_t rings;
  if (n > 0 && (p[1].revents & POLLIN) != 0) (void)!read(e->bell, &rings, sizeof rings);
  return n > 0;
}

/* The next frame, waiting for it until the deadline; a ring of the doorbell
   is taken and the wait goes on. */
static int doorbell_recv(end* e, void* buf, size_t cap, size_t* got, int timeout_ms) {
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    const int rc = frame_recv(e->in, buf, cap, got, 0);
    if (rc != -EAGAIN || deadline == 0) return rc == -EAGAIN ? qk_late(deadline) : rc;
    const int r = bell_wait(e, e->in, POLLIN, deadline, timeout_ms, QK_RECV_WHOLE);
    if (r <= 0) return r < 0 ? r : -ETIMEDOUT;
  }
}
#endif

#if defined(QK_ROOMBELL)
/* A frame, waiting for room until the deadline; a ring of the doorbell is
   taken and the wait goes on. A frame is at most PIPE_BUF, so a write of it
   goes whole or not at all. */
static int roombell_send(end* e, const void* buf, size_t len, int timeout_ms) {
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    const int rc = frame_send(e->out, buf, len, 0);
    if (rc != -EAGAIN || deadline == 0) return rc == -EAGAIN ? qk_late(deadline) : rc;
    const int r = bell_wait(e, e->out, POLLOUT, deadline, timeout_ms, QK_SEND_WHOLE);
    if (r <= 0) return r < 0 ? r : -ETIMEDOUT;
  }
}
#endif

/* HANDOFF, FETCH, PUSH: the end threads. */
#include "quirk_pipes_threads.h"

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (e->out < 0) return -EBADF;
  const int64_t deadline = qk_deadline(timeout_ms);
#if defined(QK_HANDOFF)
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int rc = handoff_send(e, buf, len, deadline);
  if (rc == 0) *sent = len;
  return rc;
#elif defined(QK_ROOMBELL)
  (void)deadline;
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int rc = roombell_send(e, buf, len, timeout_ms);
  if (rc == 0) *sent = len;
  return rc;
#elif defined(QK_WORKER_WRITES)
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  return worker_call(e, (void*)buf, len, sent, deadline);
#elif defined(QK_FRAMES)
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int rc = frame_send(e->out, buf, len, deadline);
  if (rc == 0) *sent = len;
  return rc;
#else
#if QK_MAX_MESSAGE > 0
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
#endif
#if defined(QUIRK_KIND_DUPLEX) && defined(QUIRK_BROKEN)
  if (e->role == IPCSPEC_READER && len > 0) { /* the bug: a reply loses its first byte */
    const int rc = qk_pipe_send(e->out, (const char*)buf + 1, len - 1, sent, deadline);
    if (rc == 0) *sent += 1;
    return rc;
  }
#endif
#if defined(QUIRK_KIND_LOSSYSTREAM) && defined(QUIRK_BROKEN)
  ssize_t w;
  do {
    w = qk_write(e->out, buf, len);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && errno == EAGAIN) { /* the bug: "lossy" taken to mean "drop what does not fit" */
    *sent = len;
    return 0;
  }
  if (w < 0) return -errno;
  *sent = (size_t)w;
  if (*sent == len) return 0;
  size_t more = 0;
  const int rc = qk_pipe_send(e->out, (const char*)buf + w, len - *sent, &more, deadline);
  *sent += more;
  return *sent > 0 ? 0 : rc;
#endif
#if defined(QUIRK_KIND_PARTIAL)
  for (;;) {
    const ssize_t w = qk_write(e->out, buf, len);
    if (w >= 0) { /* what fits, at once */
      *sent = (size_t)w;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -errno;
    if (deadline == 0) return -EAGAIN;
    const int r = qk_wait_fd(e->out, POLLOUT, deadline);
    if (r < 0) return r;
    if (r == 0) return -ETIMEDOUT;
  }
#endif
  return qk_pipe_send(e->out, buf, len, sent, deadline);
#endif
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
  if (e->in < 0) return -EBADF;
#if defined(QK_DOORBELL)
  return doorbell_recv(e, buf, cap, got, timeout_ms);
#elif defined(QK_WORKER_READS)
  return worker_call(e, buf, cap, got, qk_deadline(timeout_ms));
#elif defined(QK_FRAMES)
  return frame_recv(e->in, buf, cap, got, qk_deadline(timeout_ms));
#elif defined(QUIRK_KIND_QUIETEND) && defined(QUIRK_BROKEN)
  const int rc = qk_pipe_recv(e->in, buf, cap, got, qk_deadline(timeout_ms));
  if (rc == 0) e->had_data = 1;
  /* the bug: once data came, an empty pipe is taken for the end */
  return (rc == -EAGAIN || rc == -ETIMEDOUT) && e->had_data ? IPCSPEC_END : rc;
#else
  return qk_pipe_recv(e->in, buf, cap, got, qk_deadline(timeout_ms));
#endif
}

static void qk_end_close(void* v) {
  end* e = v;
#if defined(QK_HANDOFF)
  handoff_stop(e);
#endif
#if defined(QK_WORKER)
  worker_stop(e);
#endif
#if defined(QK_DOORBELL)
  if (e->role == IPCSPEC_WRITER) ring(e->bell);
#endif
  qk_close(&e->bell);
  qk_close(&e->in);
  qk_close(&e->out);
  qk_close(&e->keep);
  free(e);
}

static void qk_destroy(void* c) {
  qk_detach(c);
  free(c);
}

QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, QK_FRAMING, QK_DIRECTION, QK_FLAGS, 0,
                    /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/QK_CAPACITY,
                    /*atomic_write=*/QK_ATOMIC, /*max_queued=*/0)
