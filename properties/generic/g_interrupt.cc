// G-INTERRUPT: a caught signal that arrives while a call sleeps.
//
// Real programs catch signals: SIGCHLD from their children, SIGALRM and
// SIGPROF from timers, SIGWINCH from a terminal. A handler installed
// without SA_RESTART makes a sleeping system call fail with EINTR, and some
// calls fail with it even with SA_RESTART (poll, a futex or semaphore wait
// with a timeout, sigtimedwait; signal(7), "Interruption of system calls and
// library functions by signal handlers"). A transport must absorb that: go
// on waiting with the time that is left, or give up with -EINTR having done
// nothing, so that the caller may simply call again. What it must not do:
//   - report -EINTR (or any failure) for a send that already moved bytes,
//     or report fewer than it moved: the caller's retry duplicates them;
//   - take data off the channel and then report -EINTR: the data is lost;
//   - give -ETIMEDOUT before its bound, or from a wait without one;
//   - start a bounded wait over with its whole bound after each signal:
//     while signals keep coming the call never returns (the watchdog ends
//     the case and says where it sleeps).
//
// Each example has a writer and a reader process, each with a handler for
// SIGWINCH (with or without SA_RESTART, by the example), and the case
// process as the pest: it watches both and sends SIGWINCH to each one that
// sleeps inside a transport call, again and again while it sleeps there
// (the kernel has no notification for "asleep", so it looks at
// /proc/PID/stat, from 0.1 ms to 2 ms apart). Signals go only to transport
// calls: the harness's own waits are not what is checked. The reader first
// makes a bounded receive of one time unit on the empty channel, which must
// time out and not early; then the writer sends the example's messages
// (G-INTEGRITY's traffic) and the reader checks what arrives. A call that
// returns -EINTR is made again with the time its bound has left.
//
// The oracle for each capability class:
//   every class     the empty channel's bounded receive gives -ETIMEDOUT,
//                   not early; -EINTR only with nothing moved, and only
//                   when a signal was caught during the call
//   traffic         as G-INTEGRITY's: nothing duplicated or corrupt, a
//                   reliable transport loses nothing, a counter's reads
//                   sum to its adds (a lossy counter is skipped)
//   reliable        by the example, the waits for what is owed are made
//                   without a bound (-1; the watchdog bounds them)
//   capacity        any: a writer that fills the channel sleeps in a send
//                   that has moved part of its bytes, and the reader holds
//                   back its first receive until that writer was
//                   interrupted (or sent all), so that case is met every time
//   polled, duplex, change nothing: no call is judged on lateness
//   peer-close,
//   realtime
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "absl/strings/str_format.h"
#include "ipcspec/proc.h"
#include "properties/generic/generic_property.h"
#include "properties/generic/traffic.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace g_interrupt {

// Ignored by default: one that lands after a handler is gone harms nothing.
constexpr int kSignal = SIGWINCH;
constexpr size_t kReader = 0, kWriter = 1, kActors = 2;
constexpr auto kFirstLook = absl::Microseconds(100), kLastLook = absl::Milliseconds(2);

// Signals this process's handler caught.
std::atomic<uint64_t> caught{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// What the actors and the pest share: per actor its pid, whether it is in
// a transport call, and whether its part is over; the reader's quiet
// receive is done; the writer was interrupted in a call, or has sent all.
class Pest {
 public:
  Pest() : flags_(8) {}

  // In actor i.
  void Arrive(size_t i) { flags_.Counter(kPid + i).store(static_cast<uint64_t>(::getpid())); }
  void InCall(size_t i, bool in) { flags_.Counter(kInCall + i).store(in ? 1 : 0); }
  void Leave(size_t i) { flags_.Raise(kDone + i); }
  void QuietDone() { flags_.Raise(kQuietDone); }
  bool WaitQuietDone(const Deadline& d) const { return flags_.WaitFor(kQuietDone, d); }
  // In the writer: it caught a signal (called from its handler, so only a
  // store and a futex wake), or it has sent everything. The reader holds
  // back its first receive until one of the two, so a writer that fills
  // the channel has certainly been interrupted asleep in a send that had
  // moved part of its bytes, whatever the timing of the example.
  void WriterHeld() { flags_.Raise(kWriterHeld); }
  // In the reader; false when the writer did neither (it never slept where
  // the pest could see it, nor finished) by `d`, which only costs the check.
  bool WaitWriterHeld(const Deadline& d) const { return flags_.WaitFor(kWriterHeld, d); }

  // In the case process, while the actors run: signals each actor that
  // sleeps in a transport call, until both are done or dead.
  void Run(const Deadline& deadline) {
    FileDescriptor pidfds[kActors];
    absl::Duration pause = kFirstLook;
    while (!deadline.Passed()) {
      bool live = false, hit = false;
      struct pollfd watch[kActors];
      size_t who[kActors];
      nfds_t n = 0;
      for (size_t i = 0; i < kActors; ++i) {
        if (flags_.IsRaised(kDone + i)) continue;
        live = true;
        const auto pid = static_cast<pid_t>(flags_.Counter(kPid + i).load());
        if (pid == 0) continue;  // not started yet
        if (!pidfds[i]) pidfds[i].reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!pidfds[i]) continue;  // gone already
        who[n] = i;
        watch[n++] = {pidfds[i].get(), POLLIN, 0};
        if (flags_.Counter(kInCall + i).load() != 0 && ProcessState(pid) == 'S') {
          hit = ::kill(pid, kSignal) == 0 || hit;
        }
      }
      if (!live) return;
      pause = hit ? kFirstLook : std::min(pause * 2, kLastLook);
      const struct timespec ts = absl::ToTimespec(pause);
      // Ends early when an actor dies: it will never say it is done.
      if (::ppoll(watch, n, &ts, nullptr) > 0) {
        for (nfds_t k = 0; k < n; ++k) {
          if (watch[k].revents != 0) flags_.Raise(kDone + who[k]);
        }
      }
    }
  }

 private:
  static constexpr size_t kPid = 0, kInCall = 2, kDone = 0, kQuietDone = 2, kWriterHeld = 3;
  SharedFlags flags_;
};

