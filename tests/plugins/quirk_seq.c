/* tests/plugins/quirk_seq.c: correct but unusual message transports over an
 * AF_UNIX SOCK_SEQPACKET socketpair (records with a 1-byte header), and
 * their deliberately broken siblings. One source, one build per switch:
 *
 *   QUIRK_KIND_LOSSY    lossy but ordered: every third send is reported sent
 *                       and dropped (ORDERED, PEER_CLOSE, no RELIABLE).
 *                       Broken: swaps messages 0 and 1 (G-ORDER).
 *   QUIRK_KIND_COUNTED  capacity counted in messages: at most 4 queued
 *                       (max_queued = 4), kept in a futex word in shared
 *                       memory. Broken: lets a fifth in (G-BACKPRESSURE).
 *   QUIRK_KIND_KEEPS    a receive buffer smaller than the message gives
 *                       -EMSGSIZE and keeps it (SHORT_RECV_KEEPS). Broken:
 *                       drops it all the same (G-BOUNDARY).
 *   QUIRK_KIND_DROPS    ... gives -EMSGSIZE and drops it (SHORT_RECV_DROPS).
 *                       Broken: returns the first bytes as a whole message
 *                       (G-BOUNDARY).
 *   QUIRK_KIND_MAXBUF   a receive into a buffer smaller than max_message
 *                       gives -EMSGSIZE at once, whatever comes next, as
 *                       mq_receive(3) does (SHORT_RECV_KEEPS, PEER_CLOSE).
 *   QUIRK_KIND_STASH    SHORT_RECV_KEEPS by spilling: a record too big for
 *                       the buffer is taken off the socket into a memfd held
 *                       by the reader's end, and the next receive with room
 *                       serves it from there. Broken: close() forgets the
 *                       memfd of a record still spilled (G-CLEANUP).
 *   QUIRK_KIND_CLOSEWAKE  broken only: COUNTED whose waits for a slot also
 *                       look every 20 ms for a reader that closed, and
 *                       whose reader's close rings no futex, so a sender
 *                       asleep in the full channel learns of it only at its
 *                       next look (G-WAKEUP).
 *   QUIRK_KIND_EMPTYWAKE  broken only: COUNTED whose reader wakes waiting
 *                       senders only once the queue has drained, not as
 *                       each message frees a slot (G-WAKEUP).
 *   QUIRK_KIND_ROOMPOLL broken only: declares a capacity (an upper bound,
 *                       not exact) while a send waits for room on the
 *                       socket's POLLOUT, which the kernel raises only once
 *                       three quarters of the send buffer are free: a send
 *                       asleep after the reader took one message sleeps on
 *                       though a send without waiting would go in
 *                       (G-WAKEUP).
 *   QUIRK_KIND_STASHONCE  broken only: STASH whose reader keeps a spilled
 *                       record for one refusal only: a second receive too
 *                       small for it drops it with its -EMSGSIZE
 *                       (G-BOUNDARY).
 *   QUIRK_KIND_SPARSE   very lossy: only every 100th send of a writer's
 *                       end (0, 100, ...) is delivered; the rest are
 *                       reported sent and dropped (ORDERED, PEER_CLOSE,
 *                       no RELIABLE).
 *   QUIRK_KIND_BYTES    bounded by payload as well as by count: at most 4096
 *                       bytes (EXACT_CAPACITY) in at most 64 records, kept
 *                       together in one futex word in shared memory, so a
 *                       send of a big message that a receive woke finds
 *                       too little room and sleeps on. Broken: it sleeps on
 *                       for the caller's whole timeout again, so each
 *                       receive that frees too little starts the bound
 *                       anew (G-TIMEOUT-PARTIAL). A writer killed between
 *                       taking room and sending its record leaves the room
 *                       taken for good, so it declares CLOSE_ONLY: a death
 *                       is not promised to be survived.
 *   QUIRK_KIND_BYTESDEATH  broken only: BYTES that does not declare
 *                       CLOSE_ONLY, though a writer killed at the entry of
 *                       the sendmsg that follows its reservation leaves
 *                       the room short of max_message for good
 *                       (G-WRITER-CRASH-WALK).
 *   QUIRK_KIND_WAKEONE  broken only: COUNTED whose receive wakes one sender
 *                       asleep for a slot (FUTEX_WAKE 1), as a semaphore's
 *                       post does: right while the senders live, but a
 *                       woken sender SIGKILLed before it runs takes the
 *                       wake-up with it, and the others sleep on beside the
 *                       slot (G-WAKEUP-KILLED).
 *   QUIRK_KIND_SENDRACE  broken only: COUNTED whose send, finding no slot,
 *                       makes a system call (a stand-in for a look at the
 *                       reader) and reads the slot word again only then,
 *                       to sleep on: a slot freed in between wakes nobody,
 *                       and the send sleeps to its next look, 20 ms on
 *                       (G-WAKEUP-RACE-SEND; G-WAKEUP frees the slot once
 *                       the send sleeps).
 *   QUIRK_KIND_BYTESWAKEONE  broken only: BYTES whose receive wakes one
 *                       sender asleep for room (FUTEX_WAKE 1), and whose
 *                       waits for room look again every 20 ms all the same:
 *                       a receive of a message that is room for two sends
 *                       wakes one, and the other sleeps to its next look,
 *                       beside room (G-WAKEUP: two sends woken by one
 *                       receive). The look hides it from G-WAKEUP-KILLED.
 *   QUIRK_KIND_LOCKED   COUNTED whose writers hold a robust, process-shared
 *                       mutex with priority inheritance from their look for
 *                       a slot to their send, asleep for room with it held.
 *                       Broken: the mutex does not inherit priority, so an
 *                       unlock wakes one waiter that must run to take it;
 *                       one SIGKILLed before it does leaves the others
 *                       asleep beside a free lock (the kernel's rescue of a
 *                       dying waiter wakes another only if the lock is free
 *                       at the death) (G-WAKEUP-KILLED).
 *   QUIRK_KIND_SHARED   duplex, with one room for both directions: at most
 *                       4 records in flight either way together (a futex
 *                       word, as COUNTED's), so neither capacity nor
 *                       max_queued can be declared per direction, and an
 *                       end whose peer sends without reading blocks.
 *
 * QUIRK_BROKEN selects the sibling; QUIRK_NAME names it; QUIRK_ENTRY (see
 * quirk_util.h) names the entry point.
 */
