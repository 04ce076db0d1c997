// properties/support/common.h: what the properties share: the one payload
// pattern (every byte depends on writer, message number and position, made
// and checked eight bytes at a time); edge-biased size generators; the
// bounds of every wait, from the case's time unit; and the open / barrier /
// close choreography of forked actors.
//
//   const Waits w = Waits::For(env);                 // deliver_ms, quiet_ms
//   std::vector<std::byte> p = Payload(1, 7, 4096);  // writer 1, message 7
//   bool same = IsPayload(p, {1, 7, 4096});
//   Verdict v = RunActors(t, env, {writer, reader});
#ifndef IPCSPEC_PROPERTIES_SUPPORT_COMMON_H_
#define IPCSPEC_PROPERTIES_SUPPORT_COMMON_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "ipcspec/property.h"
#include "ipcspec/sandbox.h"
#include "ipcspec/transport.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {

// A bound for one send or receive in a mechanism property.
inline constexpr int kOpTimeoutMs = 1500;

// How long a generic property waits, from the case's --time-unit and
// --hang-grace. A property waits on events; these bounds are the last
// resort, or the wait of a receive that is owed nothing.
struct Waits {
  // Something is owed (a sent message, END, room after a drain): the call
  // returns the moment it comes, and fails only if it never does.
  int deliver_ms = 1000;
  // Nothing is owed, and a receive must time out to say so: about one time
  // unit. Rare on the pass path.
  int quiet_ms = 10;
  // The time unit and the hang grace, for what comes at once.
  int unit_ms = 10;
  int grace_ms = 1000;
  // How late what a close makes due (END, -EPIPE) may come to a call that
  // waits for it, as G-WAKEUP allows it once a channel: an eighth of a
  // time unit more than the unit (12.5 ms at the default 10 ms, 2 ms at
  // least); `realtime` false: --hang-grace more.
  int64_t AfterCloseUs(bool realtime) const;
  static Waits For(const CaseEnv& env);
};

// END, once given, stays: every writer has closed (or died) and none opens
// again, so each receive after it can complete at once, with END (or
// -ECONNRESET, which a socket gives once). "" or what broke: a receive
// with timeout 0 that gives anything else, or one with the deliver bound
// that says so later than `allowed_us` (not counting this process's wait
// for a CPU), or not at all. `buf`: room for the largest message.
std::string EndStays(End& end, std::span<std::byte> buf, const Waits& waits, int64_t allowed_us);

// The timeout of a call whose result is owed at once (END once every writer
// closed, -EPIPE once the reader did): a transport may take a path of its
// own for each kind, so a property draws one. Choice 0 is the deliver
// bound, 1 is 0 (a non-blocking call, asked again with a Backoff), 2 is -1
// (a hang is the watchdog's to report).
inline constexpr std::string_view kOwedCallTimeouts[] = {"the deliver bound", "0", "-1"};
int OwedCallTimeout(uint64_t choice, const Waits& waits);
// "1000 ms", "0", "-1".
std::string SayCallTimeout(int timeout_ms);

// For a property about how late something may come, where no event tells
// when it has: asks again later, each time twice as late (the first after
// a 128th of `bound`), until the next pause would take the waits past it.
//   Backoff again(bound);
//   do { rc = end.Recv(buf, &n, 0); } while (rc == -EAGAIN && again.Next());
class Backoff {
 public:
  explicit Backoff(absl::Duration bound) : bound_(bound), pause_(bound / 128) {}
  // Sleeps the next pause; false, without sleeping, once the bound is spent.
  bool Next();
  absl::Duration waited() const { return waited_; }
  // What was waited, to the millisecond: "1.5s".
  std::string SayWaited() const;

 private:
  absl::Duration bound_, pause_, waited_;
};

// Byte `offset` of message `msg` from writer `writer`: a hash, so a shifted,
// torn, duplicated or dropped piece never looks right.
uint8_t PatternByte(uint32_t writer, uint64_t msg, uint64_t offset);
std::vector<std::byte> Payload(uint32_t writer, uint64_t msg, uint64_t size);
// The page size in bytes.
uint64_t Page();
// The same bytes as chars: the text of a message for a C API (msgsnd, mq_send).
std::vector<char> PayloadText(uint32_t writer, uint64_t msg, uint64_t size);
// Bytes [offset, offset + out.size()) of that message, eight at a time.
void FillPayload(uint32_t writer, uint64_t msg, uint64_t offset, std::span<std::byte> out);
// The index in `got` of the first byte that is not bytes [offset, ...) of
// that message; got.size() when all are.
size_t PayloadMismatch(uint32_t writer, uint64_t msg, uint64_t offset,
                       std::span<const std::byte> got);