// The writer's Pest, for its handler.
Pest* writer_pest = nullptr;

void Catch(int) {
  const int saved = errno;
  caught.fetch_add(1, std::memory_order_relaxed);
  if (writer_pest != nullptr) writer_pest->WriterHeld();
  errno = saved;
}

// An actor's end: marks its calls for the pest, makes a call that gave
// -EINTR again with the time its bound has left, and judges what only an
// interrupted call can get wrong.
class InterruptedEnd final : public End {
 public:
  InterruptedEnd(std::unique_ptr<End> inner, Pest& pest, size_t actor, int owed_ms, bool unbounded)
      : inner_(std::move(inner)),
        pest_(pest),
        actor_(actor),
        owed_ms_(owed_ms),
        unbounded_(unbounded) {}

  int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
    return Call("send", timeout_ms, sent, [&](int t) { return inner_->Send(buf, sent, t); });
  }
  int Recv(std::span<std::byte> buf, size_t* received, int timeout_ms) override {
    return Call("recv", timeout_ms, received,
                [&](int t) { return inner_->Recv(buf, received, t); });
  }

  const std::string& error() const { return error_; }
  // For a failure message: how often the calls were interrupted.
  std::string Signals() const {
    return absl::StrFormat("signals caught during transport calls: %d %s, of which %d gave -EINTR",
                           in_calls_, Sig(kSignal), eintr_);
  }

 private:
  template <typename F>
  int Call(const char* what, int timeout_ms, size_t* moved, F call) {
    if (unbounded_ && timeout_ms == owed_ms_) timeout_ms = -1;
    const int64_t start = MonotonicNs();
    int t = timeout_ms;
    for (;;) {
      const uint64_t before = caught.load(std::memory_order_relaxed);
      pest_.InCall(actor_, true);
      const int rc = call(t);
      pest_.InCall(actor_, false);
      const uint64_t during = caught.load(std::memory_order_relaxed) - before;
      in_calls_ += during;
      const int64_t took = MonotonicNs() - start;
      if (rc == -EINTR) {
        if (*moved != 0) {
          return Fail(rc,
                      absl::StrFormat("%s gave -EINTR yet reported %d bytes moved", what, *moved));
        }
        if (during == 0) {
          return Fail(rc, absl::StrFormat("%s gave -EINTR, but no signal came during it", what));
        }
        ++eintr_;
        if (timeout_ms <= 0) continue;
        const int64_t left_ns = int64_t{timeout_ms} * 1000000 - took;
        if (left_ns <= 0) return -ETIMEDOUT;  // its bound is over: as good as a timeout
        t = static_cast<int>((left_ns + 999999) / 1000000);
        continue;
      }
      if (rc == -ETIMEDOUT && timeout_ms < 0) {
        return Fail(rc, absl::StrFormat("%s without a timeout gave -ETIMEDOUT (after %d signals)",
                                        what, during));
      }
      if (rc == -ETIMEDOUT && timeout_ms > 0 && took < int64_t{timeout_ms} * 1000000 - 500000) {
        // Blamed on the signals only when some came: else it is early by itself.
        return Fail(rc, during > 0 ? absl::StrFormat("%s(timeout %d ms) gave -ETIMEDOUT after %.2f "
                                                     "ms, cut short by a signal (%d caught during "
                                                     "it)",
                                                     what, timeout_ms, took / 1e6, during)
                                   : absl::StrFormat("%s(timeout %d ms) gave -ETIMEDOUT after %.2f "
                                                     "ms, early (no signal came during it)",
                                                     what, timeout_ms, took / 1e6));
      }
      return rc;
    }
  }
  int Fail(int rc, std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return rc;
  }

  std::unique_ptr<End> inner_;
  Pest& pest_;
  size_t actor_;
  int owed_ms_;
  bool unbounded_;
  std::string error_;
  uint64_t in_calls_ = 0, eintr_ = 0;
};

