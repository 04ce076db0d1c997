// properties/generic/wakeup_killed_actors.cc: G-WAKEUP-KILLED's writers
// and reader (the property and its oracle: g_wakeup_killed.cc).
#include <sched.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/generic/wakeup_killed.h"
#include "properties/support/run_mark.h"

namespace ipcspec::props::wakeup::killed {

// The writers.

std::string KilledRun::FillChannel(End& end) {
  uint64_t k = 0, bytes = 0;
  int rc = 0;
  for (; k < MostFill(c_); ++k) {
    const std::vector<std::byte> data = Payload(1, k, PieceSize(c_));
    size_t n = 0;
    rc = end.Send(data, &n, 0);
    if (rc == 0) bytes += n;
    if (rc == 0 && Stream(c_) && n != data.size()) rc = -EAGAIN;  // full, a piece cut
    if (rc != 0) break;
  }
  flags_.Counter(kFillCount).store(k);
  flags_.Counter(kFillBytes).store(bytes);
  if (rc != -EAGAIN) flags_.Counter(kNeverFull).store(1);
  flags_.Raise(kFilled);
  if (rc != 0 && rc != -EAGAIN) return absl::StrCat("filling the channel: ", Errno(rc));
  return "";
}

// Writer w's message k, whole (a stream's in as many calls as it takes),
// each call with `timeout_ms`; the first failing call's code.
int KilledRun::SendPiece(End& end, size_t w, uint64_t k, int timeout_ms) {
  const std::vector<std::byte> data = Payload(static_cast<uint32_t>(w + 1), k, PieceSize(c_));
  uint64_t done = 0;
  if (Stream(c_)) done = Count(Moved(w)) % kStreamPiece;  // a piece begun before a timeout
  for (; done < data.size() || (data.empty() && done == 0);) {
    size_t n = 0;
    const int rc = end.Send(std::span(data).subspan(done), &n, timeout_ms);
    if (rc != 0) return rc;
    done += n;
    flags_.Counter(Moved(w)).fetch_add(n);
    if (data.empty()) break;
  }
  return 0;
}

// Since when the room a writer left must take has been there (0: not
// yet). Where one receive makes room for one send: since the reader began
// to take everything, or since its last receive. Elsewhere only since the
// reader, taking everything, found the channel empty: a pipe frees room a
// page at a time, so the 341 frames of 12 bytes in the page it reads first
// must all be taken (on a loaded machine that may take longer than a
// bound) before a writer asleep for room can write.
int64_t KilledRun::RoomSinceNs() const {
  const auto drain = static_cast<int64_t>(Count(kDrainNs));
  if (drain == 0) return static_cast<int64_t>(Count(kTookNs));
  return RoomForOne(c_, Fill()) ? drain : static_cast<int64_t>(Count(kEmptyNs));
}

// Whether a send that just timed out slept beside room for longer than a
// wake-up that comes once may take (a send without waiting then took it).
bool KilledRun::SleptBesideRoom(int64_t queued_ns) const {
  if (Stream(c_)) return false;  // a stream's writer may wait for more room than it takes
  if (Count(kDrainNs) == 0 && !RoomForOne(c_, Fill())) return false;
  const int64_t since = RoomSinceNs();
  return since != 0 && MonotonicNs() - since - queued_ns > x_.once_allowed_us() * 1000;
}

// Writer w's message k with sends bounded by G-WAKEUP's bound; a send that
// times out is followed by one that does not wait. "" or the failure.
std::string KilledRun::SendWaiting(End& end, size_t w, uint64_t k) {
  for (;;) {
    flags_.Counter(InSend(w)).store(1);
    const RunMark began = RunMark::Start();
    int rc = SendPiece(end, w, k, x_.bound_ms());
    const RunMark ended = RunMark::Stop();
    const bool killed = flags_.IsRaised(kKilled);
    if (rc == -ETIMEDOUT) {
      rc = SendPiece(end, w, k, 0);
      // The send's wait for a CPU: at least what it waited once room came.
      if (rc == 0 && killed && SleptBesideRoom(ended.QueuedSinceNs(began))) {
        return absl::StrFormat(
            "its send %d of %d slept its whole bound of %d ms (-ETIMEDOUT)%s, yet a send of the "
            "same message without waiting, right after, took it: the room was there (made by "
            "the reader %.1f ms earlier) and nothing woke the sleeper%s",
            k + 1 - (w == 0 ? Fill() : 0), kSends, x_.bound_ms(),
            killed ? absl::StrFormat(" after writer %d was SIGKILLed as a wake-up reached it",
                                     victim_ + 1)
                   : "",
            (MonotonicNs() - RoomSinceNs()) / 1e6,
            killed ? ": the wake-up died with the writer it was given to" : "");
      }
      if (rc == -EAGAIN || rc == -ETIMEDOUT) {
        // Each writer left has timed out since the death (at least once).
        const uint64_t left = ((uint64_t{1} << kWriters) - 1) & ~(uint64_t{1} << victim_);
        const uint64_t mine = uint64_t{1} << w;
        if (killed && ((flags_.Counter(kTimedOutAfter).fetch_or(mine) | mine) & left) == left) {
          flags_.Raise(kHoldOver);
        }
        continue;
      }
    }
    flags_.Counter(InSend(w)).store(0);
    if (rc != 0) {
      return absl::StrFormat("its send %d of %d, waiting for room, gave %s%s",
                             k + 1 - (w == 0 ? Fill() : 0), kSends, Errno(rc),
                             killed ? absl::StrFormat(" after writer %d was SIGKILLed as a "
                                                      "wake-up reached it",
                                                      victim_ + 1)
                                    : "");
    }
    if (flags_.IsRaised(kKilled)) flags_.Raise(kHoldOver);
    return "";
  }
}

std::string KilledRun::SendAll(End& end, size_t w) {
  if (w == 0) {
    if (std::string e = FillChannel(end); !e.empty()) return e;
  } else if (!flags_.WaitFor(kFilled, deadline_)) {
    return "";
  }
  if (Count(kNeverFull) != 0) return "";  // nothing to judge
  // Asleep one after another: writer w once writer w - 1 sleeps in its send.
  if (w > 0 && flags_.WaitFor(Entering(w - 1), deadline_)) pids_.AwaitAsleep(w - 1, deadline_);
  flags_.Raise(Entering(w));
  const uint64_t first = w == 0 ? Fill() : 0;  // writer 1's fill came first
  for (uint64_t k = 0; k < kSends; ++k) {
    if (std::string e = SendWaiting(end, w, first + k); !e.empty()) return e;
    flags_.Counter(SentNs(w, k)).store(static_cast<uint64_t>(MonotonicNs()));
    flags_.Counter(Completed(w)).store(k + 1);
  }
  return "";
}

std::string KilledRun::Write(End& end, size_t w) {
  pids_.Publish(w);
  if (w == victim_) {
    // Woken, it waits for the tick on the CPU the case process keeps busy.
    (void)PinTo(cpu_);
    const struct sched_param none = {};
    (void)::sched_setscheduler(0, SCHED_BATCH, &none);
  }
  std::string e = SendAll(end, w);
  flags_.Counter(InSend(w)).store(0);
  flags_.Raise(Finished(w));
  flags_.Raise(Entering(w));  // if it failed first: nobody waits for its sleep
  flags_.Raise(kHoldOver);
  return e;
}

// The reader.

void KilledRun::KnowPayloads() {
  if (Stream(c_) || PieceSize(c_) < 8) return;  // counted only
  for (size_t w = 0; w < kWriters; ++w) {
    const uint64_t all = (w == 0 ? Fill() : 0) + kSends;
    seen_[w].assign(all, false);
    for (uint64_t k = 0; k < all; ++k) {
      const std::vector<std::byte> p = Payload(static_cast<uint32_t>(w + 1), k, PieceSize(c_));
      known_[std::string(reinterpret_cast<const char*>(p.data()), p.size())] = {w, k};
    }
  }
}

std::string KilledRun::Read(End& end) {
  if (!flags_.WaitFor(kFilled, deadline_) || Count(kNeverFull) != 0) return "";
  KnowPayloads();
  for (int r = 0; r <= kMostRounds; ++r) {
    if (!flags_.WaitFor(Go(r), deadline_)) return "";
    const uint64_t take = Count(kTake);
    if (take == 0) return TakeAll(end);
    std::string e = Take(end, take);
    flags_.Counter(kTookNs).store(static_cast<uint64_t>(MonotonicNs()));
    if (!e.empty()) flags_.Counter(kReaderFailed).store(1);  // no more rounds
    flags_.Raise(Got(r));
    if (!e.empty()) return e;
  }
  return "";
}

// Up to `n` messages (pieces of a stream) that are there now: the
// channel is full, unless the writers are done with it (the round took
// more than they left, or they closed: TakeAll judges an END).
std::string KilledRun::Take(End& end, uint64_t n) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c_), kStreamPiece));
  for (uint64_t i = 0; i < n; ++i) {
    for (uint64_t got = 0; got < PieceSize(c_) || (got == 0 && !Stream(c_));) {
      size_t k = 0;
      const int rc =
          end.Recv(Stream(c_) ? std::span(buf).first(PieceSize(c_) - got) : std::span(buf), &k, 0);
      if (rc == -EAGAIN || rc == kEnd) return "";
      if (rc != 0) return absl::StrFormat("receiving from the full channel: %s", Errno(rc));
      if (std::string e = OnMessage(std::span(buf).first(k)); !e.empty()) return e;
      got += k;
      if (!Stream(c_)) break;
    }
  }
  return "";
}

