/* tests/plugins/quirk_rendezvous.c: a correct but unusual transport whose
 * send blocks while no peer is attached, like a connection-oriented library
 * that waits for its peer: MESSAGE, DUPLEX, ORDERED, without RELIABLE or
 * PEER_CLOSE, capacity unknown (the example). Datagrams with a
 * 1-byte header over an AF_UNIX SOCK_DGRAM socketpair; each role's attached
 * count lives in a futex word in shared memory, and a send first waits
 * (bounded by its timeout) until the other role is attached.
 *
 * QUIRK_BROKEN: while it waits for a peer, a bounded send waits twice as
 * long as asked (G-TIMEOUT).
 */
#include "quirk_util.h"

#define QK_MAX_MESSAGE 4096

typedef struct {
  _Atomic uint32_t attached[2]; /* by role */
} shared;

typedef qk_end end;

static shared* page_of(const end* e) { return e->page; }

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  (void)scratch;
  return qk_chan_create(SOCK_DGRAM, err, err_len);
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  end* e = qk_chan_open(c, role, sizeof(end), err, err_len);
  if (e == NULL) return NULL;
  atomic_fetch_add(&page_of(e)->attached[role], 1);
  qk_futex_wake(&page_of(e)->attached[role]);
  return e;
}

/* Waits until the other role is attached. */
static int wait_for_peer(end* e, int timeout_ms) {
  _Atomic uint32_t* peer = &page_of(e)->attached[1 - e->role];
#ifdef QUIRK_BROKEN
  const int64_t deadline = qk_deadline(timeout_ms > 0 ? 2 * timeout_ms : timeout_ms);
#else
  const int64_t deadline = qk_deadline(timeout_ms);
#endif
  for (;;) {
    const uint32_t n = atomic_load(peer);
    if (n > 0) return 0;
    if (deadline == 0) return -EAGAIN;
    if (qk_futex_wait(peer, n, deadline) != 0) return -ETIMEDOUT;
  }
}

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int64_t deadline = qk_deadline(timeout_ms);
  const int rc = wait_for_peer(e, timeout_ms);
  if (rc != 0) return rc;
  const int r = qk_seq_send(e->fd, buf, len, deadline);
  if (r == 0) *sent = len;
  return r;
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  return qk_seq_recv(e->fd, buf, cap, got, qk_deadline(timeout_ms), QK_KEEP);
}

static void qk_end_close(void* v) {
  end* e = v;
  atomic_fetch_sub(&page_of(e)->attached[e->role], 1);
  qk_futex_wake(&page_of(e)->attached[e->role]);
  close(e->fd);
  free(e);
}

QK_DEFINE_TRANSPORT(qk_chan_detach, qk_chan_destroy, IPCSPEC_MESSAGE, IPCSPEC_DUPLEX,
                    IPCSPEC_ORDERED, 0, /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/0,
                    /*atomic_write=*/0, /*max_queued=*/0)
