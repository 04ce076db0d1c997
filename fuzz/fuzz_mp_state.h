// fuzz/fuzz_mp_state.h: what the processes of one MP-FUZZ case share (in
// anonymous shared memory made before they fork) and what each reads from
// the scenario: fuzz/fuzz_mp.h describes the protocol.
//
//   MpScript script = MpScript::Of(transport.caps(), scenario);
//   SharedMemory mem(sizeof(MpShared));
//   MpShared* shared = new (mem.data()) MpShared;
//   // a writer, after send k took n bytes:
//   shared->Publish(w, k, n, rc);
//   // the reader, with nothing owed:
//   shared->WaitForChange(seen, deadline);
#ifndef IPCSPEC_FUZZ_FUZZ_MP_STATE_H_
#define IPCSPEC_FUZZ_FUZZ_MP_STATE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/fuzz_decode.h"
#include "ipcspec/scenario.h"
#include "ipcspec/transport.h"
#include "ipcspec/util.h"

namespace ipcspec::mp {

inline constexpr uint32_t kMaxWriters = 2;

enum WriterState : uint32_t {
  kRunning = 0,
  kClosing = 1,  // about to close its end: everything it sent is published
  kClosed = 2,
  kDying = 3,  // at its kill step, waiting for the SIGKILL
  kDead = 4,   // killed and reaped by the case process
};

struct WriterShared {
  std::atomic<uint32_t> state{kRunning};
  std::atomic<uint32_t> done{0};     // sends whose outcome is published
  std::atomic<uint32_t> in_send{0};  // 1 while in a blocking send that must deliver
  std::atomic<uint32_t> at_step{0};  // the scenario step it is at (1-based)
  int64_t taken[kMaxFuzzSteps];      // bytes send k took; -1: refused
  int32_t rc[kMaxFuzzSteps];         // its return code
};

struct MpShared {
  std::atomic<uint32_t> epoch{0};  // the futex word: bumped on every change
  std::atomic<uint32_t> reader_done{0};
  WriterShared writers[kMaxWriters + 1];  // [1] and [2]

  // Bumps the epoch and wakes whoever waits on it.
  void Bump();
  // Waits until the epoch is no longer `seen`; false at the deadline.
  bool WaitForChange(uint32_t seen, const Deadline& deadline);
  // A writer's send k took `taken` bytes (-1: refused) returning `rc`.
  void Publish(uint32_t w, uint64_t k, int64_t taken, int rc);
  void SetState(uint32_t w, WriterState s);
  WriterState StateOf(uint32_t w) const { return WriterState(writers[w].state.load()); }
};

// One send of a writer, as the script says it.
struct MpSend {
  size_t step = 0;  // index in the scenario
  uint64_t size = 0;
  bool blocking = false;
  // Refused by the capabilities whatever happens: over max_message
  // (-EMSGSIZE) or, on a counter, under 8 bytes (-EINVAL). 0: none.
  int refusal = 0;
  // Whether it puts anything in the channel when taken (not refused, and
  // not an empty write on a byte stream).
  bool delivers = false;
};

struct MpScript {
  Capabilities caps;
  uint32_t writers = 1;  // 1 or 2
  std::vector<MpSend> sends[kMaxWriters + 1];
  std::vector<size_t> steps[kMaxWriters + 1];  // each actor's steps, in order
  bool kill_planned[kMaxWriters + 1] = {false, false, false};

  static MpScript Of(const Capabilities& c, const Scenario& s);
};

// The bytes writer w sends as its message k: one of the model's payload
// patterns (props::ModelPayloadView), whose first byte's low bit is w - 1
// (the writer's mark), or for a counter the value MpCounterValue(w, k)
// (then zeros). The view is valid until the next call on this thread.
std::span<const std::byte> MpPayloadView(const Capabilities& c, uint32_t w, uint64_t k,
                                         uint64_t size);
// Where `got` stops being bytes `off`.. of writer w's message k (a byte
// stream or messages, not a counter), got.size() when it does not; no copy
// of the message is made.
size_t MpMismatch(uint32_t w, uint64_t k, uint64_t off, std::span<const std::byte> got);
inline uint64_t MpCounterValue(uint32_t w, uint64_t k) { return k + 1 + 1000 * (w - 1); }

}  // namespace ipcspec::mp

#endif  // IPCSPEC_FUZZ_FUZZ_MP_STATE_H_