std::string KilledRun::OnMessage(std::span<const std::byte> got) {
  bytes_ += got.size();
  if (Stream(c_)) {
    // Each writer's call in progress may have moved a piece already.
    uint64_t most = Count(kFillBytes) + kWriters * kStreamPiece;
    for (size_t w = 0; w < kWriters; ++w) most += Count(Moved(w));
    if (bytes_ > most) {
      return absl::StrFormat("%d stream bytes arrived; at most %d were sent", bytes_, most);
    }
    return "";
  }
  ++messages_;
  if (known_.empty()) return "";
  const auto it = known_.find(std::string(reinterpret_cast<const char*>(got.data()), got.size()));
  if (it == known_.end()) {
    return absl::StrFormat("a message of %d bytes that no writer sent", got.size());
  }
  const auto [w, k] = it->second;
  if (seen_[w][k]) return absl::StrFormat("%s arrived twice", Name(MessageOf(w, k)));
  if (c_.ordered && k != next_[w]) {
    return absl::StrFormat("%s arrived where %s was due", Name(MessageOf(w, k)),
                           Name(MessageOf(w, next_[w])));
  }
  seen_[w][k] = true;
  next_[w] = std::max(next_[w], k + 1);
  return "";
}

// Every writer done with the channel: finished, or the victim killed.
bool KilledRun::WritersGone() const {
  for (size_t w = 0; w < kWriters; ++w) {
    if (!Done(w) && !(w == victim_ && flags_.IsRaised(kKilled))) return false;
  }
  return true;
}

