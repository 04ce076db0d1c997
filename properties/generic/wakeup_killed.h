// properties/generic/wakeup_killed.h: G-WAKEUP-KILLED's run, shared by
// g_wakeup_killed.cc (the property and the case process's part, which
// picks the moment of the kill) and wakeup_killed_actors.cc (the writers'
// and the reader's parts). The flags and counters of the case's shared
// memory, and the run that reads and writes them.
#ifndef IPCSPEC_PROPERTIES_GENERIC_WAKEUP_KILLED_H_
#define IPCSPEC_PROPERTIES_GENERIC_WAKEUP_KILLED_H_

#include <sched.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/wakeup.h"
#include "properties/support/common.h"

namespace ipcspec::props::wakeup::killed {

constexpr size_t kWriters = 3;
constexpr uint64_t kSends = 6;  // each writer's sends that wait for room
constexpr int kMostRounds = 64;
constexpr uint64_t kMostTake = 64;  // messages one round takes at most
constexpr uint64_t kStreamPiece = 4096;

// Flags: writer 1 filled the channel; the victim is dead; the hold after
// it is over (a writer left sent, each timed out, or one failed); writer w
// is about to make its first send that waits; writer w sends no more; round
// r's go (the reader takes Counter(kTake) messages, everything when 0) and
// done.
constexpr size_t kFilled = 0, kKilled = 1, kHoldOver = 2;
inline size_t Entering(size_t w) { return 3 + w; }
inline size_t Finished(size_t w) { return 3 + kWriters + w; }
inline size_t Go(int r) { return 3 + 2 * kWriters + 2 * static_cast<size_t>(r); }
inline size_t Got(int r) { return Go(r) + 1; }
constexpr size_t kFlags = 3 + 2 * kWriters + 2 * (kMostRounds + 1);
// Counters: writer w's completed sends that waited, whether it is inside
// one, the bytes its calls moved; the fill; the take; when the reader last
// took; which writers left have timed out since the death (a bit each);
// when the reader began to take everything; whether it failed; when it
// then first found the channel empty.
inline size_t Completed(size_t w) { return w; }
inline size_t InSend(size_t w) { return kWriters + w; }
inline size_t Moved(size_t w) { return 2 * kWriters + w; }
constexpr size_t kFillCount = 3 * kWriters, kFillBytes = kFillCount + 1,
                 kNeverFull = kFillCount + 2, kTake = kFillCount + 3, kTookNs = kFillCount + 4,
                 kTimedOutAfter = kFillCount + 5, kDrainNs = kFillCount + 6,
                 kReaderFailed = kFillCount + 7, kEmptyNs = kFillCount + 8;
// When writer w's send k returned.
inline size_t SentNs(size_t w, uint64_t k) { return kEmptyNs + 1 + w * kSends + k; }

inline bool Stream(const Capabilities& c) { return c.framing == Framing::kStream; }
inline uint64_t PieceSize(const Capabilities& c) {
  if (Stream(c)) return kStreamPiece;
  return c.max_message == 0 ? 8 : std::min<uint64_t>(8, c.max_message);
}
// Sends that do not block until one is refused; past this, it never fills.
inline uint64_t MostFill(const Capabilities& c) {
  if (c.capacity == 0 && c.max_queued == 0) return 4096;
  return 4 * (c.capacity / PieceSize(c) + c.max_queued) + 64;
}

// Whether a receive of one message leaves room for one more send, which a
// writer left must take: the channel refuses only what would not fit, or
// it was filled to its count. Elsewhere what room a receive makes is the
// transport's to know (a pipe's writer waits for a free page, and a small
// write that a non-blocking send merges into the last page does not wake
// it), and only a channel the reader empties is judged.
inline bool RoomForOne(const Capabilities& c, uint64_t filled) {
  if (Stream(c)) return false;
  return c.overhead == Overhead::kNone || (c.max_queued > 0 && filled == c.max_queued);
}

// Pins the calling thread to `cpu` (when >= 0).
inline bool PinTo(int cpu) {
  if (cpu < 0) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return ::sched_setaffinity(0, sizeof one, &one) == 0;
}

// One run: the writers', the reader's and the case process's parts.
class KilledRun {
 public:
  KilledRun(const Capabilities& c, const CaseEnv& env, size_t victim, bool hold, int cpu)
      : c_(c),
        x_(env, c.realtime),
        waits_(Waits::For(env)),
        deadline_(Deadline::After(env.deadline - absl::Now())),
        victim_(victim),
        hold_(hold),
        cpu_(cpu),
        flags_(kFlags),
        pids_(kWriters) {}

  std::string Write(End& end, size_t w);
  std::string Read(End& end);
  Verdict Watch(ActorControl& control);

 private:
  uint64_t Count(size_t i) const { return flags_.Counter(i).load(); }
  uint64_t Fill() const { return Count(kFillCount); }
  bool Done(size_t w) const { return flags_.IsRaised(Finished(w)); }
  uint64_t AllCompleted() const {
    uint64_t n = 0;
    for (size_t w = 0; w < kWriters; ++w) n += Count(Completed(w));
    return n;
  }
  Sent MessageOf(size_t w, uint64_t k) const {
    return {static_cast<uint32_t>(w + 1), k, PieceSize(c_)};
  }
  // The writers'.
  std::string FillChannel(End& end);
  std::string SendAll(End& end, size_t w);
  int SendPiece(End& end, size_t w, uint64_t k, int timeout_ms);
  int64_t RoomSinceNs() const;
  // `queued_ns`: how long the sender waited for a CPU while it slept (a
  // woken sender that a loaded machine keeps from running), taken out.
  bool SleptBesideRoom(int64_t queued_ns) const;
  std::string SendWaiting(End& end, size_t w, uint64_t k);
  // The case process's.
  bool AllAsleep(const std::vector<ProcessStateProbe>& probes, bool with_victim) const;
  std::optional<int> PlayRounds(const std::vector<ProcessStateProbe>& probes, int* rounds);
  void SpinUntilSettled(const std::vector<ProcessStateProbe>& probes, int64_t until_ns) const;
  Verdict AfterTheDeath(ActorControl& control, int round);
  Verdict LateInTheHold(int64_t dead_ns) const;
  Verdict Stuck(ActorControl& control, int64_t waited_us) const;
  // The reader's.
  void KnowPayloads();
  std::string Take(End& end, uint64_t n);
  std::string TakeAll(End& end);
  std::string OnMessage(std::span<const std::byte> got);
  std::string Owed() const;
  bool WritersGone() const;

  const Capabilities c_;
  const Exchange x_;
  const Waits waits_;
  const Deadline deadline_;
  const size_t victim_;
  const bool hold_;
  const int cpu_;
  SharedFlags flags_;
  ActorPids pids_;
  // The reader's: which message each payload is, and what came.
  std::map<std::string, std::pair<size_t, uint64_t>> known_;
  std::array<std::vector<bool>, kWriters> seen_;
  std::array<uint64_t, kWriters> next_ = {};
  uint64_t bytes_ = 0, messages_ = 0;
};

}  // namespace ipcspec::props::wakeup::killed

#endif  // IPCSPEC_PROPERTIES_GENERIC_WAKEUP_KILLED_H_
