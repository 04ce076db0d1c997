/* tests/plugins/quirk_reply.c: a correct but unusual transport whose
 * reader's end answers the last sender, as plugin.h says a datagram reader
 * may: AF_UNIX SOCK_DGRAM, the reader's socket bound to a path in the
 * scratch directory by create(), each writer's end a socket of its own
 * (autobound, connected to that path). Every datagram carries a 1-byte
 * header, as in the other quirks. MESSAGE, DUPLEX, RELIABLE, ORDERED,
 * MULTI_WRITER, max_message 4096.
 *
 * QUIRK_KIND_REPLYLOSSY: the same, but lossy (no RELIABLE): the reader's end
 * loses every third message it sends (reports it sent, sends nothing), as
 * a datagram reply may be lost on a real network.
 *
 * QUIRK_BROKEN: the reader's end keeps the address of the first sender it
 * heard from, not the last, so every reply goes to that writer (G-REPLY).
 */
#define _GNU_SOURCE /* before any header: pipe2 in quirk_util.h */
#include <sys/un.h>

#include "quirk_util.h"

#define QK_MAX_MESSAGE 4096

typedef struct {
  int reader; /* the bound socket; -1 once detached */
  char path[sizeof(((struct sockaddr_un*)0)->sun_path)];
} channel;

typedef struct {
  int fd, role;
  unsigned sends;          /* the reader's end: its sends so far */
  struct sockaddr_un peer; /* the reader's end: whom it answers */
  socklen_t peer_len;      /* 0: nobody has spoken yet */
} end;

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  channel* ch = calloc(1, sizeof *ch);
  if (ch == NULL) return NULL;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (snprintf(ch->path, sizeof ch->path, "%s/reply.sock", scratch) >= (int)sizeof ch->path) {
    snprintf(err, err_len, "scratch directory path too long");
    free(ch);
    return NULL;
  }
  memcpy(a.sun_path, ch->path, sizeof a.sun_path);
  ch->reader = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ch->reader < 0 || bind(ch->reader, (struct sockaddr*)&a, sizeof a) != 0) {
    qk_err(err, err_len, "socket/bind");
    qk_close(&ch->reader);
    free(ch);
    return NULL;
  }
  return ch;
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  channel* ch = c;
  end* e = calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  e->role = role;
  if (role == IPCSPEC_READER) {
    e->fd = qk_dup(ch->reader);
  } else {
    struct sockaddr_un self = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
    memcpy(to.sun_path, ch->path, sizeof to.sun_path);
    e->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (e->fd >= 0 && (bind(e->fd, (struct sockaddr*)&self, sizeof(sa_family_t)) != 0 ||
                       connect(e->fd, (struct sockaddr*)&to, sizeof to) != 0)) {
      qk_close(&e->fd);
    }
  }
  if (e->fd < 0) {
    qk_err(err, err_len, role == IPCSPEC_READER ? "open after detach" : "socket/connect");
    free(e);
    return NULL;
  }
  return e;
}

static void qk_detach(void* c) { qk_close(&((channel*)c)->reader); }

static void qk_destroy(void* c) {
  channel* ch = c;
  qk_close(&ch->reader);
  unlink(ch->path);
  free(ch);
}

/* The reader's receive: the next datagram and who sent it. */
static int reader_recv(end* e, void* buf, size_t cap, size_t* got, int64_t deadline) {
  for (;;) {
    unsigned char hdr = 0;
    const ssize_t n = recv(e->fd, &hdr, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return -errno;
    if (n < 0) {
      const int r = qk_wait_fd(e->fd, POLLIN, deadline);
      if (r < 0) return r;
      if (r == 0) return qk_late(deadline);
      continue;
    }
    const size_t body = n > 0 ? (size_t)n - 1 : 0;
    if (body > cap) return -EMSGSIZE; /* kept, as qk_seq_recv's QK_KEEP */
    struct sockaddr_un from;
    struct iovec iov[2] = {{&hdr, 1}, {buf, body}};
    struct msghdr m = {0};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    if (recvmsg(e->fd, &m, MSG_DONTWAIT) < 0) return errno == EAGAIN ? qk_late(deadline) : -errno;
#ifdef QUIRK_BROKEN
    if (e->peer_len == 0) /* the bug: the first sender is the one it answers */
#endif
    {
      e->peer = from;
      e->peer_len = m.msg_namelen;
    }
    *got = body;
    return 0;
  }
}

/* The reader's send: to the sender it answers; -ENOTCONN before anyone spoke. */
static int reader_send(end* e, const void* buf, size_t len, int64_t deadline) {
  if (e->peer_len == 0) return -ENOTCONN;
#ifdef QUIRK_KIND_REPLYLOSSY
  if (++e->sends % 3 == 0) return 0; /* lost on the way */
#endif
  unsigned char hdr = QK_DATA;
  struct iovec iov[2] = {{&hdr, 1}, {(void*)buf, len}};
  struct msghdr m = {0};
  m.msg_name = &e->peer;
  m.msg_namelen = e->peer_len;
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  for (;;) {
    if (sendmsg(e->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno == ECONNREFUSED ? -EPIPE : -errno;
    const int r = qk_wait_fd(e->fd, POLLOUT, deadline);
    if (r < 0) return r;
    if (r == 0) return qk_late(deadline);
  }
}

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int64_t deadline = qk_deadline(timeout_ms);
  const int rc = e->role == IPCSPEC_READER ? reader_send(e, buf, len, deadline)
                                           : qk_seq_send(e->fd, buf, len, deadline);
  if (rc == 0) *sent = len;
  return rc;
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
  const int64_t deadline = qk_deadline(timeout_ms);
  if (e->role == IPCSPEC_READER) return reader_recv(e, buf, cap, got, deadline);
  return qk_seq_recv(e->fd, buf, cap, got, deadline, QK_KEEP);
}

static void qk_end_close(void* v) {
  end* e = v;
  close(e->fd);
  free(e);
}

#ifdef QUIRK_KIND_REPLYLOSSY
#define QK_RELIABLE 0
#else
#define QK_RELIABLE IPCSPEC_RELIABLE
#endif

QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, IPCSPEC_DUPLEX,
                    QK_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER |
                        IPCSPEC_SHORT_RECV_KEEPS,
                    0, /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/0,
                    /*atomic_write=*/QK_MAX_MESSAGE, /*max_queued=*/0)