// The first of the completed sends' messages not yet come: "" or its name.
std::string KilledRun::Owed() const {
  if (Stream(c_)) {
    uint64_t want = Count(kFillBytes);
    for (size_t w = 0; w < kWriters; ++w) want += Count(Moved(w));
    return bytes_ < want ? absl::StrFormat("stream byte %d of the %d sent", bytes_, want) : "";
  }
  uint64_t all = Fill();
  for (size_t w = 0; w < kWriters; ++w) {
    const uint64_t owed = (w == 0 ? Fill() : 0) + Count(Completed(w));
    all += Count(Completed(w));
    if (known_.empty()) continue;
    for (uint64_t k = c_.ordered ? next_[w] : 0; k < owed; ++k) {
      if (!seen_[w][k]) return Name(MessageOf(w, k));
    }
  }
  return known_.empty() && messages_ < all
             ? absl::StrFormat("message %d of the %d sent", messages_ + 1, all)
             : "";
}

// Everything that comes, until all that was sent has and every writer is
// done with the channel (the case process kills the reader where a writer
// left sleeps on).
std::string KilledRun::TakeAll(End& end) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c_), 65536));
  bool reset = false;
  for (;;) {
    if (WritersGone() && Owed().empty()) return "";
    size_t n = 0;
    int rc = 0;
    if (Count(kEmptyNs) == 0) {
      // Once, the moment the channel is first found empty: room for any
      // send from then on (RoomSinceNs).
      rc = end.Recv(buf, &n, 0);
      if (rc == -EAGAIN) {
        flags_.Counter(kEmptyNs).store(static_cast<uint64_t>(MonotonicNs()));
        rc = end.Recv(buf, &n, waits_.deliver_ms);
      }
    } else {
      rc = end.Recv(buf, &n, waits_.deliver_ms);
    }
    if (rc == 0) {
      if (std::string e = OnMessage(std::span(buf).first(n)); !e.empty()) return e;
    } else if (rc == -ETIMEDOUT || rc == -EAGAIN) {
      if (WritersGone() && !Owed().empty()) {
        return absl::StrFormat("%s never came (%s after %d ms), though its send had completed",
                               Owed(), Errno(rc), waits_.deliver_ms);
      }
    } else if (rc == -ECONNRESET && !reset) {
      reset = true;  // the death, said once
    } else if (rc == kEnd) {
      if (!WritersGone()) return "end of stream while a writer was still sending";
      if (std::string owed = Owed(); !owed.empty()) {
        return absl::StrCat("end of stream while ", owed, " was owed");
      }
      return "";
    } else {
      return absl::StrCat("receive: ", Errno(rc));
    }
  }
}

}  // namespace ipcspec::props::wakeup::killed