#include "quirk_util.h"

#if defined(QUIRK_KIND_CLOSEWAKE)
#define QUIRK_KIND_COUNTED 1
#define QK_CLOSE_UNRUNG 1
#endif
#if defined(QUIRK_KIND_EMPTYWAKE)
#define QUIRK_KIND_COUNTED 1
#define QK_WAKE_WHEN_EMPTY 1
#endif
#if defined(QUIRK_KIND_WAKEONE)
#define QUIRK_KIND_COUNTED 1
#define QK_WAKE_ONE 1
#endif
#if defined(QUIRK_KIND_LOCKED)
#define QUIRK_KIND_COUNTED 1
#define QK_LOCKED 1
#endif
#if defined(QUIRK_KIND_SENDRACE)
#define QUIRK_KIND_COUNTED 1
#define QK_SEND_RACE 1
#define QK_LOOK_EVERY_20MS 1
#endif
#if defined(QUIRK_KIND_BYTESDEATH)
#define QUIRK_KIND_BYTES 1
#define QK_DEATH_SURVIVED 1 /* the bug: claimed */
#elif defined(QUIRK_KIND_BYTESWAKEONE)
#define QUIRK_KIND_BYTES 1
#define QK_WAKE_ONE 1
#define QK_LOOK_EVERY_20MS 1
#elif defined(QUIRK_KIND_BYTES) && defined(QUIRK_BROKEN)
#define QK_RESTART 1
#endif
#if defined(QUIRK_KIND_CLOSEWAKE)
#define QK_LOOK_EVERY_20MS 1
#endif
#if defined(QUIRK_KIND_STASHONCE)
#define QUIRK_KIND_STASH 1
#define QK_STASH_ONCE 1
#endif

