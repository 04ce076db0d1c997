// properties/model/model.h: the reference models (oracles) and the one-process
// executor that checks a transport against them step by step.
//
// One model per capability class: a byte stream, a FIFO message queue (also
// used for priority and typed queues, since the generic interface sends
// everything at one priority and type) and a counter (8-byte values summed,
// a receive takes the sum and resets it). The executor opens both ends of one
// channel in the calling process, performs every step without blocking and
// asks the model after each step whether what happened was allowed:
//
//   Verdict v = ExecuteSteps(transport, scenario.steps, env.scratch_dir);
//   // "step 7: reader receives without blocking into 512 bytes: expected 3
//   //  bytes (message 2), got -EAGAIN"
//
// G-MODEL (g_model.cc), the fuzz targets (fuzz/) and `ipcspec replay` all
// use it, so a fuzz crash and a shrunk property failure read alike.
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
  // Whether a receive into `cap` bytes must give something (data or END);
  // the executor then allows a short bounded wait for asynchronous
  // transports.
  virtual bool MustDeliver(uint64_t cap) const = 0;
  // A receive into `cap` bytes returned `rc` and `got`. `waited`: it was a
  // bounded wait (an empty channel then gives -ETIMEDOUT, not -EAGAIN).
  virtual std::string OnRecv(uint64_t cap, bool waited, int rc, std::span<const std::byte> got) = 0;
  // The (only) writer closed its end.
  virtual void OnCloseWriter() = 0;
  // Nothing buffered.
  virtual bool Empty() const = 0;
  // What the model holds, for messages: "2 messages (message 3 first)".
  virtual std::string Holds() const = 0;
};

// The model for the capabilities' class: kByteStream -> stream; kFifoQueue,
// kPriorityQueue, kTypedQueue -> FIFO queue; kCounter -> counter. nullptr
// for kUnordered (no model: delivery order is not defined).
std::unique_ptr<ReferenceModel> MakeModel(const Capabilities& c);

// The bytes the executor sends as message `msg` of `size` bytes (at most
// 2 MiB): a slice of a fixed pseudo-random tape that starts at a place given
// by msg, or for a counter an 8-byte native-endian value msg+1.
std::vector<std::byte> ModelPayload(const Capabilities& c, uint64_t msg, uint64_t size);

struct ExecOptions {
  // Bound of the wait allowed when the model says a receive must deliver.
  int deliver_wait_ms = 1000;
  // Longest kWait step honoured (longer ones are cut to this).
  int max_wait_ms = 1000;
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
// message), kWait (a receive waiting at most `size` ms), kClose of actor 1
// (the writer). Other steps, and sends after the close, are ignored. Every
// send and receive is non-blocking: kSend and kRecv behave as kTrySend and
// kTryRecv, since one process cannot wait for itself. See ExecOptions for
// virtual time.
Verdict ExecuteSteps(const Transport& t, const std::vector<Step>& steps,
                     const std::string& scratch_dir, const ExecOptions& options = {});

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_MODEL_MODEL_H_