// The largest receive buffer a property uses for one message.
uint64_t RecvBufferSize(const Capabilities& c);
// A buffer for receives that drain whatever comes: one message, or 64 KiB
// of a stream.
uint64_t DrainBufferSize(const Capabilities& c);
// The largest single send a property generates.
uint64_t SizeLimit(const Capabilities& c);
// Sizes biased to the edges: 0, 1, PIPE_BUF and neighbours, capacity and
// neighbours, max_message and max_message-1, and anything up to SizeLimit.
// With `header_widths`, also the sizes either side of the widths a length
// header is stored in (127/128, 255/256, 65535/65536): the properties about
// where messages begin and end draw them.
rc::Gen<uint64_t> EdgeSize(const Capabilities& c, bool header_widths = false);
// Receive buffer sizes for a byte stream: 1, odd sizes, page sizes, large.
rc::Gen<uint64_t> ChunkSize();
// A number below `n`, each as likely whatever rapidcheck's size, shrinking
// towards 0 (rc::gen::inRange scales its range down with the size).
rc::Gen<uint64_t> UniformBelow(uint64_t n);
// Whether a sanitizer's runtime (ASan, with UBSan) is in this process: it
// maps memory, keeps freed memory and makes descriptors of its own.
bool Sanitized();
// One of `n` cases, taken in turn over a run's examples rather than drawn:
// rapidcheck spreads the examples' sizes evenly from 0 to the run's largest
// (RunConfig::max_size), so of m examples the i-th takes case about i*n/m,
// and every case comes once m >= n. A uniform draw of one of 8 cases in 10
// examples leaves a given case out of a quarter of the runs, and a bug only
// that case sees with it. The case does not shrink (a failure keeps its
// size, and so its case).
rc::Gen<uint64_t> EachInTurn(uint64_t n);
// One of `values`, each as likely, shrinking towards the first: what
// rc::gen::elementOf draws, but that does not shrink (and so a counterexample
// kept its 4096-byte messages where any size failed alike).
rc::Gen<uint64_t> ShrinkingElementOf(std::vector<uint64_t> values);
// True in a third of the examples, shrinking to false (inRange shrinks
// towards 0; weightedElement does not shrink): for a costly or unusual
// variant of a property.
rc::Gen<bool> OneInThree();

// One expected message.
struct Sent {
  uint32_t writer;
  uint64_t msg;
  uint64_t size;
};
// Whether `got` is exactly the payload of `s`.
bool IsPayload(std::span<const std::byte> got, const Sent& s);
// Which of `candidates` these bytes are, for a readable failure
// ("message 5 from writer 1"), or nullopt.
std::optional<Sent> Identify(std::span<const std::byte> got, const std::vector<Sent>& candidates);
std::string Name(const Sent& s);

// Sends one whole payload: one message, or as many stream sends as it takes.
// With try_first, the first attempt may not block; what it could not send
// then goes with blocking sends, after `on_would_block` (if given) is called.
// A send that times out is made again while `again_after_timeout` (if
// given) says so.
std::string SendAll(End& end, const Sent& s, Framing framing, int timeout_ms,
                    bool try_first = false, const std::function<void()>& on_would_block = nullptr,
                    const std::function<bool()>& again_after_timeout = nullptr);

