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

struct Capabilities {
  Framing framing = Framing::kStream;
  Direction direction = Direction::kOneWay;
  bool reliable = true;       // no loss, no duplication
  bool ordered = true;        // FIFO per writer
  bool multi_writer = false;  // several writers may open
  bool peer_close = false;    // END after all writers close, EPIPE after reader
  bool named = false;         // reachable by name from an unrelated process
  ModelClass model = ModelClass::kByteStream;
  uint64_t max_message = 0;   // largest message or send; 0 = unbounded
  uint64_t capacity = 0;      // bytes buffered before send blocks; 0 = unknown
  uint64_t atomic_write = 0;  // sends up to this size never interleave
  uint64_t max_queued = 0;    // messages buffered before send blocks; 0 = none
  bool realtime = true;       // false: polling or file-system based (slow)

  // The ABI view of these capabilities, and back (ABI caps carry no `named`,
  // `model` or `realtime`; they are derived).
  ipcspec_caps ToAbi() const;
  static Capabilities FromAbi(const ipcspec_caps& caps);
  // Self-contradictions, e.g. atomic_write without multi_writer, or
  // atomic_write above max_message. Empty = consistent.
  std::string Contradiction() const;
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

}  // namespace ipcspec

#endif  // IPCSPEC_TRANSPORT_H_
