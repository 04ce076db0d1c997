/* ipcspec/plugin.h: the stable C contract for out-of-tree transports.
 *
 * A plugin is a shared object that exports one symbol,
 * ipcspec_transport_v1(), returning a static description of its transport:
 * a name, its capabilities and the functions that drive a channel.
 * `ipcspec run --plugin=./libmine.so` loads it and runs every property its
 * capabilities make applicable, each case in forked processes.
 *
 *   static const ipcspec_transport kMine = {
 *     IPCSPEC_ABI_VERSION, "mine",
 *     {IPCSPEC_MESSAGE, IPCSPEC_ONE_WAY,
 *      IPCSPEC_RELIABLE | IPCSPEC_ORDERED | IPCSPEC_PEER_CLOSE, 0,
 *      4096, 65536, 0, 0},
 *     mine_create, mine_open, mine_detach, mine_send, mine_recv,
 *     mine_close, mine_destroy};
 *   const ipcspec_transport* ipcspec_transport_v1(void) { return &kMine; }
 *
 * This header is ABI version 1. It only ever grows by appending fields under
 * a new version, or by new bits in caps.flags whose absence means what it
 * always meant; these names and this layout never change.
 *
 * What the capabilities promise is what the properties demand, no more.
 * Where real kernel mechanisms differ (does a refused receive keep the
 * message? does a message cost buffer room beyond its payload?) the harness
 * accepts each of their behaviours unless a flag below says which one the
 * transport has; then it checks that one.
 */
#ifndef IPCSPEC_PLUGIN_H_
#define IPCSPEC_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IPCSPEC_ABI_VERSION 1u
enum { IPCSPEC_STREAM = 0, IPCSPEC_MESSAGE = 1 }; /* caps.framing   */
enum { IPCSPEC_ONE_WAY = 0, IPCSPEC_DUPLEX = 1 }; /* caps.direction */
enum { IPCSPEC_READER = 0, IPCSPEC_WRITER = 1 };  /* role in open() */

/* caps.flags. Without IPCSPEC_RELIABLE messages may be lost; whatever the
   flags, what arrives is never duplicated, corrupted, merged or split. */
/* Every message (every byte of a STREAM) sent arrives. A STREAM without it
   may stop short: what arrives is a prefix of what was sent. */
#define IPCSPEC_RELIABLE (1u << 0)
/* Messages of one writer arrive in the order sent. A STREAM is ordered by
   definition, whether or not it says so. */
#define IPCSPEC_ORDERED (1u << 1)
/* Several writers may open the channel at once. */
#define IPCSPEC_MULTI_WRITER (1u << 2)
/* The reader gets IPCSPEC_END once every writer's end is closed -- by
   close() or by the writer's death (SIGKILL) -- and everything they sent was
   received; a writer's send gets -EPIPE (or -ECONNRESET) once the reader's
   end is closed. Without it a transport may still report END, but only
   after every writer has closed. Either way, no END comes before the first
   writer has opened its end; a writer whose process has yet to open its
   end holds none, so END may come once every end opened so far is closed
   (or it may wait for every process's detach(), as a pipe does). */
#define IPCSPEC_PEER_CLOSE (1u << 3)
/* Flags added within version 1. */
/* `capacity` and `max_queued` count payload only, with no per-message
   overhead (headers, page rounding): a send is refused exactly when its
   payload would not fit. Without it a channel may spend room on each message
   and refuse earlier (see caps.capacity). */
#define IPCSPEC_EXACT_CAPACITY (1u << 4)
/* recv() into a buffer smaller than the next message gives -EMSGSIZE and the
   message stays queued for the next recv (mq_receive(3), msgrcv(2) without
   MSG_NOERROR). */
#define IPCSPEC_SHORT_RECV_KEEPS (1u << 5)
/* recv() into a buffer smaller than the next message gives -EMSGSIZE and the
   message is consumed (a datagram read with MSG_TRUNC, reported as an
   error). With neither SHORT_RECV flag, either is accepted, message by
   message. */
#define IPCSPEC_SHORT_RECV_DROPS (1u << 6)
/* With IPCSPEC_PEER_CLOSE: only close() ends the stream. A writer that dies
   without closing its end is not noticed, and the reader's receives then
   time out instead of reporting END (user-space transports that keep
   writer counts in shared memory). */
#define IPCSPEC_CLOSE_ONLY (1u << 7)
/* The transport finds new data by polling (say, re-reading a file): data,
   END and the end of a bounded wait may come up to one polling interval
   (at most ipcspec's --hang-grace) late. */
#define IPCSPEC_POLLED (1u << 8)
/* A process holds at most one end of each role at a time, whatever the
   channel (the reader of a signal channel is its process: two channels
   would share it). Without it a process may hold any ends: ends of two
   channels, or both ends of one, each independent of the others. */
#define IPCSPEC_ONE_END_PER_PROCESS (1u << 9)
/* The channel is a counter, as eventfd(2) is: MESSAGE framing, max_message
   8. A send of 8 bytes adds their value (a uint64_t in host byte order) to
   the counter, and a shorter send gives -EINVAL. A recv() into a buffer of 8
   bytes or more takes the whole counter as 8 bytes and sets it to 0; into a
   smaller buffer it gives -EINVAL. A counter at 0 is an empty channel.
   Values are summed, not queued: ORDERED, max_queued and the SHORT_RECV
   flags do not apply. It needs IPCSPEC_RELIABLE: a sum that may have lost
   an add has nothing to be checked against. A send of the value 0 succeeds
   at once and leaves the counter as it is. The counter holds at most
   0xfffffffffffffffe: an add that would pass it waits for a recv to make
   room (-EAGAIN with timeout 0), and the value 0xffffffffffffffff gives
   -EINVAL, as eventfd(2)'s write does. With IPCSPEC_DUPLEX both ends
   share the one counter, as two descriptors of one eventfd do: a send from
   either end adds to it, and a recv at either end takes the whole sum. */