// A flag in shared memory that one participant raises and others wait for.
//
// When a case's actor fails (RunActorsOn), the flags its peers wait for may
// never be raised: every flag of the process is then abandoned
// (AbandonAll), and waits for one that is not raised end at once with
// false, in every process that shares it, as at their deadline. The
// failure is the verdict, not a wait that would have run into the watchdog.
class SharedFlags {
 public:
  explicit SharedFlags(size_t count = 8);
  ~SharedFlags();
  SharedFlags(SharedFlags&&) = default;
  SharedFlags& operator=(SharedFlags&&) = delete;
  void Raise(size_t i);
  bool IsRaised(size_t i) const;
  // Waits for flag i with futex wake-ups; false at the deadline or once the
  // flag is abandoned. Published on the watch board as a wait for a peer,
  // unless `watched` is false (a thread waiting for a sibling thread, which
  // the board does not see).
  bool WaitFor(size_t i, const Deadline& d, bool watched = true) const;
  // A shared counter, for progress between participants.
  std::atomic<uint64_t>& Counter(size_t i) const;
  // Abandons every flag of every SharedFlags this process holds (made here
  // or inherited): their waits, here and in the processes that share them,
  // end with false. Raised flags stay raised.
  static void AbandonAll();

 private:
  std::atomic<uint32_t>* Flag(size_t i) const;  // aborts past the count
  SharedMemory mem_;
  size_t count_;
};

// The process ids of a case's actors (in the order of the actors), each
// published by the actor's process before it opens its end.
class ActorPids {
 public:
  explicit ActorPids(size_t actors);
  void Publish(size_t actor);  // in actor `actor`'s process
  // Actor i's pid once it has published it; 0 at the deadline.
  pid_t Of(size_t actor, const Deadline& deadline) const;
  // Until actor i sleeps in a system call (blocked in the transport, or
  // done and waiting for the others), dies, or the deadline passes
  // (ipcspec/proc.h WaitUntilAsleep).
  void AwaitAsleep(size_t actor, const Deadline& deadline) const;

 private:
  SharedFlags flags_;
};
// One participant's part: returns "" on success or what went wrong. It may
// close its end early by resetting the pointer.
using ActorFn = std::function<std::string(std::unique_ptr<End>&)>;
// What a late actor does before it opens its end (wait for an event of the
// others, whose pids it may look up).
using BeforeOpenFn = std::function<void(const ActorPids&, const Deadline&)>;

// One of several ends an actor holds in its one process: `role` on channel
// `channel` of RunActorsOn.
struct EndOn {
  size_t channel;
  Role role;
  // Opened, used (by Actor::in_thread) and closed by a second thread of the
  // actor's process, which runs while with_ends runs in the first. At most
  // one end of an actor is so marked.
  bool own_thread = false;
};
// The part of an actor with several ends: ends[i] is Actor::ends[i]. It may
// close any of them early by resetting its pointer.
using EndsFn = std::function<std::string(std::vector<std::unique_ptr<End>>&)>;
struct Actor {
  std::string name;  // "reader", "writer 1"
  Role role;
  ActorFn fn;
  size_t channel = 0;  // which channel of RunActorsOn it opens its end on
  // Instead of `role`, `channel` and `fn`: the actor holds all these ends at
  // once (two channels, or both ends of one, as the plugin contract allows
  // a process), every one opened before it drops any channel's hold, and
  // runs `with_ends`.
  std::vector<EndOn> ends = {};
  EndsFn with_ends = nullptr;
  // With with_ends: runs first in the actor's process, before any of its
  // ends opens (a baseline of what the process has set).
  std::function<void()> before_ends = nullptr;
  // What the second thread does with the end marked own_thread (its slot in
  // with_ends's vector stays empty). Its failure is reported after the
  // first thread's. If the first thread fails while the second is still
  // busy, the second is left to end with the process.
  ActorFn in_thread = nullptr;
  // A late actor: the others do not wait for it to open its end (they may
  // send before it exists, as the contract allows: opens and traffic are
  // not ordered); it runs before_open, then opens its end and runs fn.
  BeforeOpenFn before_open = nullptr;
};
// Creates a channel and runs one participant per actor, each in a process
// of its own: each opens its end, waits until all have opened, runs its part,
// closes its end, then stays alive until every actor has finished (so end of
// stream comes from close, not exit). Without `during`, the last actor runs
// in the case process (Participants::RunHere), which lives on anyway. Destroys
// the channel after all have exited.

// What the case process may do while the actors run.
class ActorControl {
 public:
  ActorControl(Participants& ps, ProcessBarrier& finished) : ps_(ps), finished_(finished) {}
  // SIGKILLs an actor and waits for its death; the others no longer wait
  // for it. Its death is not a failure. It stays a zombie, not reaped,
  // while the case runs (Participants::JoinOneUnreaped): its peers must
  // learn of its death from the kernel (closed descriptors, a pidfd, the
  // process's state), not from its pid's disappearance.
  Verdict Kill(std::string_view name);

