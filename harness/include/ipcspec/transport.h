// ipcspec/transport.h: the C++ Transport interface.
//
// A Transport describes one IPC mechanism: its capabilities and how to make a
// channel. Properties talk to transports only through this interface, so a
// built-in transport, a C plugin (see plugin.h) and a user's C++ class are
// tested alike. The life cycle is the plugin ABI's:
//
//   absl::StatusOr<std::unique_ptr<Channel>> ch = transport.Create(scratch);
//   // fork the participants; in each one:
//   absl::StatusOr<std::unique_ptr<End>> w = (*ch)->Open(Role::kWriter);
//   (*ch)->Detach();                 // drop this process's hold
//   size_t sent; (*w)->Send(data, &sent, /*timeout_ms=*/1000);
//   w->reset();                      // close()
//   // in the case process, after the participants have exited:
//   (*ch)->Destroy();                // removes whatever has a name
//
// Send and Recv return the ABI's codes: 0 (with *sent / *received set),
// kEnd (Recv only: end of stream) or -errno.
#ifndef IPCSPEC_TRANSPORT_H_
#define IPCSPEC_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ipcspec/plugin.h"

namespace ipcspec {

inline constexpr int kEnd = IPCSPEC_END;

enum class Role { kReader = IPCSPEC_READER, kWriter = IPCSPEC_WRITER };
enum class Framing { kStream, kMessage };
enum class Direction { kOneWay, kDuplex };

// The reference model a transport's delivered data is checked against.
enum class ModelClass {
  kByteStream,     // bytes in order, any chunking
  kFifoQueue,      // whole messages, first in first out
  kPriorityQueue,  // whole messages, highest priority first (POSIX mq)
  kTypedQueue,     // whole messages selected by type (SysV msgrcv)
  kCounter,        // 8-byte values summed until read (eventfd)
  kUnordered,      // whole messages, any order
};

// How much buffer room a message may cost beyond its payload; decides how
// far sends into a channel that nobody reads are sure to fill `capacity`.
enum class Overhead {
  kNone,     // none: a send is refused only when its payload would not fit
             // (IPCSPEC_EXACT_CAPACITY)
  kBounded,  // at most about the payload again (a pipe rounds a write up to a
             // page): a channel filled with messages of one size holds at
             // least half of what fits without overhead
  kUnknown,  // anything (a header per message): a channel that holds
             // something may refuse the next send (plugins without
             // IPCSPEC_EXACT_CAPACITY)
};

// What a receive into a buffer smaller than the next message does with the
// message, besides giving -EMSGSIZE.
enum class ShortRecv {
  kEither,  // undeclared: keeping and dropping are both accepted
  kKeeps,   // it stays queued (mq_receive, msgrcv without MSG_NOERROR)
  kDrops,   // it is consumed (a datagram read cut by MSG_TRUNC)
};

// What a transport promises; the properties demand exactly this. The ABI
// flags' meaning (plugin.h) is the meaning of these fields.
struct Capabilities {
  Framing framing = Framing::kStream;
  Direction direction = Direction::kOneWay;
  bool reliable = true;       // no loss (never duplication or corruption, whatever this says)
  bool ordered = true;        // FIFO per writer
  bool multi_writer = false;  // several writers may open
  bool peer_close = false;    // END after all writers close, EPIPE after reader
  bool end_on_death = true;   // with peer_close: a writer's death counts as its close
                              // (false: IPCSPEC_CLOSE_ONLY)
  bool named = false;         // reachable by name from an unrelated process
  ModelClass model = ModelClass::kByteStream;
  uint64_t max_message = 0;   // largest message or send; 0 = unbounded
  uint64_t capacity = 0;      // payload bytes buffered before send blocks; 0 = not declared
  uint64_t atomic_write = 0;  // sends up to this size never interleave
  uint64_t max_queued = 0;    // messages buffered before send blocks; 0 = none
  Overhead overhead = Overhead::kBounded;  // room a message costs beyond its payload
  ShortRecv short_recv = ShortRecv::kEither;
  bool realtime = true;              // false: polling or file-system based: wake-ups may lag
                                     // (IPCSPEC_POLLED)
  bool one_end_per_process = false;  // a process holds at most one end of each role
                                     // (IPCSPEC_ONE_END_PER_PROCESS)

  // The ABI view of these capabilities, and back (ABI caps carry no `named`
  // or `model`; they are derived; Overhead::kBounded has no ABI flag and
  // reads back as kUnknown).
  ipcspec_caps ToAbi() const;
  static Capabilities FromAbi(const ipcspec_caps& caps);
  // Self-contradictions, e.g. atomic_write without multi_writer, or
  // atomic_write above max_message. Empty = consistent.
  std::string Contradiction() const;
};

// What a plugin's send() buffer holds once send() has returned: the
// adapter sends from a copy of its own and overwrites it then, so a
// transport that reads the buffer later (a pointer kept for a batched
// write) delivers these bytes instead of the message.
inline constexpr std::byte kSentBufferPoison{0xdb};

// While one lives, a plugin's send() on this thread is given the caller's
// buffer itself rather than the harness's copy of it, whose memcpy would be
// the buffer's first reader: for a buffer whose first reader is watched
// (properties/support/touch_trap.h). The checks the copy makes possible (a
// send() that writes its input, one that reads it after returning) are off
// for those sends.
class SendBufferPassedThrough {
 public:
  SendBufferPassedThrough();
  ~SendBufferPassedThrough();
  SendBufferPassedThrough(const SendBufferPassedThrough&) = delete;
  SendBufferPassedThrough& operator=(const SendBufferPassedThrough&) = delete;
  static bool Now();  // whether one lives on this thread
};

// One end of an open channel. Destroying it is close().
class End {
 public:
  virtual ~End() = default;
  virtual int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) = 0;
  virtual int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) = 0;
};

// A channel made by Transport::Create. Destroying the object releases this
// process's resources only; Destroy() removes named objects.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual absl::StatusOr<std::unique_ptr<End>> Open(Role role) = 0;
  virtual void Detach() = 0;
  virtual absl::Status Destroy() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view name() const = 0;
  virtual const Capabilities& caps() const = 0;
  // One line: the mechanism and how it is used.
  virtual std::string_view description() const = 0;
  virtual absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& scratch_dir) const = 0;
};

std::string_view ModelClassName(ModelClass m);

// The C++ view of a transport described by the plugin ABI (plugin.h): what
// `--plugin` loads after dlopen, and how tests register a C transport built
// into them. `t` must outlive the result.
std::unique_ptr<Transport> TransportFromAbi(const ipcspec_transport* t, std::string description);

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORT_H_
