/* tests/plugins/quirk_counter.c: a correct but unusual transport that is a
 * counter (IPCSPEC_COUNTER) kept in user space: a 64-bit sum in a shared
 * page, added to with an atomic add and taken whole with an atomic
 * exchange, and a separate 32-bit futex word that every change bumps, on
 * which an empty reader or a writer that would overflow the sum waits.
 * MESSAGE, ONE_WAY, RELIABLE, MULTI_WRITER, max_message 8.
 *
 * QUIRK_BROKEN: the sum is the 32-bit futex word itself (one word to add to
 * and to wait on), so a value of 2^32 or more wraps (G-INDEPENDENT, whose
 * second writer's values sit in the high 32 bits).
 */
#include "quirk_util.h"

#define QK_MAX_SUM 0xfffffffffffffffeull /* eventfd(2)'s largest counter */

typedef struct {
#ifdef QUIRK_BROKEN
  _Atomic uint32_t sum; /* also the futex word */
#else
  _Atomic uint64_t sum;
  _Atomic uint32_t seq; /* bumped on every change; the futex word */
#endif
} shared;

typedef struct {
  shared* s;
  int role;
} end;

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  (void)scratch;
  void* page = qk_shared_page();
  if (page == NULL) qk_err(err, err_len, "mmap");
  return page;
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  end* e = calloc(1, sizeof *e);
  if (e == NULL) {
    qk_err(err, err_len, "calloc");
    return NULL;
  }
  e->s = c;
  e->role = role;
  return e;
}

static void qk_detach(void* c) { (void)c; /* the page is the channel until destroy */ }

static void qk_destroy(void* c) { munmap(c, 4096); }

#ifdef QUIRK_BROKEN
static _Atomic uint32_t* word_of(shared* s) { return &s->sum; }
#else
static _Atomic uint32_t* word_of(shared* s) { return &s->seq; }
#endif

static void changed(shared* s) {
#ifndef QUIRK_BROKEN
  atomic_fetch_add(&s->seq, 1);
#endif
  qk_futex_wake(word_of(s));
}

/* Adds v unless the sum would pass QK_MAX_SUM: 1 added, 0 not. */
static int try_add(shared* s, uint64_t v) {
#ifdef QUIRK_BROKEN
  atomic_fetch_add(&s->sum, (uint32_t)v);
  return 1;
#else
  uint64_t old = atomic_load(&s->sum);
  do {
    if (v > QK_MAX_SUM - old) return 0;
  } while (!atomic_compare_exchange_weak(&s->sum, &old, old + v));
  return 1;
#endif
}

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (e->role != IPCSPEC_WRITER) return -EBADF;
  if (len < 8) return -EINVAL;
  if (len > 8) return -EMSGSIZE;
  uint64_t value;
  memcpy(&value, buf, sizeof value);
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    const uint32_t seen = atomic_load(word_of(e->s));
    if (try_add(e->s, value)) break;
    if (deadline == 0) return -EAGAIN;
    if (qk_futex_wait(word_of(e->s), seen, deadline) != 0) return -ETIMEDOUT;
  }
  changed(e->s);
  *sent = 8;
  return 0;
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
  if (e->role != IPCSPEC_READER) return -EBADF;
  if (cap < 8) return -EINVAL;
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    const uint32_t seen = atomic_load(word_of(e->s));
    const uint64_t sum = atomic_exchange(&e->s->sum, 0);
    if (sum != 0) {
      memcpy(buf, &sum, sizeof sum);
      *got = 8;
      changed(e->s); /* room for a writer that would have overflowed */
      return 0;
    }
    if (deadline == 0) return -EAGAIN;
    if (qk_futex_wait(word_of(e->s), seen, deadline) != 0) return -ETIMEDOUT;
  }
}

static void qk_end_close(void* v) { free(v); }

QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, IPCSPEC_ONE_WAY,
                    IPCSPEC_RELIABLE | IPCSPEC_MULTI_WRITER | IPCSPEC_COUNTER, 0,
                    /*max_message=*/8, /*capacity=*/0, /*atomic_write=*/8, /*max_queued=*/0)
