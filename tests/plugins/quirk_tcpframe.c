/* tests/plugins/quirk_tcpframe.c: a correct but unusual transport that
 * frames messages over a byte stream the kernel cuts where it likes: each
 * message is a 4-byte length and its body on a private TCP connection over
 * 127.0.0.1. create() connects a socket to a listener on an ephemeral port,
 * accepts exactly that connection and closes the listener: the connecting
 * socket is the writers' side, the accepted one the reader's. As with a
 * pipe, open() duplicates its role's side and detach() drops the channel's,
 * so the reader sees FIN once every writer's descriptor is closed (END),
 * and a writer sees the reader's close as FIN or RST (-EPIPE).
 *
 * A send writes its whole frame or nothing: it asks the kernel (SO_MEMINFO)
 * how much room the send buffer has and writes only when the frame fits,
 * else refuses (-EAGAIN) or waits for POLLOUT. The buffer is at least three
 * frames, so POLLOUT (room for half of what is queued) means a frame fits.
 * The reader keeps the frame it is receiving in its end (header bytes got,
 * body bytes got), so a receive that finds only part of a frame returns
 * -EAGAIN or waits and loses nothing; a frame longer than the buffer gives
 * -EMSGSIZE and stays.
 * MESSAGE, ONE_WAY, RELIABLE, ORDERED, PEER_CLOSE, SHORT_RECV_KEEPS,
 * max_message 4096; no capacity (TCP counts its buffers in truesize).
 *
 * QUIRK_BROKEN: a receive that gets only part of the 4-byte header takes
 * it for the whole, and reads a length half from the last frame (G-REFILL:
 * only where TCP's window cut the stream inside a header).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "quirk_util.h"

#define QK_MAX_MESSAGE 4096u
#define QK_HDR 4u
#define QK_SNDBUF (256 * 1024)

typedef qk_pair channel;

typedef struct {
  qk_end base;
  uint32_t hdr_got, len, body_got; /* the reader's frame in progress */
  unsigned char hdr[QK_HDR];
  unsigned char body[QK_MAX_MESSAGE];
} end;

/* What the kernel charges for a frame: the bytes and an sk_buff or two. */
static size_t frame_cost(size_t len) { return QK_HDR + len + 4096; }