#define IPCSPEC_COUNTER (1u << 10)

#define IPCSPEC_END 1 /* recv(): end of stream */

typedef struct ipcspec_caps {
  uint32_t framing, direction, flags, reserved;
  /* The largest message (MESSAGE) or single send (STREAM); 0 = unbounded.
     A larger send gives -EMSGSIZE and sends nothing. */
  uint64_t max_message;
  /* The most payload bytes the channel holds while nobody receives; 0 = not
     declared. Checked: (1) a non-blocking send never takes the payload
     buffered past `capacity` (-EAGAIN; a STREAM send may take the part that
     fits); (2) an empty channel takes one send of min(capacity, max_message)
     bytes whole, without blocking; (3) with IPCSPEC_EXACT_CAPACITY, a send
     is refused only when its payload would not fit. Without that flag a
     channel may refuse earlier, for example after 16384 zero-length
     messages with 4-byte length headers in a 64 KiB pipe. On a DUPLEX
     channel it is each direction's (as each socket of a pair has its own
     buffer); directions that share one buffer declare half of it.
     Declared or not, a channel buffers: once the reader's end is open, a
     send that does not block into an empty channel is not refused for want
     of room (a STREAM takes at least part of it) unless it is larger than
     a declared capacity, and it waits for no receive. A channel that holds
     nothing while nobody receives (each send a rendezvous with a receive)
     is not one this ABI describes. */
  uint64_t capacity;
  /* Sends up to this size never interleave with other writers' sends;
     0 = no such guarantee. Needs IPCSPEC_MULTI_WRITER. */
  uint64_t atomic_write;
  /* The most messages the channel holds while nobody receives, for queues
     bounded by count (mq_maxmsg); 0 = not declared. The next non-blocking
     send gives -EAGAIN, and an empty channel takes max_queued zero-length
     messages without blocking. MESSAGE framing only; on a DUPLEX channel,
     each direction's, as with capacity. */
  uint64_t max_queued;
} ipcspec_caps;

typedef struct ipcspec_transport {
  uint32_t abi_version; /* IPCSPEC_ABI_VERSION */
  /* Letters, digits, '_', '-' and '.', at most 100 of them, not beginning
     with '-'. */
  const char* name;
  ipcspec_caps caps;
  /* Life of a channel. The case process calls create(), then forks the
     participants. Every process that takes part calls open() once per end it
     uses, then detach() to drop its own hold on the channel (for a pipe:
     the two descriptors create() made), uses its ends, close()s them. The
     case process calls detach() once the participants are forked and, after
     they have all exited, destroy(), which removes whatever has a name.
     A process may open both ends (one-process tests do), and two of its
     threads may use its two ends at once. An end is opened, used and closed
     by one thread: send and recv on one end are never concurrent.
     Any process may make channels, several at once: two processes forked
     from one must not pick the same name. Whatever a transport sets in a
     process for a while (a signal's action, the signal mask, an interval
     timer, the umask, the working directory) is as before once its end is
     closed and its channel destroyed;
     a thread or timer it starts for a channel is gone by destroy().
     The descriptors it opens are close-on-exec, so that a program a process
     runs does not inherit the channel, and what it makes where other users
     can see it (SysV ids, /dev/shm and mqueue names) gives group and
     others no access (mode 0600). */
  /* scratch_dir: a private directory for path-named objects.
     NULL + a message in err on failure. */
  void* (*create)(const char* scratch_dir, char* err, size_t err_len);
  void* (*open)(void* channel, int role, char* err, size_t err_len);
  void (*detach)(void* channel);
  /* Return 0 with *sent / *received set, IPCSPEC_END (recv only), or -errno
     (-EPIPE, -EBADF, -EMSGSIZE, ...). No call raises SIGPIPE: a send to a
     peer that has gone returns its error in a process that leaves SIGPIPE
     at its default action too (MSG_NOSIGNAL; for a pipe, SIGPIPE blocked
     around the write and the pending one taken with sigtimedwait()).
     timeout_ms: -1 waits as long as it takes; 0 never blocks (-EAGAIN when
     nothing can be done at once); >0 waits at most that long, then
     -ETIMEDOUT: never earlier, and within a few milliseconds after
     (IPCSPEC_POLLED: within one polling interval). Any call returns as soon
     as it can complete: data, END, room, or an error.
     A MESSAGE transport sends and receives whole messages, and a
     zero-length message is legal. Its recv() into a buffer smaller than the
     next message gives -EMSGSIZE (see the SHORT_RECV flags for what happens
     to the message); it may also refuse any buffer smaller than
     max_message, as mq_receive(3) does, and then keeps the message. It
     never returns part of a message as a success.
     A STREAM transport may send or receive part of the buffer.
     send()'s buffer is the caller's: send() does not write into it, and
     does not read it once it has returned (copy what is kept).
     ONE_WAY: send() on a reader's end and recv() on a writer's end give
     -EBADF at once, whatever the timeout, and disturb nothing.
     DUPLEX: both ends send and receive; what one end sends arrives at the
     other. A reader's end may need to receive first before it can send (a
     datagram reader answers the last sender), so the writer's end always
     speaks first. */
  int (*send)(void* end, const void* buf, size_t len, size_t* sent, int timeout_ms);
  int (*recv)(void* end, void* buf, size_t cap, size_t* received, int timeout_ms);
  void (*close)(void* end);
  void (*destroy)(void* channel);
} ipcspec_transport;

/* The one symbol a plugin exports. */
const ipcspec_transport* ipcspec_transport_v1(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* IPCSPEC_PLUGIN_H_ */
