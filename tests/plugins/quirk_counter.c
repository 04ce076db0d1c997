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
 * QUIRK_BROKEN with QUIRK_KIND_WRAPS: the 64-bit sum takes every add and
 * wraps past its maximum, 0xffffffffffffffff too, where eventfd(2) makes
 * an add that would pass 0xfffffffffffffffe wait and refuses that value
 * (G-MODEL).
 * QUIRK_BROKEN with QUIRK_KIND_ZEROFULL: a full sum refuses every add, a
 * value of 0 too, which plugin.h has succeed at once (G-MODEL).
 * QUIRK_BROKEN with QUIRK_KIND_EDGE: the room check is one off, so the
 * one add that lands exactly on 0xffffffffffffffff is taken (G-BACKPRESSURE,
 * which fills the counter to a drawn distance below its maximum).
 * QUIRK_BROKEN with QUIRK_KIND_LOOKS: a change wakes the waiters but does
 * not bump the futex word, and each wait looks again every 20 ms (as a
 * transport that also looks for dead peers does): an add that lands
 * between a receive's look at the sum and its sleep is found only at the
 * next look, 20 ms late (G-WAKEUP-RACE; G-WAKEUP wakes the receive only
 * once it sleeps, and the wake-up then reaches it).
 * QUIRK_KIND_DUPLEX: IPCSPEC_DUPLEX, both ends adding to and taking from
 * the one sum, as two descriptors of one eventfd do; broken, a sum each
 * way, so that what one end adds only the other takes (G-DUPLEX).
 */
#include "quirk_util.h"

#ifdef QUIRK_KIND_DUPLEX
#define QK_DUPLEX /* both ends add and take */
#endif
#if defined(QUIRK_BROKEN) && defined(QUIRK_KIND_WRAPS)
#define QK_WRAPS /* the 64-bit sum that wraps */
#elif defined(QUIRK_BROKEN) && defined(QUIRK_KIND_ZEROFULL)
#define QK_ZEROFULL /* a full sum refuses a 0 */
#elif defined(QUIRK_BROKEN) && defined(QUIRK_KIND_EDGE)
#define QK_EDGE /* one add too many fits */
#elif defined(QUIRK_BROKEN) && defined(QUIRK_KIND_LOOKS)
#define QK_NO_BUMP /* a wake-up without a bump, and a look every 20 ms */
#elif defined(QUIRK_BROKEN) && defined(QK_DUPLEX)
#define QK_TWO_SUMS /* a sum each way */
#elif defined(QUIRK_BROKEN)
#define QK_SUM32 /* the 32-bit sum */
#endif

#define QK_MAX_SUM 0xfffffffffffffffeull /* eventfd(2)'s largest counter */