#define QK_MAX_MESSAGE 4096
#if defined(QUIRK_KIND_BYTES)
#define QK_MAX_QUEUED 64
#else
#define QK_MAX_QUEUED 4
#endif

#if defined(QUIRK_KIND_LOSSY)
#define QK_FLAGS (IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_MULTI_WRITER)
#define QK_QUEUED 0
#elif defined(QUIRK_KIND_MAXBUF)
#define QK_FLAGS \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_SHORT_RECV_KEEPS)
#define QK_QUEUED 0
#elif defined(QUIRK_KIND_SPARSE)
#define QK_FLAGS (IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_MULTI_WRITER)
#define QK_QUEUED 0
#elif defined(QUIRK_KIND_COUNTED)
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_MULTI_WRITER)
#define QK_QUEUED QK_MAX_QUEUED
#elif defined(QUIRK_KIND_BYTES)
#if defined(QK_DEATH_SURVIVED)
#define QK_FLAGS                                                                    \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_MULTI_WRITER | \
   IPCSPEC_EXACT_CAPACITY)
#else
#define QK_FLAGS                                                                    \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_MULTI_WRITER | \
   IPCSPEC_EXACT_CAPACITY | IPCSPEC_CLOSE_ONLY)
#endif
#define QK_QUEUED QK_MAX_QUEUED
#define QK_CAPACITY QK_MAX_MESSAGE
#define QK_SLOTS 1
#elif defined(QUIRK_KIND_SHARED)
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE)
#define QK_QUEUED 0
#define QK_DIRECTION IPCSPEC_DUPLEX
#define QK_SLOTS 1
#elif defined(QUIRK_KIND_KEEPS) || defined(QUIRK_KIND_STASH)
#define QK_FLAGS \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_SHORT_RECV_KEEPS)
#define QK_QUEUED 0
#elif defined(QUIRK_KIND_ROOMPOLL)
#define QK_FLAGS (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE)
#define QK_QUEUED 0
#define QK_CAPACITY (1u << 21) /* above any socket buffer: an honest upper bound */
#elif defined(QUIRK_KIND_DROPS)
#define QK_FLAGS \
  (IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE | IPCSPEC_SHORT_RECV_DROPS)
#define QK_QUEUED 0
#else
#error "define one QUIRK_KIND_*"
#endif

#if defined(QUIRK_KIND_COUNTED)
#define QK_SLOTS 1
#endif
#ifndef QK_CAPACITY
#define QK_CAPACITY 0
#endif
#ifndef QK_DIRECTION
#define QK_DIRECTION IPCSPEC_ONE_WAY
#endif

#if defined(QUIRK_KIND_LOSSY) || defined(QUIRK_KIND_COUNTED) || defined(QUIRK_KIND_SPARSE) || \
    defined(QUIRK_KIND_BYTES)
#define QK_ATOMIC QK_MAX_MESSAGE
#else
#define QK_ATOMIC 0
#endif

/* What a receive does with a record too big for the buffer. */
#if defined(QUIRK_KIND_DROPS) && defined(QUIRK_BROKEN)
#define QK_POLICY QK_CUT
#elif defined(QUIRK_KIND_DROPS) || (defined(QUIRK_KIND_KEEPS) && defined(QUIRK_BROKEN))
#define QK_POLICY QK_DROP
#else
#define QK_POLICY QK_KEEP
#endif

typedef struct {
  _Atomic uint32_t queued;        /* records in the socket (COUNTED, SHARED); BYTES: records
                                     << 16 | their payload bytes */
  _Atomic uint32_t reader_closed; /* wakes a send waiting for room */
  _Atomic uint32_t writer_closed; /* SHARED: the other way round */
  pthread_mutex_t writers;        /* LOCKED: held from the look for a slot to the send */
} shared;