/* The reader has closed its side: FIN (POLLRDHUP) or RST (POLLERR, POLLHUP). */
static int reader_gone(int fd) {
  struct pollfd p = {fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* A connection to ourselves: `*client` connected, `*server` its accepted peer. */
static const char* connect_loopback(int* client, int* server) {
  struct sockaddr_in la = {.sin_family = AF_INET}, ca, pa;
  la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof la;
  const int one = 1, sndbuf = QK_SNDBUF;
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const char* what = NULL;
  *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *server = -1;
  if (lfd < 0 || *client < 0) {
    what = "socket";
  } else if (bind(lfd, (struct sockaddr*)&la, sizeof la) != 0 || listen(lfd, 4) != 0 ||
             getsockname(lfd, (struct sockaddr*)&la, &sl) != 0) {
    what = "listen on 127.0.0.1";
  } else if (setsockopt(*client, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0 ||
             setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    what = "setsockopt";
  } else if (connect(*client, (struct sockaddr*)&la, sizeof la) != 0 ||
             getsockname(*client, (struct sockaddr*)&ca, &(socklen_t){sizeof ca}) != 0) {
    what = "connect";
  }
  /* Our own connection only: anything else that raced in is closed. */
  while (what == NULL) {
    *server = accept4(lfd, (struct sockaddr*)&pa, &(socklen_t){sizeof pa}, SOCK_CLOEXEC);
    if (*server < 0 && errno != EINTR && errno != ECONNABORTED) what = "accept";
    if (*server < 0) continue;
    if (pa.sin_port == ca.sin_port && pa.sin_addr.s_addr == ca.sin_addr.s_addr) break;
    qk_close(server);
  }
  if (lfd >= 0) close(lfd);
  return what;
}

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  (void)scratch;
  int client = -1, server = -1, got = 0;
  const char* what = connect_loopback(&client, &server);
  if (what == NULL &&
      (getsockopt(client, SOL_SOCKET, SO_SNDBUF, &got, &(socklen_t){sizeof got}) != 0 ||
       (size_t)got / 3 < frame_cost(QK_MAX_MESSAGE))) {
    what = "a send buffer of three frames";
  }
  channel* ch = what == NULL ? calloc(1, sizeof *ch) : NULL;
  if (ch == NULL) {
    qk_err(err, err_len, what != NULL ? what : "calloc");
    if (client >= 0) close(client);
    if (server >= 0) close(server);
    return NULL;
  }
  ch->fds[IPCSPEC_READER] = server;
  ch->fds[IPCSPEC_WRITER] = client;
  return ch;
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  return qk_end_open(((channel*)c)->fds[role], role, NULL, sizeof(end), err, err_len);
}

static void qk_detach(void* c) { qk_pair_close(c); }

static void qk_destroy(void* c) {
  qk_pair_close(c);
  free(c);
}

static void qk_end_close(void* p) {
  end* e = p;
  close(e->base.fd);
  free(e);
}

/* Room in the send buffer as the kernel counts it (below 0 once what is
   queued has passed the buffer's size), or -errno through *err. */
static long send_room(int fd, int* err) {
  uint32_t mi[SK_MEMINFO_VARS];
  socklen_t l = sizeof mi;
  *err = getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &l) != 0 ? -errno : 0;
  return (long)mi[SK_MEMINFO_SNDBUF] - (long)mi[SK_MEMINFO_WMEM_QUEUED];
}

/* The rest of a frame the kernel took only in part (the room was checked,
   so only global TCP memory pressure does that): a half frame would
   corrupt every later one, so it is finished whatever the timeout. */
static int finish_frame(int fd, const unsigned char* frame, size_t len, size_t done) {
  while (done < len) {
    const ssize_t n = send(fd, frame + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) done += (size_t)n;
    if (n >= 0 || errno == EINTR) continue;
    if (errno != EAGAIN) return -EPIPE;
    if (qk_wait_fd(fd, POLLOUT, -1) < 0 || reader_gone(fd)) return -EPIPE;
  }
  return 0;
}

static int qk_send(void* p, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = p;
  *sent = 0;
  if (e->base.role != IPCSPEC_WRITER) return -EBADF;
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  unsigned char frame[QK_HDR + QK_MAX_MESSAGE];
  const uint32_t hdr = (uint32_t)len;
  memcpy(frame, &hdr, QK_HDR);
  if (len > 0) memcpy(frame + QK_HDR, buf, len);
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    if (reader_gone(e->base.fd)) return -EPIPE;
    int err = 0;
    const long room = send_room(e->base.fd, &err);
    if (err != 0) return err;
    if (room >= 0 && (size_t)room >= frame_cost(len)) {
      const ssize_t n = send(e->base.fd, frame, QK_HDR + len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        const int rc = finish_frame(e->base.fd, frame, QK_HDR + len, (size_t)n);
        if (rc == 0) *sent = len;
        return rc;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return errno == ECONNRESET ? -EPIPE : -errno;
    }
    const int r = qk_wait_fd(e->base.fd, POLLOUT | POLLRDHUP, deadline);
    if (r < 0) return r;
    if (r == 0) return reader_gone(e->base.fd) ? -EPIPE : qk_late(deadline);
  }
}

/* Reads more of the frame in progress: >0 progress, 0 FIN, -errno. */
static ssize_t read_more(end* e) {
  const int fd = e->base.fd;
  if (e->hdr_got < QK_HDR) {
    const ssize_t n = recv(fd, e->hdr + e->hdr_got, QK_HDR - e->hdr_got, MSG_DONTWAIT);
    if (n <= 0) return n < 0 ? -errno : 0;
#ifdef QUIRK_BROKEN
    e->hdr_got = QK_HDR; /* the bug: a short read taken for the whole header */
#else
    e->hdr_got += (uint32_t)n;
#endif
    if (e->hdr_got == QK_HDR) {
      memcpy(&e->len, e->hdr, QK_HDR);
      e->body_got = 0;
      if (e->len > QK_MAX_MESSAGE) return -EPROTO;
    }
    return n;
  }
  const ssize_t n = recv(fd, e->body + e->body_got, e->len - e->body_got, MSG_DONTWAIT);
  if (n <= 0) return n < 0 ? -errno : 0;
  e->body_got += (uint32_t)n;
  return n;
}

static int qk_recv(void* p, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = p;
  *got = 0;
  if (e->base.role != IPCSPEC_READER) return -EBADF;
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    if (e->hdr_got == QK_HDR && e->len > cap) return -EMSGSIZE; /* it stays */
    if (e->hdr_got == QK_HDR && e->body_got == e->len) {
      if (e->len > 0) memcpy(buf, e->body, e->len);
      *got = e->len;
      e->hdr_got = 0;
      return 0;
    }
    const ssize_t n = read_more(e);
    if (n > 0 || n == -EINTR) continue;
    if (n == 0) {
      /* FIN: every writer has gone; a frame cut by a writer's death was
         never sent whole, and is dropped. */
      e->hdr_got = 0;
      return IPCSPEC_END;
    }
    if (n != -EAGAIN) return (int)n;
    const int r = qk_wait_fd(e->base.fd, POLLIN | POLLRDHUP, deadline);
    if (r < 0) return r;
    if (r == 0) return qk_late(deadline);
  }
}

QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, IPCSPEC_ONE_WAY,
                    IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE |
                        IPCSPEC_SHORT_RECV_KEEPS,
                    0, /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/0, /*atomic_write=*/0,
                    /*max_queued=*/0)
