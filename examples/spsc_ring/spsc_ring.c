/* spsc_ring: an out-of-tree ipcspec transport plugin.
 *
 * A single-producer single-consumer ring of length-prefixed messages in
 * anonymous shared memory (MAP_SHARED | MAP_ANONYMOUS, made by create() and
 * inherited by the participants across fork), with futex wake-ups.
 *
 *   framing     MESSAGE: each message is a 4-byte length and its body, so
 *               the reader gets whole messages; a zero-length one is legal
 *   flags       RELIABLE | ORDERED | PEER_CLOSE (one writer: no MULTI_WRITER)
 *   max_message 65536 bytes; a larger send is -EMSGSIZE
 *   capacity    65536 payload bytes, max_queued 256 messages: a send blocks
 *               (or gives -EAGAIN) when either limit would be passed; the ring
 *               has room for both limits at once, headers included
 *
 * Peer close: each open end holds a slot with its pid in the segment. The
 * reader gets IPCSPEC_END once a writer has opened, none holds a slot any
 * more and the ring is drained; the writer gets -EPIPE once a reader has
 * opened and none holds a slot. close() frees the slot and wakes the peer. A
 * blocked end wakes at least every 20 ms and frees the slots of peers that
 * died without closing (SIGKILL), so a crashed writer is an end of stream,
 * not a hang.
 *
 * Wake-ups: two 32-bit sequence words, `data_seq` (bumped by the writer when
 * it publishes a message or closes) and `space_seq` (bumped by the reader
 * when it consumes one or closes). A waiter reads the word, checks its
 * condition, and FUTEX_WAITs on the value it read, so a wake between the
 * check and the wait is never lost.
 *
 * C11 + Linux; only <ipcspec/plugin.h> from ipcspec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ipcspec/plugin.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SPSC_CAPACITY 65536u /* payload bytes */
#define SPSC_MAX_QUEUED 256u /* messages */
#define SPSC_MAX_MESSAGE SPSC_CAPACITY
#define SPSC_HEADER 4u
#define SPSC_RING_BYTES (SPSC_CAPACITY + SPSC_MAX_QUEUED * SPSC_HEADER)
#define SPSC_SLOTS 8 /* ends per role, e.g. one per process */
#define SPSC_LIVENESS_MS 20

typedef struct {
  /* Written by the writer only. */
  _Atomic uint64_t w_msgs;  /* messages published */
  _Atomic uint64_t w_bytes; /* payload bytes published */
  /* Written by the reader only. */
  _Atomic uint64_t r_msgs;
  _Atomic uint64_t r_bytes;
  _Atomic uint32_t data_seq;            /* futex: new data, or a writer closed */
  _Atomic uint32_t space_seq;           /* futex: free space, or a reader closed */
  _Atomic uint32_t ever[2];             /* [role]: an end of this role has opened */
  _Atomic int32_t slots[2][SPSC_SLOTS]; /* [role][i]: pid holding an end, 0 = free */
  unsigned char data[SPSC_RING_BYTES];
} spsc_ring;

typedef struct {
  spsc_ring* ring;
} spsc_channel;

typedef struct {
  spsc_ring* ring;
  int role;
  int slot;
} spsc_end;

