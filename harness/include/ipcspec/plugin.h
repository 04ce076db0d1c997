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
 * a new version; these names and this layout never change.
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
#define IPCSPEC_RELIABLE (1u << 0)                /* no loss, no duplication        */
#define IPCSPEC_ORDERED (1u << 1)                 /* FIFO per writer                */
#define IPCSPEC_MULTI_WRITER (1u << 2)            /* several writers may open       */
#define IPCSPEC_PEER_CLOSE                                 \
  (1u << 3)           /* reader gets END after all writers \
                         closed; writer gets -EPIPE after  \
                         the reader closed               */
#define IPCSPEC_END 1 /* recv(): end of stream          */

typedef struct ipcspec_caps {
  uint32_t framing, direction, flags, reserved;
  uint64_t max_message;  /* largest message or send; 0 = unbounded        */
  uint64_t capacity;     /* bytes buffered before send blocks; 0 = unknown */
  uint64_t atomic_write; /* sends up to this size never interleave with
                            other writers' sends; 0 = no such guarantee   */
  uint64_t max_queued;   /* messages buffered before send blocks, for
                            queues bounded by count (mq_maxmsg); 0 = none */
} ipcspec_caps;

typedef struct ipcspec_transport {
  uint32_t abi_version; /* IPCSPEC_ABI_VERSION */
  const char* name;
  ipcspec_caps caps;
  /* Life of a channel. The case process calls create(), then forks the
     participants. Every process that takes part calls open() once per end it
     uses, then detach() to drop its own hold on the channel (for a pipe:
     the two descriptors create() made), uses its ends, close()s them. The
     case process calls detach() once the participants are forked and, after
     they have all exited, destroy(), which removes whatever has a name.
     A process may open both ends (one-process tests do). */
  /* scratch_dir: a private directory for path-named objects.
     NULL + a message in err on failure. */
  void* (*create)(const char* scratch_dir, char* err, size_t err_len);
  void* (*open)(void* channel, int role, char* err, size_t err_len);
  void (*detach)(void* channel);
  /* timeout_ms: -1 wait forever, 0 never block (-EAGAIN), >0 bounded
     (-ETIMEDOUT). Return 0 with *sent / *received set, IPCSPEC_END (recv
     only), or -errno (-EPIPE, -EBADF, -EMSGSIZE, ...). A MESSAGE transport
     sends and receives whole messages, and a zero-length message is legal;
     a STREAM transport may send or receive part of the buffer. */
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
