// properties/support/common.h: what the generic properties share: payloads whose
// every byte depends on writer, message number and position; edge-biased
// size generators; a checker that names the first byte or message that
// disagrees; and the open / barrier / traffic / close choreography.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_COMMON_H_
#define IPCSPEC_PROPERTIES_SUPPORT_COMMON_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/transport.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {

// Bounded wait for one send or receive inside a property.
inline constexpr int kOpTimeoutMs = 1500;

// Byte `offset` of message `msg` from writer `writer`: a hash, so a shifted,
// torn, duplicated or dropped piece never looks right.
uint8_t PatternByte(uint32_t writer, uint64_t msg, uint64_t offset);
std::vector<std::byte> Payload(uint32_t writer, uint64_t msg, uint64_t size);

// The largest receive buffer a property uses for one message.
uint64_t RecvBufferSize(const Capabilities& c);
// The largest single send a property generates.
uint64_t SizeLimit(const Capabilities& c);
// Sizes biased to the edges: 0, 1, PIPE_BUF and neighbours, capacity and
// neighbours, max_message and max_message-1, and anything up to SizeLimit.
rc::Gen<uint64_t> EdgeSize(const Capabilities& c);
// Receive buffer sizes for a byte stream: 1, odd sizes, page sizes, large.
rc::Gen<uint64_t> ChunkSize();

// One expected message.
struct Sent {
  uint32_t writer;
  uint64_t msg;
  uint64_t size;
};
// Which of `candidates` these bytes are, for a readable failure
// ("message 5 from writer 1"), or nullopt.
std::optional<Sent> Identify(const std::vector<std::byte>& got,
                             const std::vector<Sent>& candidates);
std::string Name(const Sent& s);

// Receives and checks one whole message. Empty string when it is the
// expected one; otherwise what went wrong.
std::string ExpectMessage(End& end, const Sent& want, const std::vector<Sent>& all, uint64_t buffer,
                          int timeout_ms);
// A chunk size with this bit set is first tried without blocking.
inline constexpr uint64_t kTryFirst = uint64_t{1} << 62;
// Receives a byte stream holding `want` in order, with the receive buffer
// sizes cycling through `chunks`. Empty string when all arrived intact.
std::string ExpectStream(End& end, const std::vector<Sent>& want,
                         const std::vector<uint64_t>& chunks, int timeout_ms);
// After the last expected byte: END when the writers have closed (peer_close)
// or would-block otherwise. Empty string when nothing extra arrived.
std::string ExpectNothingMore(End& end, const Capabilities& c, bool writers_closed);

// Sends one whole payload: one message, or as many stream sends as it takes.
// With try_first, the first attempt may not block; what it could not send
// then goes with blocking sends.
std::string SendAll(End& end, const Sent& s, Framing framing, int timeout_ms,
                    bool try_first = false);
// Receives `want` in any order (unordered transports): each message must be
// one of them, whole, at most once; with `reliable`, all must arrive.
std::string ExpectUnordered(End& end, const Capabilities& c, const std::vector<Sent>& want,
                            bool reliable);

// One participant's part: returns "" on success or what went wrong. It may
// close its end early by resetting the pointer.
using ActorFn = std::function<std::string(std::unique_ptr<End>&)>;
struct Actor {
  std::string name;  // "reader", "writer 1"
  Role role;
  ActorFn fn;
};
// Creates a channel, forks one participant per actor; each opens its end,
// waits until all have opened, runs its part, closes its end, then stays
// alive until every actor has finished (so end of stream comes from close,
// not exit). Destroys the channel after all have exited.
// What the case process may do while the actors run.
class ActorControl {
 public:
  ActorControl(Participants& ps, ProcessBarrier& finished) : ps_(ps), finished_(finished) {}
  // SIGKILLs an actor and waits for its death; the others no longer wait
  // for it. Its death is not a failure.
  Verdict Kill(std::string_view name);

 private:
  Participants& ps_;
  ProcessBarrier& finished_;
};
// `during`, if given, runs in the case process while the actors run (to kill
// one of them, say); a failure it returns wins.
Verdict RunActors(const Transport& t, const CaseEnv& env, std::vector<Actor> actors,
                  std::function<Verdict(ActorControl&)> during = nullptr);

// A flag in shared memory that one participant raises and others wait for.
class SharedFlags {
 public:
  explicit SharedFlags(size_t count = 8);
  void Raise(size_t i);
  bool IsRaised(size_t i) const;
  // Waits for flag i with futex wake-ups; false at the deadline.
  bool WaitFor(size_t i, const Deadline& d) const;
  // A shared counter, for progress between participants.
  std::atomic<uint64_t>& Counter(size_t i) const;

 private:
  SharedMemory mem_;
  size_t count_;
};

// Receives one message of any size into a buffer for the capabilities;
// returns the Recv code and fills `out`.
int RecvMessage(End& end, const Capabilities& c, std::vector<std::byte>* out, int timeout_ms);

// Opens `role` on the channel, then drops this process's hold. On failure
// the verdict says why.
std::unique_ptr<End> OpenEnd(Channel& ch, Role role, Verdict* failure);

// "excluded by capability framing=stream" style reasons.
Applicability Needs(bool ok, std::string_view capability);
// Properties over ordered delivery apply to these models.
bool OrderedModel(const Capabilities& c);

std::string Errno(int rc);  // "-EPIPE" style, or "END"


// Sends from steps of `actor`, as Sent records in step order.
std::vector<Sent> SendsOf(const Scenario& s, uint32_t actor);
// Receive-buffer sizes from kRecv steps.
std::vector<uint64_t> ChunksOf(const Scenario& s);
// Sizes for messages that several writers send, bounded by atomic_write
// when the transport is a byte stream; never 0 on a byte stream.
rc::Gen<uint64_t> AtomicSize(const Capabilities& c);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_COMMON_H_