static int futex_wait(_Atomic uint32_t* word, uint32_t expected, int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  /* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
  if (syscall(SYS_futex, (uint32_t*)word, FUTEX_WAIT, expected, &ts, NULL, 0) != 0) return -errno;
  return 0;
}

static void futex_wake_all(_Atomic uint32_t* word) {
  syscall(SYS_futex, (uint32_t*)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void bump(_Atomic uint32_t* word) {
  atomic_fetch_add(word, 1);
  futex_wake_all(word);
}

/* Deadlines are kept in nanoseconds and waits rounded up to whole
   milliseconds, so a bounded wait never ends early. */
static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* True when pid has exited: no such process, or a zombie not yet reaped
   (kill() still succeeds on a zombie). */
static int pid_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* paren = strrchr(buf, ')');
  return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* Whether the peer role has gone: it has opened, and no live end holds a
   slot. Frees the slots of dead holders, and wakes `wake` if it did. */
static int peer_gone(spsc_ring* r, int peer, int check_liveness) {
  if (!atomic_load(&r->ever[peer])) return 0;
  int held = 0;
  for (int i = 0; i < SPSC_SLOTS; ++i) {
    int32_t pid = atomic_load(&r->slots[peer][i]);
    if (pid == 0) continue;
    if (check_liveness && pid != getpid() && pid_gone(pid)) {
      atomic_compare_exchange_strong(&r->slots[peer][i], &pid, 0);
      continue;
    }
    held = 1;
  }
  return !held;
}

static void ring_copy_in(spsc_ring* r, uint64_t pos, const void* src, size_t len) {
  if (len == 0) return; /* an empty message's buffer may be NULL */
  size_t at = (size_t)(pos % SPSC_RING_BYTES);
  size_t first = len < SPSC_RING_BYTES - at ? len : SPSC_RING_BYTES - at;
  memcpy(r->data + at, src, first);
  memcpy(r->data, (const unsigned char*)src + first, len - first);
}

static void ring_copy_out(const spsc_ring* r, uint64_t pos, void* dst, size_t len) {
  if (len == 0) return;
  size_t at = (size_t)(pos % SPSC_RING_BYTES);
  size_t first = len < SPSC_RING_BYTES - at ? len : SPSC_RING_BYTES - at;
  memcpy(dst, r->data + at, first);
  memcpy((unsigned char*)dst + first, r->data, len - first);
}

/* Sleeps on `word` (last read as `seen`) for at most one liveness slice and
   the time left before `deadline` (CLOCK_MONOTONIC ns, -1: none). Returns
   -ETIMEDOUT once the deadline has passed, 0 otherwise. */
static int wait_for(_Atomic uint32_t* word, uint32_t seen, int64_t deadline) {
  int ms = SPSC_LIVENESS_MS;
  if (deadline >= 0) {
    const int64_t left = deadline - now_ns();
    if (left <= 0) return -ETIMEDOUT;
    const int64_t left_ms = (left + 999999) / 1000000; /* never wake early */
    if (left_ms < ms) ms = (int)left_ms;
  }
  int rc = futex_wait(word, seen, ms);
  (void)rc; /* woken, value changed (EAGAIN), slice over or EINTR: look again */
  return 0;
}

static void* spsc_create(const char* scratch_dir, char* err, size_t err_len) {
  (void)scratch_dir;
  spsc_channel* ch = malloc(sizeof *ch);
  if (ch == NULL) {
    snprintf(err, err_len, "malloc: %s", strerror(errno));
    return NULL;
  }
  void* p =
      mmap(NULL, sizeof(spsc_ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    snprintf(err, err_len, "mmap(MAP_SHARED|MAP_ANONYMOUS, %zu bytes): %s", sizeof(spsc_ring),
             strerror(errno));
    free(ch);
    return NULL;
  }
  ch->ring = p; /* zero-filled: empty, no ends */
  return ch;
}

static void* spsc_open(void* channel, int role, char* err, size_t err_len) {
  spsc_channel* ch = channel;
  if (role != IPCSPEC_READER && role != IPCSPEC_WRITER) {
    snprintf(err, err_len, "unknown role %d", role);
    return NULL;
  }
  if (ch->ring == NULL) {
    snprintf(err, err_len, "open() after destroy()");
    return NULL;
  }
  spsc_end* end = malloc(sizeof *end);
  if (end == NULL) {
    snprintf(err, err_len, "malloc: %s", strerror(errno));
    return NULL;
  }
  spsc_ring* r = ch->ring;
  const int32_t pid = (int32_t)getpid();
  for (int i = 0; i < SPSC_SLOTS; ++i) {
    int32_t free_slot = 0;
    if (atomic_compare_exchange_strong(&r->slots[role][i], &free_slot, pid)) {
      end->ring = r;
      end->role = role;
      end->slot = i;
      atomic_store(&r->ever[role], 1);
      return end;
    }
  }
  free(end);
  snprintf(err, err_len, "all %d %s slots are taken", SPSC_SLOTS,
           role == IPCSPEC_READER ? "reader" : "writer");
  return NULL;
}

/* The mapping stays until destroy(): the ends this process opened use it,
   and it goes away with the process anyway. */
static void spsc_detach(void* channel) { (void)channel; }

static int spsc_send(void* e, const void* buf, size_t len, size_t* sent, int timeout_ms) {
  spsc_end* end = e;
  spsc_ring* r = end->ring;
  *sent = 0;
  if (end->role != IPCSPEC_WRITER) return -EBADF;
  if (len > SPSC_MAX_MESSAGE) return -EMSGSIZE;
  const int64_t deadline = timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : -1;
  for (int first = 1;; first = 0) {
    const uint32_t seen = atomic_load(&r->space_seq);
    /* Liveness is checked once a wait has begun (or, with timeout 0, before
       -EAGAIN), not on every send. */
    if (peer_gone(r, IPCSPEC_READER, !first)) return -EPIPE;
    const uint64_t w_msgs = atomic_load_explicit(&r->w_msgs, memory_order_relaxed);
    const uint64_t w_bytes = atomic_load_explicit(&r->w_bytes, memory_order_relaxed);
    const uint64_t queued = w_msgs - atomic_load_explicit(&r->r_msgs, memory_order_acquire);
    const uint64_t bytes = w_bytes - atomic_load_explicit(&r->r_bytes, memory_order_acquire);
    if (queued < SPSC_MAX_QUEUED && bytes + len <= SPSC_CAPACITY) {
      const uint64_t pos = w_bytes + w_msgs * SPSC_HEADER;
      const uint32_t header = (uint32_t)len;
      ring_copy_in(r, pos, &header, SPSC_HEADER);
      ring_copy_in(r, pos + SPSC_HEADER, buf, len);
      atomic_store_explicit(&r->w_bytes, w_bytes + len, memory_order_relaxed);
      atomic_store_explicit(&r->w_msgs, w_msgs + 1, memory_order_release); /* publishes */
      bump(&r->data_seq);
      *sent = len;
      return 0;
    }
    /* A call that does not wait owes -EPIPE as soon as one that waits
       would: a last look, with liveness, before -EAGAIN. */
    if (timeout_ms == 0) {
      if (!first) return -EAGAIN;
      continue;
    }
    if (wait_for(&r->space_seq, seen, deadline) != 0) return -ETIMEDOUT;
  }
}

static int spsc_recv(void* e, void* buf, size_t cap, size_t* received, int timeout_ms) {
  spsc_end* end = e;
  spsc_ring* r = end->ring;
  *received = 0;
  if (end->role != IPCSPEC_READER) return -EBADF;
  const int64_t deadline = timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : -1;
  for (int first = 1;; first = 0) {
    const uint32_t seen = atomic_load(&r->data_seq);
    /* Whether the writer has gone, read before the ring: what it published
       before closing is then seen below. */
    const int gone = peer_gone(r, IPCSPEC_WRITER, !first);
    const uint64_t r_msgs = atomic_load_explicit(&r->r_msgs, memory_order_relaxed);
    const uint64_t r_bytes = atomic_load_explicit(&r->r_bytes, memory_order_relaxed);
    if (atomic_load_explicit(&r->w_msgs, memory_order_acquire) != r_msgs) {
      const uint64_t pos = r_bytes + r_msgs * SPSC_HEADER;
      uint32_t len;
      ring_copy_out(r, pos, &len, SPSC_HEADER);
      if (len > cap) return -EMSGSIZE; /* the message stays for a larger buffer */
      ring_copy_out(r, pos + SPSC_HEADER, buf, len);
      atomic_store_explicit(&r->r_bytes, r_bytes + len, memory_order_relaxed);
      atomic_store_explicit(&r->r_msgs, r_msgs + 1, memory_order_release); /* frees the space */
      bump(&r->space_seq);
      *received = len;
      return 0;
    }
    if (gone) return IPCSPEC_END;
    /* A writer that died owes END to a call that does not wait too: a last
       look, with liveness, before -EAGAIN. */
    if (timeout_ms == 0) {
      if (!first) return -EAGAIN;
      continue;
    }
    if (wait_for(&r->data_seq, seen, deadline) != 0) return -ETIMEDOUT;
  }
}

static void spsc_close(void* e) {
  spsc_end* end = e;
  spsc_ring* r = end->ring;
  atomic_store(&r->slots[end->role][end->slot], 0);
  /* Wake the peer: a blocked reader sees the end, a blocked writer EPIPE. */
  bump(end->role == IPCSPEC_WRITER ? &r->data_seq : &r->space_seq);
  free(end);
}

static void spsc_destroy(void* channel) {
  spsc_channel* ch = channel;
  if (ch->ring != NULL) munmap(ch->ring, sizeof(spsc_ring));
  free(ch);
}

static const ipcspec_transport kSpscRing = {
    .abi_version = IPCSPEC_ABI_VERSION,
    .name = "spsc_ring",
    .caps = {.framing = IPCSPEC_MESSAGE,
             .direction = IPCSPEC_ONE_WAY,
             .flags = IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE,
             .max_message = SPSC_MAX_MESSAGE,
             .capacity = SPSC_CAPACITY,
             .max_queued = SPSC_MAX_QUEUED},
    .create = spsc_create,
    .open = spsc_open,
    .detach = spsc_detach,
    .send = spsc_send,
    .recv = spsc_recv,
    .close = spsc_close,
    .destroy = spsc_destroy,
};

__attribute__((visibility("default"))) const ipcspec_transport* ipcspec_transport_v1(void) {
  return &kSpscRing;
}