// In an actor, for the duration of its part: the handler, the unblocked
// signal, and its end wrapped; the verdict of the part.
class Interrupted {
 public:
  Interrupted(std::unique_ptr<End>& end, Pest& pest, size_t actor, bool restart, bool unbounded,
              int owed_ms)
      : pest_(pest), actor_(actor) {
    struct sigaction sa = {};
    sa.sa_handler = Catch;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = restart ? SA_RESTART : 0;
    ::sigaction(kSignal, &sa, &old_action_);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kSignal);
    ::sigprocmask(SIG_UNBLOCK, &set, &old_mask_);
    auto wrapped =
        std::make_unique<InterruptedEnd>(std::move(end), pest, actor, owed_ms, unbounded);
    end_ = wrapped.get();
    end = std::move(wrapped);
    if (actor == kWriter) writer_pest = &pest;
    pest.Arrive(actor);
  }
  ~Interrupted() {
    ::sigaction(kSignal, &old_action_, nullptr);
    writer_pest = nullptr;
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    pest_.Leave(actor_);
  }
  Interrupted(const Interrupted&) = delete;
  Interrupted& operator=(const Interrupted&) = delete;

  // The part's verdict: what only an interrupted call gets wrong wins, and
  // any failure says how often the calls were interrupted.
  std::string Verdict(const std::string& part) const {
    const std::string& e = end_->error().empty() ? part : end_->error();
    return e.empty() ? e : absl::StrCat(e, " (", end_->Signals(), ")");
  }

 private:
  Pest& pest_;
  size_t actor_;
  InterruptedEnd* end_;
  struct sigaction old_action_ = {};
  sigset_t old_mask_;
};

// The reader's first call: a bounded receive on the empty channel.
std::string QuietReceive(End& end, const Capabilities& c, int bound_ms) {
  std::vector<std::byte> buf(std::max<uint64_t>(RecvBufferSize(c), 8));
  size_t n = 0;
  const int rc = end.Recv(buf, &n, bound_ms);
  if (rc == -ETIMEDOUT) return "";
  if (rc == 0) return absl::StrFormat("a receive on the empty channel gave %d bytes", n);
  return absl::StrFormat("a receive (timeout %d ms) on the empty channel gave %s, not -ETIMEDOUT",
                         bound_ms, Errno(rc));
}

class InterruptProperty final : public GenericProperty {
  Applicability AppliesToCaps(const Capabilities& c) const override { return SummableIfCounter(c); }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::exec([this, c] {
      std::vector<Step> steps = {restart_.Step(*rc::gen::arbitrary<bool>()),
                                 unbounded_.Step(c.reliable && *rc::gen::arbitrary<bool>())};
      for (const Step& st : *MixedTraffic(c)) steps.push_back(st);
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Capabilities& c = t.caps();
    const MixedPlan plan = MixedPlanOf(s);
    Traffic traffic(c, env, {plan.sent});
    const Waits w = traffic.waits();
    const Deadline deadline = CaseDeadline(env);
    Pest pest;
    const bool restart = restart_.Of(s), unbounded = unbounded_.Of(s);
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                   Interrupted in(end, pest, kReader, restart, unbounded, w.deliver_ms);
                   std::string e = QuietReceive(*end, c, w.quiet_ms);
                   pest.QuietDone();
                   pest.WaitWriterHeld(Deadline::After(absl::Milliseconds(4 * w.quiet_ms)));
                   if (e.empty()) e = traffic.Read(*end, plan.chunks);
                   return in.Verdict(e);
                 }};
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                   Interrupted in(end, pest, kWriter, restart, unbounded, w.deliver_ms);
                   std::string e;
                   if (!pest.WaitQuietDone(deadline)) {
                     e = "the reader's first receive never ended";
                   } else {
                     e = traffic.SendData(*end, 0, plan.try_send);
                   }
                   pest.WriterHeld();
                   if (e.empty() && traffic.markers()) e = traffic.SendMarkers(*end, 0);
                   traffic.Finished(0);
                   return in.Verdict(e);
                 }};
    return RunActors(t, env, {writer, reader}, [&](ActorControl&) {
      pest.Run(deadline);
      return Verdict();
    });
  }

  const YesNoParam restart_{this, 0, "the handlers have SA_RESTART: %s", false};
  const YesNoParam unbounded_{this, 1, "the waits for what is owed have no bound: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(InterruptProperty, "G-INTERRUPT");

}  // namespace g_interrupt
}  // namespace
}  // namespace ipcspec::props
