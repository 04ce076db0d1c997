/* tests/plugins/quirk_relay.c: a correct but unusual transport that
 * delivers after a delay, like a library with an I/O thread: writers send
 * records into one AF_UNIX SOCK_SEQPACKET socketpair (A); a relay process,
 * forked by create(), forwards each record into a second one (B), from
 * which the reader receives. A send returns once its record is in A, long
 * before the reader can see it. End of stream travels the same way: when
 * every writer has closed A, the relay closes B; when the reader closes B,
 * the relay exits and writers get EPIPE. destroy() reaps the relay.
 * MESSAGE, ONE_WAY, RELIABLE, ORDERED, MULTI_WRITER, PEER_CLOSE; capacity
 * unknown (A, the relay and B all buffer). POLLED: every message and END
 * waits for the relay to be scheduled, which a loaded machine delays
 * (END came 15-28 ms after the writer's close in most rounds of a parallel
 * ctest, where a realtime transport may be 12.5 ms late); the harness sees
 * the sleeper's wait for a CPU, not the relay's.
 *
 * QUIRK_BROKEN: the relay holds each record back until the next arrives and
 * drops the one it holds when the writers close (G-EOF).
 */
#define _GNU_SOURCE /* pipe2 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "quirk_util.h"

#define QK_MAX_MESSAGE 4096

typedef struct {
  qk_pair a, b; /* a: writers -> relay; b: relay -> reader */
  pid_t relay;
} channel;

typedef qk_end end;

/* The relay: A's reading end and B's writing end are its descriptors 3, 4. */
static void relay_main(void) {
  static unsigned char rec[QK_MAX_MESSAGE + 1], held[QK_MAX_MESSAGE + 1];
  size_t held_len = 0;
  int have = 0;
  fcntl(3, F_SETFL, 0); /* blocking */
  fcntl(4, F_SETFL, 0);
  for (;;) {
    const ssize_t n = recv(3, rec, sizeof rec, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* every writer closed */
#ifdef QUIRK_BROKEN
    if (have && send(4, held, held_len, MSG_NOSIGNAL) < 0) _exit(0);
    memcpy(held, rec, (size_t)n);
    held_len = (size_t)n;
    have = 1;
#else
    (void)held;
    (void)held_len;
    (void)have;
    if (send(4, rec, (size_t)n, MSG_NOSIGNAL) < 0) _exit(0); /* the reader closed */
#endif
  }
  /* End of stream (the broken relay forgets what it holds): B is closed
     first, then the relay exits. An exit alone would close B only after
     it had torn down the address space the relay shares with the process
     that forked it, which under a parallel ctest made END 18-28 ms late. */
  close(4);
  _exit(0);
}

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  (void)scratch;
  channel* ch = calloc(1, sizeof *ch);
  if (ch == NULL) return NULL;
  if (qk_socket_pair(&ch->a, SOCK_SEQPACKET) != 0 || qk_socket_pair(&ch->b, SOCK_SEQPACKET) != 0) {
    qk_err(err, err_len, "socketpair");
    free(ch);
    return NULL;
  }
  const pid_t parent = getpid();
  ch->relay = fork();
  if (ch->relay < 0) {
    qk_err(err, err_len, "fork");
    qk_pair_close(&ch->a);
    qk_pair_close(&ch->b);
    free(ch);
    return NULL;
  }
  if (ch->relay == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    if (dup2(ch->a.fds[IPCSPEC_READER], 3) < 0 || dup2(ch->b.fds[IPCSPEC_WRITER], 4) < 0) _exit(1);
    for (int fd = 5; fd < 1024; ++fd) close(fd);
    relay_main();
  }
  /* The relay's two ends are its own now. */
  qk_close(&ch->a.fds[IPCSPEC_READER]);
  qk_close(&ch->b.fds[IPCSPEC_WRITER]);
  return ch;
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  channel* ch = c;
  const int src = role == IPCSPEC_WRITER ? ch->a.fds[IPCSPEC_WRITER] : ch->b.fds[IPCSPEC_READER];
  return qk_end_open(src, role, NULL, sizeof(end), err, err_len);
}

static void qk_detach(void* c) {
  channel* ch = c;
  qk_pair_close(&ch->a);
  qk_pair_close(&ch->b);
}

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (e->role != IPCSPEC_WRITER) return -EBADF;
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int rc = qk_seq_send(e->fd, buf, len, qk_deadline(timeout_ms));
  if (rc == 0) *sent = len;
  return rc;
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
  if (e->role != IPCSPEC_READER) return -EBADF;
  return qk_seq_recv(e->fd, buf, cap, got, qk_deadline(timeout_ms), QK_KEEP);
}

static void qk_end_close(void* v) {
  end* e = v;
  close(e->fd);
  free(e);
}

static void qk_destroy(void* c) {
  channel* ch = c;
  qk_detach(ch);
  if (ch->relay > 0) {
    kill(ch->relay, SIGKILL);
    while (waitpid(ch->relay, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  free(ch);
}

QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, IPCSPEC_ONE_WAY,
                    IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_MULTI_WRITER | IPCSPEC_PEER_CLOSE |
                        IPCSPEC_POLLED,
                    0, /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/0,
                    /*atomic_write=*/QK_MAX_MESSAGE, /*max_queued=*/0)