typedef struct {
  qk_end h;
  uint64_t sends;                     /* LOSSY, SPARSE: which sends are dropped */
  unsigned char held[QK_MAX_MESSAGE]; /* broken LOSSY: message 0, held back */
  size_t held_len;
  int spilled; /* STASH: 1 + the memfd holding a record too big for a buffer, 0 none */
  size_t spilled_len;
} end;

static shared* page_of(const end* e) { return e->h.page; }

static void* qk_create(const char* scratch, char* err, size_t err_len) {
  (void)scratch;
  qk_chan* ch = qk_chan_create(SOCK_SEQPACKET, err, err_len);
#if defined(QK_LOCKED)
  if (ch != NULL) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
#ifndef QUIRK_BROKEN
    pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
#endif
    pthread_mutex_init(&((shared*)ch->page)->writers, &a);
    pthread_mutexattr_destroy(&a);
  }
#endif
  return ch;
}

static void* qk_open(void* c, int role, char* err, size_t err_len) {
  return qk_chan_open(c, role, sizeof(end), err, err_len);
}

#if defined(QK_SLOTS)
#if defined(QUIRK_KIND_BYTES)
/* What a record of `len` bytes takes of `queued`, and whether it fits. */
#define QK_COST(len) ((1u << 16) | (uint32_t)(len))
#define QK_FITS(q, len) \
  ((q) >> 16 < QK_MAX_QUEUED && ((q)&0xffffu) + (uint32_t)(len) <= QK_CAPACITY)
#else
#if defined(QUIRK_BROKEN) && !defined(QK_CLOSE_UNRUNG) && !defined(QK_WAKE_WHEN_EMPTY) && \
    !defined(QK_WAKE_ONE) && !defined(QK_LOCKED) && !defined(QK_SEND_RACE)
#define QK_LIMIT (QK_MAX_QUEUED + 1) /* the bug: one too many */
#else
#define QK_LIMIT QK_MAX_QUEUED
#endif
#define QK_COST(len) 1u
#define QK_FITS(q, len) ((q) < QK_LIMIT)
#endif

/* COUNTED, SHARED, BYTES: takes room for one more record of `len` bytes,
   waiting until the deadline; -EPIPE once the end that would read it has
   closed. */
static int take_slot(shared* s, int role, size_t len, int timeout_ms, int64_t deadline) {
  (void)len;
  (void)timeout_ms;
  for (;;) {
    if (atomic_load(role == IPCSPEC_WRITER ? &s->reader_closed : &s->writer_closed)) return -EPIPE;
    uint32_t q = atomic_load(&s->queued);
    if (QK_FITS(q, len)) {
      if (atomic_compare_exchange_weak(&s->queued, &q, q + QK_COST(len))) return 0;
      continue;
    }
    if (deadline == 0) return -EAGAIN;
#ifdef QK_SEND_RACE
    /* The bug: a system call after the look (standing for a check that the
       reader lives), then the word read again as the send goes to sleep:
       room made in between wakes nobody, and the send sleeps to its next
       look. */
    (void)syscall(SYS_getppid);
    q = atomic_load(&s->queued);
#endif
#ifdef QK_RESTART
    if (timeout_ms > 0) { /* the bug: each wake-up waits the caller's whole timeout again */
      const struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
      if (syscall(SYS_futex, (uint32_t*)&s->queued, FUTEX_WAIT, q, &ts, NULL, 0) != 0 &&
          errno == ETIMEDOUT)
        return -ETIMEDOUT;
      continue;
    }
#endif
#ifdef QK_LOOK_EVERY_20MS
    /* A look every 20 ms, for a peer that died without ringing. */
    const int64_t look = qk_now() + 20 * 1000000;
    if (qk_futex_wait(&s->queued, q, deadline < 0 || deadline > look ? look : deadline) != 0 &&
        deadline >= 0 && qk_now() >= deadline)
      return -ETIMEDOUT;
#else
    if (qk_futex_wait(&s->queued, q, deadline) != 0) return -ETIMEDOUT;
#endif
  }
}
#endif

