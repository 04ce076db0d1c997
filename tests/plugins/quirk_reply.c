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
 * QUIRK_KIND_SLOTS: the same, but each writer takes a slot: the first free
 * N, its requests sent from a socket bound to w<N>.sock in the scratch
 * directory, the replies taken on one bound to w<N>.rep; it unlinks both on
 * close, so that a writer that comes later takes the slot of one gone
 * before it. The reader's end replies through a socket per slot, connected
 * to the slot's w<N>.rep once and kept (again when its writer has gone).
 *
 * QUIRK_BROKEN: the reader's end keeps the address of the first sender it
 * heard from, not the last, so every reply goes to that writer (G-REPLY).
 * With QUIRK_KIND_SLOTS instead: a slot's reply socket stays connected to
 * the writer that held the slot first, so a reply to a later writer in that
 * slot is refused (-EPIPE) where it should reconnect (G-REPLY, with writers
 * one after another).
 */
#define _GNU_SOURCE /* before any header: pipe2 in quirk_util.h */
#include <sys/un.h>

#include "quirk_util.h"

#define QK_MAX_MESSAGE 4096
#define QK_SLOTS 64

typedef struct {
  int reader; /* the bound socket; -1 once detached */
  char path[sizeof(((struct sockaddr_un*)0)->sun_path)];
} channel;

typedef struct {
  int fd, role;
  unsigned sends;          /* the reader's end: its sends so far */
  struct sockaddr_un peer; /* the reader's end: whom it answers */
  socklen_t peer_len;      /* 0: nobody has spoken yet */
#ifdef QUIRK_KIND_SLOTS
  const channel* ch;
  int slot, replies;     /* a writer: its slot, and the socket its replies come to */
  int slot_fd[QK_SLOTS]; /* the reader's end: a reply socket per slot, or -1 */
#endif
} end;

#ifdef QUIRK_KIND_SLOTS
/* Slot n's path beside the reader's socket: "<scratch>/w<n>.<kind>". */
static struct sockaddr_un slot_addr(const channel* ch, int n, const char* kind) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  const size_t dir = strlen(ch->path) - strlen("reply.sock");
  snprintf(a.sun_path, sizeof a.sun_path, "%.*sw%d.%s", (int)dir, ch->path, n, kind);
  return a;
}

static int bind_to(int fd, const struct sockaddr_un* a) {
  return bind(fd, (const struct sockaddr*)a, sizeof *a);
}

/* A writer's sockets, bound in the first free slot; the request socket
 * connected to the reader's. */
static int take_slot(const channel* ch, end* e) {
  e->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  e->replies = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  for (int n = 0; e->fd >= 0 && e->replies >= 0 && n < QK_SLOTS; ++n) {
    const struct sockaddr_un req = slot_addr(ch, n, "sock"), rep = slot_addr(ch, n, "rep");
    if (bind_to(e->fd, &req) != 0) {
      if (errno == EADDRINUSE) continue;
      break;
    }
    struct sockaddr_un to = {.sun_family = AF_UNIX};
    memcpy(to.sun_path, ch->path, sizeof to.sun_path);
    if (bind_to(e->replies, &rep) == 0 && connect(e->fd, (struct sockaddr*)&to, sizeof to) == 0) {
      e->slot = n;
      return 0;
    }
    unlink(req.sun_path);
    unlink(rep.sun_path);
    break;
  }
  qk_close(&e->fd);
  qk_close(&e->replies);
  return -1;
}

static void leave_slot(const channel* ch, int n) {
  unlink(slot_addr(ch, n, "sock").sun_path);
  unlink(slot_addr(ch, n, "rep").sun_path);
}

/* The slot a sender's address names, or -1. */
static int slot_of(const struct sockaddr_un* a, socklen_t len) {
  if (len <= sizeof(sa_family_t)) return -1;
  const char* base = strrchr(a->sun_path, '/');
  int n = -1;
  if (base == NULL || sscanf(base, "/w%d.sock", &n) != 1 || n < 0 || n >= QK_SLOTS) return -1;
  return n;
}

