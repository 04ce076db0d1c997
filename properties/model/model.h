// properties/model/model.h: the reference models (oracles) of the capability
// classes, and the executors that check a transport against them step by
// step.
//
// One model per class: a byte stream, a message queue (FIFO, also for
// priority and typed queues, since the generic interface sends everything at
// one priority and type; or unordered), and a counter (8-byte values summed,
// a receive takes the sum and resets it). Each knows what the capabilities
// leave open and accepts every such outcome:
//   - lossy (not reliable): a message may be gone; what comes is a
//     subsequence (unordered: a sub-multiset), a stream's bytes a prefix;
//   - a receive refused with -EMSGSIZE keeps the message, drops it, or
//     either (SHORT_RECV_KEEPS, SHORT_RECV_DROPS, undeclared);
//   - a send may be refused (-EAGAIN) only when the declared bounds allow:
//     exactly at the bound without per-message overhead, past half of it
//     for page-rounded buffers, whenever the channel holds something when
//     the overhead is unknown; and a send past a bound must be refused.
//
//   Verdict v = ExecuteSteps(transport, scenario.steps, env.scratch_dir);
//   // "step 7: reader receives without blocking into 512 bytes: expected 3
//   //  bytes (message 2), got -EAGAIN"
//
// ExecuteSteps drives both ends in the calling process with non-blocking
// calls (the fuzz targets and `ipcspec replay`); ExecuteStepsInActors runs
// the writer's steps in one process and the reader's in another, in lock
// step through shared memory (G-MODEL), so a transport whose ends behave per
// process is checked as it is used.
#ifndef IPCSPEC_PROPERTIES_MODEL_MODEL_H_
#define IPCSPEC_PROPERTIES_MODEL_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipcspec/sandbox.h"
#include "ipcspec/scenario.h"
#include "ipcspec/transport.h"

namespace ipcspec::props {

// What the model knows about one channel. Each On* method checks one
// observed result, returns "" when the contract allows it (and then updates
// the state) or "expected ..., got ..." when it does not.
class ReferenceModel {
 public:
  virtual ~ReferenceModel() = default;
  // A send of message `msg`, `size` bytes, without blocking, returned `rc`
  // with `sent` bytes taken.
  virtual std::string OnSend(uint64_t msg, uint64_t size, int rc, size_t sent) = 0;
  // Whether a receive into `cap` bytes must give something (data, END or
  // -EMSGSIZE); the executor then allows a bounded wait for asynchronous
  // transports, which returns the moment it comes.
  virtual bool MustDeliver(uint64_t cap) const = 0;
  // A receive into `cap` bytes returned `rc` and `got`. `waited`: it was a
  // bounded wait (an empty channel then gives -ETIMEDOUT, not -EAGAIN).
  virtual std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) = 0;
  // The (only) writer closed its end.
  virtual void OnCloseWriter() = 0;
  // Nothing is owed: what the model holds may all be gone.
  virtual bool Empty() const = 0;
  // What the model holds, for messages: "2 messages (message 3 first)".
  virtual std::string Holds() const = 0;
  // Bytes a reliable channel surely holds now, all counting toward its
  // capacity (a lower bound; 0 where the model does not say).
  virtual uint64_t SureBytes() const { return 0; }
};

// The model for the capabilities' class: kByteStream -> stream; kFifoQueue,
// kPriorityQueue, kTypedQueue, kUnordered -> queue (ordered or not);
// kCounter -> counter.
std::unique_ptr<ReferenceModel> MakeModel(const Capabilities& c);

// What message `msg` adds to a counter: mostly msg+1, but every fourth adds
// 0 (which must succeed at once and change nothing), message 1 and every
// eighth after it nearly the counter's maximum (an add past it must wait,
// not wrap), message 2 and every sixteenth after it 0xffffffffffffffff
// (-EINVAL), and every third of the rest has bits above 32 too (a sum kept
// in 32 bits loses them).
uint64_t CounterAdd(uint64_t msg);

// The bytes the executor sends as message `msg` of `size` bytes (at most
// 2 MiB): the common payload pattern (support/common.h) of writer 1, or for a
// counter an 8-byte native-endian value CounterAdd(msg).
std::vector<std::byte> ModelPayload(const Capabilities& c, uint64_t msg, uint64_t size);
// The same bytes without a copy: valid until the next call on this thread.
// With `filled` < size, only the first `filled` bytes are sure to be the
// payload (the rest is not computed): for a send that cannot take more
// without failing its check (MostTaken).
std::span<const std::byte> ModelPayloadView(const Capabilities& c, uint64_t msg, uint64_t size,
                                            uint64_t filled = ~uint64_t{0});

// Where `got` stops being bytes `off`.. of ModelPayload's message `msg`
// (got.size() when it does not), computed in pieces without a copy of the
// message: compared with the kept pattern (ModelPayloadView) where there is
// one, instead of computing the pattern again.
size_t ModelPayloadMismatch(uint64_t msg, uint64_t off, std::span<const std::byte> got);

// The most of a `size`-byte send that `t` may take from a channel holding
// `model`'s state without its check failing whatever the bytes are: over
// max_message nothing may be taken; a reliable transport with a capacity
// may take no more than the capacity left (past it, PastBound fails the
// send); otherwise all of it.
uint64_t MostTaken(const Capabilities& c, const ReferenceModel& model, uint64_t size);

struct ExecOptions {
  // Bound of the wait allowed when the model says a receive must deliver.
  int deliver_wait_ms = 1000;
  // Longest kWait step honoured (longer ones are cut to this).
  int max_wait_ms = 1000;
  // A kWait step of `size` waits size * wait_unit_ms (then cut to max_wait_ms).
  int wait_unit_ms = 1;
  // After the last step, receive whatever the model still holds and check
  // that nothing more comes.
  bool final_drain = true;
  // Virtual time (the fuzz targets): a bounded receive (kWait) whose outcome
  // the model predicts does not wait on the clock. When the model holds
  // something deliverable, the bounded receive returns at once anyway; when
  // it predicts a timeout (nothing buffered, no end of stream), the receive
  // is made without blocking and its -EAGAIN stands for the -ETIMEDOUT of a
  // wait that virtual time has already let pass.
  bool virtual_time = false;
  // Under virtual time, the first predicted timeout of the run still waits
  // for real, for at most real_timeout_ms (the caller makes this rare), so
  // the transports' own timeout paths are exercised too.
  bool one_real_timeout = false;
  int real_timeout_ms = 1;
};

// Runs `steps` on a new channel of `t` created in `scratch_dir`: opens the
// reader then the writer in this process, detaches, performs each step with
// non-blocking calls and checks it against the model; destroys the channel
// at the end. Steps: kTrySend / kSend (a send of `size` bytes, message
// `arg`), kTryRecv / kRecv (a receive into `size` bytes, 0 = the largest
// message), kWait (a receive waiting at most `size` wait units), kClose of
// actor 1 (the writer). Other steps, and sends after the close, are ignored.
// Every send and receive is non-blocking: kSend and kRecv behave as kTrySend
// and kTryRecv, since one process cannot wait for itself. See ExecOptions for
// virtual time.
Verdict ExecuteSteps(const Transport& t, const std::vector<Step>& steps,
                     const std::string& scratch_dir, const ExecOptions& options = {});

// The same steps with the writer and the reader in two processes (forked
// actors, support/common.h RunActors), one step at a time in order.
Verdict ExecuteStepsInActors(const Transport& t, const std::vector<Step>& steps, const CaseEnv& env,
                             const ExecOptions& options);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_MODEL_MODEL_H_