#if defined(QK_SLOTS)
/* COUNTED, SHARED, BYTES: room for the record, then the record; the room
   goes back if the send fails. */
static int slot_send(end* e, const void* buf, size_t len, int timeout_ms, int64_t deadline) {
  shared* s = page_of(e);
  int rc = take_slot(s, e->h.role, len, timeout_ms, deadline);
  if (rc != 0) return rc;
  rc = qk_seq_send(e->h.fd, buf, len, deadline);
  if (rc != 0) {
    atomic_fetch_sub(&s->queued, QK_COST(len));
    qk_futex_wake(&s->queued);
  }
  return rc;
}
#endif

#if defined(QK_LOCKED)
/* LOCKED: takes the writers' mutex by the deadline (EOWNERDEAD: a writer
   died holding it; the slot count it may have taken is its own business). */
static int lock_writers(shared* s, int64_t deadline) {
  int err;
  if (deadline == 0) {
    err = pthread_mutex_trylock(&s->writers);
  } else if (deadline < 0) {
    err = pthread_mutex_lock(&s->writers);
  } else {
    const struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
    err = pthread_mutex_clocklock(&s->writers, CLOCK_MONOTONIC, &ts);
  }
  if (err == EOWNERDEAD) err = pthread_mutex_consistent(&s->writers);
  return err == EBUSY ? -EAGAIN : -err;
}
#endif

static int qk_send(void* v, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  end* e = v;
  *sent = 0;
  if (QK_DIRECTION == IPCSPEC_ONE_WAY && e->h.role != IPCSPEC_WRITER) return -EBADF;
  if (len > QK_MAX_MESSAGE) return -EMSGSIZE;
  const int64_t deadline = qk_deadline(timeout_ms);
#if defined(QUIRK_KIND_LOSSY)
  const uint64_t n = e->sends++;
#ifdef QUIRK_BROKEN
  if (n == 0) { /* the bug: message 0 waits for message 1, then follows it */
    if (len > 0) memcpy(e->held, buf, len); /* an empty message's buf may be NULL */
    e->held_len = len;
    *sent = len;
    return 0;
  }
  if (n == 1) {
    int rc = qk_seq_send(e->h.fd, buf, len, deadline);
    if (rc == 0) rc = qk_seq_send(e->h.fd, e->held, e->held_len, deadline);
    if (rc == 0) *sent = len;
    return rc;
  }
#endif
  if (n % 3 == 2) { /* lost, as a lossy transport may */
    *sent = len;
    return 0;
  }
#elif defined(QK_SLOTS)
#if defined(QK_LOCKED) /* the writers' mutex is held from the look for room to the send */
  const int locked = lock_writers(page_of(e), deadline);
  if (locked != 0) return locked;
#endif
  const int rc = slot_send(e, buf, len, timeout_ms, deadline);
#if defined(QK_LOCKED)
  pthread_mutex_unlock(&page_of(e)->writers);
#endif
  if (rc == 0) *sent = len;
  return rc;
#elif defined(QUIRK_KIND_SPARSE)
  if (atomic_load(&page_of(e)->reader_closed)) return -EPIPE;
  if (e->sends++ % 100 != 0) {
    *sent = len; /* lost, as a lossy transport may */
    return 0;
  }
#endif
#if !defined(QK_SLOTS)
  const int rc = qk_seq_send(e->h.fd, buf, len, deadline);
  if (rc == 0) *sent = len;
  return rc;
#endif
}

#if defined(QUIRK_KIND_STASH)
/* STASH: the spilled record when it fits `buf`, else the next record, spilled
   when it does not fit. */
