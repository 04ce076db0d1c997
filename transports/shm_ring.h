// transports/shm_ring.h: a multi-writer, message-framed ring buffer in a
// shared-memory segment, shared by the sysv_shm and posix_shm transports.
// The ring logic lives here once; a transport only says how its segment is
// made and mapped, and how it waits and wakes (ShmSync).
//
//   void* base = ...;                    // a fresh zero-filled segment of
//   ShmRingInit(base);                   // ShmRingSegmentBytes() bytes
//   MySync::Init(ShmRingSyncArea(base)); // the primitive's own state
//   CreatorMapping creator(ShmMapping(base, MyUnmap));
//   ShmMapping m = creator.ForOpen();    // null in another process: there
//   if (m == nullptr) m = ShmMapping(MyMap(), MyUnmap);  // it maps its own
//   auto end = OpenShmRingEnd(Role::kWriter, std::move(m),
//                             std::make_unique<MySync>(...));
//   class MyTransport : public TransportBase {
//     MyTransport() : TransportBase({.name = "my_shm", .description = "...",
//                                    .caps = kShmRingCaps}) {}
//
// Framing: a message is one or more chunks, each an 8-byte header (body
// length; the first chunk also carries the message length) and its body. A
// writer publishes a chunk (advances the head) only once it is entirely in
// the ring, so the reader never sees a half-written chunk. A message larger
// than the ring (up to kShmRingMaxMessage) is streamed chunk by chunk while
// the writer holds the writer lock, and the reader reassembles it in an area
// of the segment, so a reader that times out half way leaves the pieces for
// the next Recv (from any reader end).
//
// Torn records: a Send that fails half way (timeout, EPIPE) or a writer that
// dies half way leaves a record that is never completed. The next message's
// first chunk, or end of stream, tells the reader that the record it is
// assembling was abandoned, and the reader discards it: a record is only
// ever delivered whole.
//
// Peer close: each End holds a slot with its pid in the segment. The reader
// gets kEnd once writers have opened, none holds a slot and the ring is
// drained; a writer gets -EPIPE once a reader has opened and none holds a
// slot. Closing an End frees its slot and wakes the peer. The death of a
// process holding an End (SIGKILL) is an event too: ShmSync makes the kernel
// wake the peer's Wait (SEM_UNDO, robust futexes), which then frees the slots
// of dead peers, so a crashed writer means end of stream, not a hang.
#ifndef IPCSPEC_TRANSPORTS_SHM_RING_H_
#define IPCSPEC_TRANSPORTS_SHM_RING_H_

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ipcspec/transport.h"
#include "transports/transport_base.h"

namespace ipcspec {

// The ring holds at most kShmRingCapacity payload bytes and at most
// kShmRingMaxQueued chunks (one per message sent without blocking), each
// with an 8-byte header: its data area has room for both limits at once, so
// a send would-blocks exactly at the declared capacity or max_queued.
inline constexpr size_t kShmRingCapacity = 65536;
inline constexpr size_t kShmRingMaxQueued = 1024;
inline constexpr size_t kShmRingMaxMessage = size_t{1} << 20;
// Open Ends per role.
inline constexpr int kShmRingMaxEnds = 64;
// Bytes reserved in the segment for the ShmSync implementation's state.
inline constexpr size_t kShmSyncAreaBytes = 8192;

// The capabilities both shared-memory transports declare: a named queue
// whose reader sees the end once every writer has closed or died.
inline constexpr Capabilities kShmRingCaps = [] {
  Capabilities caps = NamedQueueCaps(ModelClass::kFifoQueue, {.max_message = kShmRingMaxMessage,
                                                              .capacity = kShmRingCapacity,
                                                              .max_queued = kShmRingMaxQueued});
  caps.peer_close = true;
  return caps;
}();

// Two locks and two events, each indexed by a role (Role::kReader = 0,
// Role::kWriter = 1). The lock of a role is held by one End of that role for
// a whole Send or Recv; the event of a role is what its lock holder waits
// for (the reader: data or a writer closing or dying; the writer: room or
// the reader closing or dying).
class ShmSync {
 public:
  virtual ~ShmSync() = default;
  // Takes the lock: 0, -EAGAIN (nonblocking and held), -ETIMEDOUT (at
  // `until`) or -errno. A lock whose holder died holding it must be
  // released (SEM_UNDO, robust mutex) and is then taken normally.
  virtual int Lock(int role, bool nonblocking, absl::Time until) = 0;
  virtual void Unlock(int role) = 0;
  // This process claims End slot `slot` of `role`: until Closed(), the death
  // of this process wakes a Wait of the other role on its own, with no
  // process left to Post. 0, or -errno (-EBUSY: the slot is taken).
  virtual int Opened(int role, int slot) = 0;
  virtual void Closed(int role, int slot) = 0;
  // Waits for a Post of the event of `role`, or for the death of an End of
  // the other role (`peers`: the slots the ring counts as open), until
  // `until`: 0, -ETIMEDOUT, -EINTR or -errno. Posts made while nobody waits
  // coalesce into one pending wake-up (a binary semaphore), so a waiter may
  // wake spuriously, never miss one.
  virtual int Wait(int role, absl::Time until, std::span<const int> peers) = 0;
  virtual void Post(int role) = 0;
  // Whether a peer's death wakes one Wait only (a post, such as a SEM_UNDO
  // adjustment), rather than leaving a state every later Wait sees (a
  // robust futex's FUTEX_OWNER_DIED): then a Wait that found its condition
  // met may have taken the death's wake-up, and the ring looks for dead
  // peers before it sleeps again.
  virtual bool DeathWakesOnce() const { return false; }
};

// Bytes a segment needs (a multiple of the page size).
size_t ShmRingSegmentBytes();
// Lays out the ring header in a fresh zero-filled segment.
void ShmRingInit(void* base);
// Where ShmSync state lives in the segment: kShmSyncAreaBytes, 64-aligned.
void* ShmRingSyncArea(void* base);

// This process's view of a segment, shared by the Ends that use it; the
// deleter unmaps or detaches it when the last one lets go.
using ShmMapping = std::shared_ptr<void>;

// The mapping a channel made when it created the segment. Ends opened in the
// creating process while the channel holds it share it: one mapping, and one
// page fault per page, per process rather than per End (in one process the
// ring behaves the same through any number of views of it). An End opened in
// another process (a forked participant) maps the segment itself.
class CreatorMapping {
 public:
  explicit CreatorMapping(ShmMapping mapping);
  // The creator's mapping for an End opened now, or null.
  ShmMapping ForOpen() const;
  void reset() { mapping_.reset(); }

 private:
  ShmMapping mapping_;
  pid_t pid_;
};

// An End over the ring in `mapping`, which it keeps until closed.
absl::StatusOr<std::unique_ptr<End>> OpenShmRingEnd(Role role, ShmMapping mapping,
                                                    std::unique_ptr<ShmSync> sync);

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORTS_SHM_RING_H_