/* Send m on slot n's reply socket, connected to the slot's w<n>.rep when
 * it is made; where the writer there has gone (refused), connected again,
 * to whoever holds the slot now. */
static int slot_sendmsg(end* e, int n, struct msghdr* m) {
  int* fd = &e->slot_fd[n];
  const struct sockaddr_un rep = slot_addr(e->ch, n, "rep");
  if (*fd < 0) {
    *fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (*fd < 0) return -1;
    if (connect(*fd, (const struct sockaddr*)&rep, sizeof rep) != 0) {
      qk_close(fd);
      return -1;
    }
  }
  const ssize_t r = sendmsg(*fd, m, MSG_DONTWAIT | MSG_NOSIGNAL);
#ifndef QUIRK_BROKEN
  if (r < 0 && errno == ECONNREFUSED) {
    if (connect(*fd, (const struct sockaddr*)&rep, sizeof rep) != 0) return -1;
    return (int)sendmsg(*fd, m, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
#endif
  return (int)r;
}
#endif

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
#ifdef QUIRK_KIND_SLOTS
  e->ch = ch;
  e->replies = -1;
#endif
  if (role == IPCSPEC_READER) {
    e->fd = qk_dup(ch->reader);
#ifdef QUIRK_KIND_SLOTS
    for (int n = 0; n < QK_SLOTS; ++n) e->slot_fd[n] = -1;
  } else {
    (void)take_slot(ch, e);
#else
  } else {
    struct sockaddr_un self = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
    memcpy(to.sun_path, ch->path, sizeof to.sun_path);
    e->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (e->fd >= 0 && (bind(e->fd, (struct sockaddr*)&self, sizeof(sa_family_t)) != 0 ||
                       connect(e->fd, (struct sockaddr*)&to, sizeof to) != 0)) {
      qk_close(&e->fd);
    }
#endif
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
#ifdef QUIRK_KIND_SLOTS
  for (int n = 0; n < QK_SLOTS; ++n) leave_slot(ch, n); /* a killed writer's */
#endif
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
#if defined(QUIRK_BROKEN) && !defined(QUIRK_KIND_SLOTS)
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
#ifdef QUIRK_KIND_SLOTS
  const int slot = slot_of(&e->peer, e->peer_len);
  if (slot < 0) return -ENOTCONN;
  m.msg_name = NULL;
  m.msg_namelen = 0;
#endif
  for (;;) {
#ifdef QUIRK_KIND_SLOTS
    if (slot_sendmsg(e, slot, &m) >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno == ECONNREFUSED ? -EPIPE : -errno;
    const int r = qk_wait_fd(e->slot_fd[slot], POLLOUT, deadline);
#else
    if (sendmsg(e->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno == ECONNREFUSED ? -EPIPE : -errno;
    const int r = qk_wait_fd(e->fd, POLLOUT, deadline);
#endif
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
#ifdef QUIRK_KIND_SLOTS
  return qk_seq_recv(e->replies, buf, cap, got, deadline, QK_KEEP);
#else
  return qk_seq_recv(e->fd, buf, cap, got, deadline, QK_KEEP);
#endif
}

static void qk_end_close(void* v) {
  end* e = v;
#ifdef QUIRK_KIND_SLOTS
  if (e->role == IPCSPEC_READER) {
    for (int n = 0; n < QK_SLOTS; ++n) qk_close(&e->slot_fd[n]);
  } else {
    leave_slot(e->ch, e->slot);
    close(e->replies);
  }
#endif
  close(e->fd);
  free(e);
}

#ifdef QUIRK_KIND_REPLYLOSSY
#define QK_RELIABLE 0
#else
#define QK_RELIABLE IPCSPEC_RELIABLE
#endif

QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, IPCSPEC_DUPLEX,
                    QK_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_SHORT_RECV_KEEPS,
                    0, /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/0,
                    /*atomic_write=*/QK_MAX_MESSAGE, /*max_queued=*/0)