typedef struct {
#ifdef QK_SUM32
  _Atomic uint32_t sum; /* also the futex word */
#else
  _Atomic uint64_t sum;
  _Atomic uint32_t seq;  /* bumped on every change; the futex word */
  _Atomic uint64_t back; /* QK_TWO_SUMS: what the reader's end adds */
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

#ifdef QK_SUM32
static _Atomic uint32_t* word_of(shared* s) { return &s->sum; }
#else
static _Atomic uint32_t* word_of(shared* s) { return &s->seq; }
#endif

static void changed(shared* s) {
#if !defined(QK_SUM32) && !defined(QK_NO_BUMP)
  atomic_fetch_add(&s->seq, 1);
#endif
  qk_futex_wake(word_of(s));
}

/* Sleeps while the word is `seen`, until woken or the deadline: 0, or
   -ETIMEDOUT once the deadline has passed. */
static int wait_change(shared* s, uint32_t seen, int64_t deadline) {
#ifdef QK_NO_BUMP
  const int64_t look = qk_now() + 20 * 1000000;
  if (deadline < 0 || deadline > look) {
    (void)qk_futex_wait(word_of(s), seen, look);
    return 0; /* the caller looks again */
  }
#endif
  return qk_futex_wait(word_of(s), seen, deadline);
}

#ifndef QK_SUM32
/* The sum end e adds to (`adding`) or takes: the one sum, but with
   QK_TWO_SUMS the reader's end adds to `back`, which the writer's takes. */
static _Atomic uint64_t* sum_of(end* e, int adding) {
#ifdef QK_TWO_SUMS
  const int back = adding ? e->role == IPCSPEC_READER : e->role == IPCSPEC_WRITER;
  return back ? &e->s->back : &e->s->sum;
#else
  (void)adding;
  return &e->s->sum;
#endif
}
#endif

/* Adds v unless the sum would pass QK_MAX_SUM: 1 added, 0 not. */
static int try_add(end* e, uint64_t v) {
#if defined(QK_SUM32)
  atomic_fetch_add(&e->s->sum, (uint32_t)v);
  return 1;
#elif defined(QK_WRAPS)
  atomic_fetch_add(sum_of(e, 1), v); /* the bug: wraps */
  return 1;
#else
  _Atomic uint64_t* sum = sum_of(e, 1);
  uint64_t old = atomic_load(sum);
  do {
#ifdef QK_EDGE
    if (v > QK_MAX_SUM - old + 1) return 0; /* the bug: one past the maximum fits */
#else
    if (v > QK_MAX_SUM - old) return 0;
#endif
#ifdef QK_ZEROFULL
    if (old == QK_MAX_SUM) return 0;        /* the bug: "full" before looking at v */
#endif
  } while (!atomic_compare_exchange_weak(sum, &old, old + v));
  return 1;
#endif
}

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
#ifndef QK_DUPLEX
  if (e->role != IPCSPEC_WRITER) return -EBADF;
#endif
  if (len < 8) return -EINVAL;
  if (len > 8) return -EMSGSIZE;
  uint64_t value;
  memcpy(&value, buf, sizeof value);
#ifndef QK_WRAPS
  if (value == UINT64_MAX) return -EINVAL; /* no sum could take it */
#endif
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    const uint32_t seen = atomic_load(word_of(e->s));
    if (try_add(e, value)) break;
    if (deadline == 0) return -EAGAIN;
    if (wait_change(e->s, seen, deadline) != 0) return -ETIMEDOUT;
  }
  changed(e->s);
  *sent = 8;
  return 0;
}

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
#ifndef QK_DUPLEX
  if (e->role != IPCSPEC_READER) return -EBADF;
#endif
  if (cap < 8) return -EINVAL;
  const int64_t deadline = qk_deadline(timeout_ms);
  for (;;) {
    const uint32_t seen = atomic_load(word_of(e->s));
#ifdef QK_SUM32
    const uint64_t sum = atomic_exchange(&e->s->sum, 0);
#else
    const uint64_t sum = atomic_exchange(sum_of(e, 0), 0);
#endif
    if (sum != 0) {
      memcpy(buf, &sum, sizeof sum);
      *got = 8;
      changed(e->s); /* room for a writer that would have overflowed */
      return 0;
    }
    if (deadline == 0) return -EAGAIN;
    if (wait_change(e->s, seen, deadline) != 0) return -ETIMEDOUT;
  }
}

static void qk_end_close(void* v) { free(v); }

#ifdef QK_DUPLEX
#define QK_DIRECTION IPCSPEC_DUPLEX
#else
#define QK_DIRECTION IPCSPEC_ONE_WAY
#endif
QK_DEFINE_TRANSPORT(qk_detach, qk_destroy, IPCSPEC_MESSAGE, QK_DIRECTION,
                    IPCSPEC_RELIABLE | IPCSPEC_MULTI_WRITER | IPCSPEC_COUNTER, 0,
                    /*max_message=*/8, /*capacity=*/0, /*atomic_write=*/8, /*max_queued=*/0)
