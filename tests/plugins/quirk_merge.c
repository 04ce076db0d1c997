/* tests/plugins/quirk_merge.c: a correct but unusual transport: a byte
 * stream with several writers, each on a connection of its own that the
 * reader merges into one stream. A writer's open makes an AF_UNIX
 * SOCK_SEQPACKET socketpair, passes one side to the reader over the
 * channel's control socketpair (SCM_RIGHTS) and keeps the other. A send goes
 * as records of at most 4096 bytes. The reader takes the connections the
 * control socket brings, reads a record from one, and hands its bytes out
 * over as many receives as that takes before it reads any other connection,
 * so that writes of up to a record (atomic_write 4096) never interleave.
 * END once a connection came, every connection is at EOF (closed, or its
 * writer died) and none waits on the control socket. The reader's close
 * closes every connection, those still on the control socket too: sends
 * then give -EPIPE.
 * STREAM, ONE_WAY, RELIABLE, ORDERED, MULTI_WRITER, PEER_CLOSE.
 *
 * QUIRK_BROKEN: a receive that ends inside a record keeps the rest for
 * later, but the next receive serves the next connection with data first:
 * writes interleave wherever the reader receives less than a record at a
 * time (G-MULTI-WRITER, whose reader receives in drawn sizes).
 */
#define _GNU_SOURCE
#include "quirk_util.h"

#if !defined(QUIRK_KIND_MERGE)
#error "define QUIRK_KIND_MERGE"
#endif

#define QK_RECORD 4096
#define QK_CONNS 256

typedef struct {
  qk_end base; /* reader: the control socket; writer: its connection */
  int conns[QK_CONNS];
  unsigned char* rest[QK_CONNS]; /* a record's bytes not yet handed out */
  size_t rest_len[QK_CONNS], rest_off[QK_CONNS];
  int nconns, cursor, seen;
  int control_gone; /* every process has detached: no writer can come */
} end;

static void* qk_create(const char* scratch_dir, char* err, size_t err_len) {
  (void)scratch_dir;
  return qk_chan_create(SOCK_SEQPACKET, err, err_len);
}