static int stash_recv(end* e, void* buf, size_t cap, size_t* got, int64_t deadline) {
  const int fresh = e->spilled == 0; /* the record is spilled by this call */
  (void)fresh;
  if (e->spilled == 0) {
    unsigned char whole[QK_MAX_MESSAGE];
    const int rc = qk_seq_recv(e->h.fd, whole, sizeof whole, got, deadline, QK_KEEP);
    if (rc != 0 || *got <= cap) {
      if (rc == 0 && *got > 0) memcpy(buf, whole, *got);
      return rc;
    }
    const int fd = memfd_create("qk-spilled", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    if (write(fd, whole, *got) != (ssize_t)*got) {
      close(fd);
      return -EIO;
    }
    e->spilled = fd + 1;
    e->spilled_len = *got;
    *got = 0;
  }
  if (e->spilled_len > cap) {
#ifdef QK_STASH_ONCE
    if (!fresh) { /* the bug: refused once, the record is dropped the second time */
      close(e->spilled - 1);
      e->spilled = 0;
    }
#endif
    return -EMSGSIZE;
  }
  if (e->spilled_len > 0 &&
      pread(e->spilled - 1, buf, e->spilled_len, 0) != (ssize_t)e->spilled_len)
    return -EIO;
  close(e->spilled - 1);
  e->spilled = 0;
  *got = e->spilled_len;
  return 0;
}
#endif

static int qk_recv(void* v, void* buf, size_t cap, size_t* got, int timeout_ms) {
  end* e = v;
  *got = 0;
  if (QK_DIRECTION == IPCSPEC_ONE_WAY && e->h.role != IPCSPEC_READER) return -EBADF;
#if defined(QUIRK_KIND_STASH)
  return stash_recv(e, buf, cap, got, qk_deadline(timeout_ms));
#endif
#if defined(QUIRK_KIND_MAXBUF)
  if (cap < QK_MAX_MESSAGE) return -EMSGSIZE; /* as mq_receive(3) */
#endif
  const int rc = qk_seq_recv(e->h.fd, buf, cap, got, qk_deadline(timeout_ms), QK_POLICY);
#if defined(QK_SLOTS)
#ifdef QK_WAKE_WHEN_EMPTY
  /* the bug: senders are woken once the queue has drained, not at each slot */
  if (rc == 0 && atomic_fetch_sub(&page_of(e)->queued, 1) == 1) qk_futex_wake(&page_of(e)->queued);
#elif defined(QK_WAKE_ONE)
  if (rc == 0) { /* the bug: one sender is woken, and must live to take the slot */
    atomic_fetch_sub(&page_of(e)->queued, QK_COST(*got));
    syscall(SYS_futex, (uint32_t*)&page_of(e)->queued, FUTEX_WAKE, 1, NULL, NULL, 0);
  }
#else
  if (rc == 0) {
    atomic_fetch_sub(&page_of(e)->queued, QK_COST(*got));
    qk_futex_wake(&page_of(e)->queued);
  }
#endif
#endif
  return rc;
}

static void qk_end_close(void* v) {
  end* e = v;
#if !defined(QUIRK_BROKEN) || defined(QK_STASH_ONCE)
  if (e->spilled != 0) close(e->spilled - 1);
#endif
  shared* s = page_of(e);
  atomic_store(e->h.role == IPCSPEC_READER ? &s->reader_closed : &s->writer_closed, 1);
#ifdef QK_CLOSE_UNRUNG
  if (e->h.role != IPCSPEC_READER) /* the bug: the reader's close rings nobody */
#endif
    qk_futex_wake(&s->queued);
  close(e->h.fd);
  free(e);
}

QK_DEFINE_TRANSPORT(qk_chan_detach, qk_chan_destroy, IPCSPEC_MESSAGE, QK_DIRECTION, QK_FLAGS, 0,
                    /*max_message=*/QK_MAX_MESSAGE, /*capacity=*/QK_CAPACITY,
                    /*atomic_write=*/QK_ATOMIC,
                    /*max_queued=*/QK_QUEUED)
