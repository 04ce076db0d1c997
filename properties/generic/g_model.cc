// G-MODEL: any sequence of non-blocking sends, receives, bounded waits and a
// close of the writer, performed by a writer process and a reader process in
// lock step, agrees step by step with the reference model of the
// transport's class (properties/model/model.h).
//
// The oracle for each capability class is that model:
//   byte stream         the bytes in order, any chunking; a lossy stream a
//                       prefix
//   message queue       whole messages, FIFO (priority and typed queues at
//                       one priority and type); unordered: any order; a
//                       lossy queue: a subsequence (sub-multiset)
//   counter             8-byte values summed, a read takes the sum
//   short receive       -EMSGSIZE, then the message kept, dropped or either
//                       (SHORT_RECV_KEEPS / _DROPS / undeclared)
//   capacity            -EAGAIN only near a declared bound (exactly at it
//                       with IPCSPEC_EXACT_CAPACITY; past half of it for
//                       page-rounded built-in buffers; once the channel
//                       holds anything when the overhead is unknown), and a
//                       send past a bound must be refused
//   peer-close          END once the writer closed and all is read; without
//                       it, an empty channel gives -EAGAIN
//   asynchronous        a receive the model says must deliver may wait for
//                       it (returning the moment it comes)
//   duplex              the writer's end speaks (G-DUPLEX: both ends)
//   realtime or not     a wait step is one time unit, and rare
//
// The sequences come from rapidcheck's state-machine API: each command is one
// Step, its preconditions keep the sequence meaningful (no send after the
// close, messages numbered in order), and a failing sequence shrinks by
// dropping and simplifying commands; show() prints a command as its step.
#include <ostream>

#include "absl/strings/str_format.h"
#include "properties/model/model.h"
#include "properties/support/common.h"
#include "rapidcheck/state.h"

namespace ipcspec::props {
namespace {
namespace g_model {

// What generation needs to know: the capabilities and where the sequence is.
struct GenState {
  Capabilities caps;
  uint64_t sends = 0;
  bool closed = false;
};
// The system under test is run in the sandbox, not here.
struct NoSut {};

class StepCommand : public rc::state::Command<GenState, NoSut> {
 public:
  virtual Step ToStep() const = 0;
  void show(std::ostream& os) const override { os << ipcspec::DescribeStep(ToStep()); }
};

rc::Gen<uint64_t> SendSize(const Capabilities& c) {
  if (c.model == ModelClass::kCounter) {
    return rc::gen::weightedOneOf<uint64_t>(
        {{6, rc::gen::just<uint64_t>(8)}, {1, rc::gen::inRange<uint64_t>(0, 17)}});
  }
  if (c.max_message > 0) {
    return rc::gen::weightedOneOf<uint64_t>(
        {{8, EdgeSize(c, true)}, {1, rc::gen::just<uint64_t>(c.max_message + 1)}});
  }
  return EdgeSize(c, true);
}

rc::Gen<uint64_t> RecvCap(const Capabilities& c) {
  switch (c.model) {
    case ModelClass::kByteStream:
      return ChunkSize();
    case ModelClass::kCounter:
      return rc::gen::weightedOneOf<uint64_t>(
          {{6, rc::gen::just<uint64_t>(0)}, {1, rc::gen::inRange<uint64_t>(1, 17)}});
    default:
      return rc::gen::weightedOneOf<uint64_t>(
          {{6, rc::gen::just<uint64_t>(0)},
           {1, rc::gen::inRange<uint64_t>(1, RecvBufferSize(c) + 1)}});
  }
}

class TrySend : public StepCommand {
 public:
  explicit TrySend(const GenState& s) : msg_(s.sends), size_(*SendSize(s.caps)) {}
  void checkPreconditions(const GenState& s) const override {
    RC_PRE(!s.closed);
    RC_PRE(msg_ == s.sends);  // renumbered (regenerated) after a shrink
  }
  void apply(GenState& s) const override { ++s.sends; }
  Step ToStep() const override { return {Op::kTrySend, 1, size_, msg_}; }

 private:
  uint64_t msg_, size_;
};

class TryRecv : public StepCommand {
 public:
  explicit TryRecv(const GenState& s) : cap_(*RecvCap(s.caps)) {}
  Step ToStep() const override { return {Op::kTryRecv, 0, cap_, 0}; }

 private:
  uint64_t cap_;
};

class Wait : public StepCommand {
 public:
  // One time unit, and rare: on an empty channel it is waited out.
  explicit Wait(const GenState&) { RC_PRE(*rc::gen::inRange(0, 12) == 0); }
  Step ToStep() const override { return {Op::kWait, 0, 1, 0}; }
};

class CloseWriter : public StepCommand {
 public:
  explicit CloseWriter(const GenState& s) {
    RC_PRE(!s.closed);
    RC_PRE(*rc::gen::inRange(0, 6) == 0);  // late in most sequences
  }
  void checkPreconditions(const GenState& s) const override { RC_PRE(!s.closed); }
  void apply(GenState& s) const override { s.closed = true; }
  Step ToStep() const override { return {Op::kClose, 1, 0, 0}; }
};

class ModelProperty final : public NamedProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kWait) {
      return absl::StrFormat("reader receives, waiting at most %d time unit%s", s.size,
                             s.size == 1 ? "" : "s");
    }
    return NamedProperty::DescribeStep(s);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    GenState initial;
    initial.caps = t.caps();
    auto commands = rc::state::gen::commands(initial, [](const GenState& s) {
      return rc::state::gen::execOneOfWithArgs<TrySend, TrySend, TryRecv, TryRecv, Wait,
                                               CloseWriter>()(s);
    });
    return rc::gen::map(commands, [](const rc::state::Commands<StepCommand::CommandType>& cmds) {
      std::vector<Step> steps;
      steps.reserve(cmds.size());
      for (const auto& cmd : cmds) {
        steps.push_back(static_cast<const StepCommand&>(*cmd).ToStep());
      }
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const Waits waits = Waits::For(env);
    ExecOptions o;
    o.deliver_wait_ms = waits.deliver_ms;
    o.wait_unit_ms = waits.quiet_ms;
    o.max_wait_ms = 8 * waits.quiet_ms;
    return ExecuteStepsInActors(t, s.steps, env, o);
  }
};
IPCSPEC_REGISTER_PROPERTY(ModelProperty, "G-MODEL", {.applies = EveryTransport});

}  // namespace g_model
}  // namespace
}  // namespace ipcspec::props