/* Takes every connection waiting on the control socket: 1 if one came. */
static int take_connections(end* e) {
  int came = 0;
  for (;;) {
    unsigned char byte;
    struct iovec iov = {&byte, 1};
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl.buf;
    m.msg_controllen = sizeof ctl.buf;
    const ssize_t n = recvmsg(e->base.fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) e->control_gone = 1; /* a record is one byte: this is EOF */
    if (n <= 0) return came;
    const struct cmsghdr* h = CMSG_FIRSTHDR(&m);
    if (h == NULL || h->cmsg_type != SCM_RIGHTS) continue;
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof fd);
    if (e->nconns == QK_CONNS) {
      close(fd); /* more writers than this quirk keeps: that writer gets EPIPE */
      continue;
    }
    e->conns[e->nconns++] = fd;
    e->seen = 1;
    came = 1;
  }
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  qk_chan* ch = c;
  if (role == IPCSPEC_READER) return qk_chan_open(c, role, sizeof(end), err, err_len);
  int s[2];
  if (ch->pair.fds[IPCSPEC_WRITER] < 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) != 0) {
    qk_err(err, err_len, "socketpair");
    return NULL;
  }
  unsigned char byte = 0;
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.buf;
  m.msg_controllen = sizeof ctl.buf;
  struct cmsghdr* h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &s[0], sizeof(int));
  int rc;
  while ((rc = (int)sendmsg(ch->pair.fds[IPCSPEC_WRITER], &m, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
         (errno == EINTR ||
          (errno == EAGAIN && qk_wait_fd(ch->pair.fds[IPCSPEC_WRITER], POLLOUT, -1) > 0))) {
  }
  close(s[0]);
  if (rc < 0) {
    qk_err(err, err_len, "passing the connection");
    close(s[1]);
    return NULL;
  }
  end* e = calloc(1, sizeof *e);
  if (e == NULL) {
    close(s[1]);
    return NULL;
  }
  e->base.fd = s[1];
  e->base.role = role;
  return e;
}

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (e->base.role != IPCSPEC_WRITER) return -EBADF;
  const int64_t deadline = qk_deadline(timeout_ms);
  const unsigned char* p = buf;
  while (*sent < len) {
    const size_t n = len - *sent < QK_RECORD ? len - *sent : QK_RECORD;
    if (send(e->base.fd, p + *sent, n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      *sent += n;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      if (*sent > 0) return 0;
      return errno == ECONNRESET || errno == ENOTCONN ? -EPIPE : -errno;
    }
    const int r = qk_wait_fd(e->base.fd, POLLOUT, deadline);
    if (r <= 0) return *sent > 0 ? 0 : (r < 0 ? r : qk_late(deadline));
  }
  return 0;
}

/* Hands out up to `cap` bytes of connection i's kept record. */
static size_t hand_out(end* e, int i, unsigned char* buf, size_t cap) {
  const size_t left = e->rest_len[i] - e->rest_off[i];
  const size_t n = left < cap ? left : cap;
  memcpy(buf, e->rest[i] + e->rest_off[i], n);
  e->rest_off[i] += n;
  e->cursor = i;
  return n;
}

/* Reads connection i's next record into its keep: 1 read, 0 nothing there,
   -1 at EOF (the connection is closed and dropped from the scan). */
static int read_record(end* e, int i) {
  if (e->rest[i] == NULL && (e->rest[i] = malloc(QK_RECORD)) == NULL) return 0;
  for (;;) {
    const ssize_t n = recv(e->conns[i], e->rest[i], QK_RECORD, MSG_DONTWAIT);
    if (n > 0) {
      e->rest_len[i] = (size_t)n;
      e->rest_off[i] = 0;
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    qk_close(&e->conns[i]);
    return -1;
  }
}

/* One look at every connection, from where the scan begins: the bytes
   handed out, or 0 with *live set to how many connections are not at EOF. */
static size_t serve(end* e, unsigned char* buf, size_t cap, int* live) {
  const int current = e->cursor;
  const int keeps = e->nconns > 0 && e->rest_off[current] < e->rest_len[current];
#if defined(QUIRK_BROKEN)
  const int start = current + 1;
  (void)keeps;
#else
  const int start = keeps ? current : current + 1;
#endif
  *live = 0;
  for (int k = 0; k < e->nconns; ++k) {
    const int i = (start + k) % e->nconns;
    if (e->rest_off[i] < e->rest_len[i]) return hand_out(e, i, buf, cap);
    if (e->conns[i] < 0) continue;
    const int r = read_record(e, i);
    if (r > 0) return hand_out(e, i, buf, cap);
    if (r == 0) ++*live;
  }
  return 0;
}

/* Waits until the control socket or a live connection has something. */
static int wait_any(end* e, int64_t deadline) {
  struct pollfd p[QK_CONNS + 1];
  nfds_t n = 0;
  if (!e->control_gone) p[n++] = (struct pollfd){e->base.fd, POLLIN, 0};
  for (int i = 0; i < e->nconns; ++i) {
    if (e->conns[i] >= 0) p[n++] = (struct pollfd){e->conns[i], POLLIN, 0};
  }
  for (;;) {
    const int ms = qk_left_ms(deadline);
    if (ms == 0) return 0;
    const int r = poll(p, n, ms);
    if (r > 0) return 1;
    if (r < 0 && errno != EINTR) return -errno;
  }
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
  if (e->base.role != IPCSPEC_READER) return -EBADF;
  if (cap == 0) return 0;
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    take_connections(e);
    int live = 0;
    *got = serve(e, buf, cap, &live);
    if (*got > 0) return 0;
    /* A writer that opened since the first look has passed its connection
       by now: END only once a second look brings none. */
    if (e->seen && live == 0 && !take_connections(e)) return IPCSPEC_END;
    const int r = wait_any(e, deadline);
    if (r < 0) return r;
    if (r == 0) return qk_late(deadline);
  }
}

static void qk_end_close(void* v) {
  end* e = v;
  if (e->base.role == IPCSPEC_READER) {
    take_connections(e); /* so that their writers get EPIPE too */
    for (int i = 0; i < e->nconns; ++i) {
      qk_close(&e->conns[i]);
      free(e->rest[i]);
    }
  }
  qk_close(&e->base.fd);
  free(e);
}

QK_DEFINE_TRANSPORT(qk_chan_detach, qk_chan_destroy, IPCSPEC_STREAM, IPCSPEC_ONE_WAY,
                    IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE,
                    0, /*max_message=*/0, /*capacity=*/0, /*atomic_write=*/QK_RECORD,
                    /*max_queued=*/0)