 private:
  Participants& ps_;
  ProcessBarrier& finished_;
};
// `during`, if given, runs in the case process while the actors run (to kill
// one of them, say); a failure it returns wins.
Verdict RunActors(const Transport& t, const CaseEnv& env, std::vector<Actor> actors,
                  std::function<Verdict(ActorControl&)> during = nullptr);
// The same on `channels` channels of `t`, all created before any actor
// forks, each in a scratch directory of its own (scratch_dir/channel-N);
// each actor opens its end on channel `Actor::channel` and drops its
// process's hold on every channel, as the case process does, so that one
// channel's end of stream never waits for a process of another.
Verdict RunActorsOn(const Transport& t, const CaseEnv& env, size_t channels,
                    std::vector<Actor> actors);

// Like RunActorsOn with two channels, but each channel is made, used and
// destroyed by a process of its own: channel 1 by the case process, channel 2
// by a process forked from it before either is made. The two makers start
// from one state, so a transport that names its objects after anything a
// process inherits (a count of the channels it made, an unseeded rand(), a
// generator seeded before the fork, its parent's pid) gives both channels
// one name. Both channels exist before any actor opens an end. Each actor
// holds ends of one channel only, and every actor is a process of its own
// (a child of its channel's maker).
Verdict RunActorsMadeApart(const Transport& t, const CaseEnv& env, std::vector<Actor> actors);

// Receives one message of any size into a buffer for the capabilities;
// returns the Recv code and fills `out`.
int RecvMessage(End& end, const Capabilities& c, std::vector<std::byte>* out, int timeout_ms);

// Opens `role` on the channel, then drops this process's hold. On failure
// the verdict says why.
std::unique_ptr<End> OpenEnd(Channel& ch, Role role, Verdict* failure);

// One participant's part on the channel: opens its end, passes `opened`
// whatever happens (so nobody waits for a participant that gave up), runs
// `fn` if all went well, and closes the end. What it does next (stay until
// the others finish, say) is the caller's.
Verdict RunPart(Channel& ch, Role role, ProcessBarrier& opened, const Deadline& deadline,
                const ActorFn& fn);

// "excluded by capability framing=stream" style reasons.
Applicability Needs(bool ok, std::string_view capability);

std::string Errno(int rc);  // "-EPIPE" style, or "END"

// Voluntary context switches of the calling thread so far: a call that
// slept in the kernel made at least one; a call preempted on a busy machine,
// none.
long ThreadSleeps();
// The CPU time of the calling thread so far.
absl::Duration ThreadCpuTime();

// CLOCK_MONOTONIC in nanoseconds, comparable between the processes of a
// case (for properties about time).
int64_t MonotonicNs();
// How many heap allocations (malloc, new) this process holds: in a
// sanitized build counted by malloc and free hooks (from the first call
// on), else glibc's bytes in use (mallinfo2) over 32, the least an
// allocation takes. Only differences mean anything.
int64_t HeapAllocations();
// What HeapAllocations counts: "allocations", or "x 32 bytes".
std::string_view HeapUnit();
// Whether a writer can fill the channel until a send would block: it
// declares a bound (capacity or max_queued) and is not a counter.
bool CanFill(const Capabilities& c);
// Sends of `msg` with timeout 0 until one is refused: -EAGAIN once the
// channel is full, 0 when it took far more than its declared bounds allow
// without refusing (G-BACKPRESSURE's business), or the error a send gave.
int FillWithoutWaiting(End& end, const Capabilities& c, std::span<const std::byte> msg);

// Sends from steps of `actor`, as Sent records in step order.
std::vector<Sent> SendsOf(const Scenario& s, uint32_t actor);
// Receive-buffer sizes from kRecv steps.
std::vector<uint64_t> ChunksOf(const Scenario& s);
// Sizes for messages that several writers send, bounded by atomic_write
// when the transport is a byte stream; never 0 on a byte stream.
// The largest send that atomic_write keeps whole (SizeLimit without one).
uint64_t AtomicLimit(const Capabilities& c);
rc::Gen<uint64_t> AtomicSize(const Capabilities& c);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_COMMON_H_
