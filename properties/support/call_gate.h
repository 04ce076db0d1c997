// properties/support/call_gate.h: holds a thread at the entry of one of its
// system calls, chosen by its place in the calls the thread makes, while
// something else happens, then lets the call go on. A property places
// another process's act (a send) between two system calls of a transport's
// receive: after its check that the channel is empty and before the call
// that sleeps, the window in which a wake-up is lost.
//
//   std::unique_ptr<CallGate> gate = CallGate::Install();  // on this thread
//   gate->Arm(2, [&](long nr) { flags.Raise(kHeld); flags.WaitFor(kSent, d); });
//   end.Recv(buf, &n, bound);  // its third system call waits for the send
//   CallGate::Calls calls = gate->Disarm();
//
// The gate is a seccomp filter on the calling thread alone that hands every
// system call to the gate's own thread (seccomp user notification), which
// lets it go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE) at once, or after the
// hold. Held at its entry, the call has not started: the thread is where a
// preemption just before the call would leave it. A signal sent once the
// gate's thread has taken the call stays pending until the call runs
// (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, Linux 5.19), so the hold makes
// no call fail with EINTR that could not. One that comes before, while the
// gate's thread has yet to run (a loaded machine), and finds a handler
// interrupts the call as any signal interrupts a wait: it returns EINTR
// without having run, even a call that never fails so (timer_delete,
// sigaction). A transport whose own interrupt (a timer's signal) comes
// then sees that; sysv_msg makes such calls again.
// A filter cannot be taken off: once installed, every later call of the
// thread (about 10 us more each) passes the gate's thread, which ends when
// the gated thread has.
#ifndef IPCSPEC_PROPERTIES_SUPPORT_CALL_GATE_H_
#define IPCSPEC_PROPERTIES_SUPPORT_CALL_GATE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ipcspec/property.h"

namespace ipcspec::props {

class CallGate {
 public:
  // Whether a gate can be installed here: seccomp user notification with
  // WAIT_KILLABLE_RECV, not refused by a filter already in place. Asked
  // without installing anything; the answer is kept.
  static bool Available();
  // For a property that holds calls: Yes where Available(), else No with
  // the reason.
  static Applicability Applies();
  // Installs the gate on the calling thread; nullptr where it cannot be.
  static std::unique_ptr<CallGate> Install();
  // What a property reports when Install() gave nullptr: "<who> could not
  // install its call gate (...)".
  static std::string NotInstalled(std::string_view who);

  // From now on, the calling thread's system call number `index` (0: the
  // next one) is held at its entry while `at_hold(nr)` runs on the gate's
  // thread; then it goes on. With `from_ns` (CLOCK_MONOTONIC, MonotonicNs),
  // `index` counts only the calls that enter from then on: the calls a
  // receive makes once its bound has passed.
  // `index` kEach: every call is held, each while `at_hold(nr)` runs (a
  // property that reads the process's state at every step of a call).
  void Arm(int index, std::function<void(long nr)> at_hold, int64_t from_ns = 0);
  static constexpr int kEach = std::numeric_limits<int>::max();
  // What the calling thread did since Arm: its system calls (the first
  // kRecorded of them), whether the hold came and at which of them.
  struct Calls {
    std::vector<long> numbers;
    int count = 0;
    bool held = false;
    int held_at = -1;
    // "futex" for call `index`, "syscall -2" past those recorded.
    std::string NameOf(int index) const;
    // "read, poll, futex, ..." (the recorded ones).
    std::string Names() const;
  };
  Calls Disarm();
  static constexpr int kRecorded = 32;

  ~CallGate();  // disarms; the gate's thread goes on letting calls through
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

  struct State;  // shared with the gate's thread

 private:
  explicit CallGate(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_CALL_GATE_H_
