#include "fuzz/fuzz_mp.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuzz/fuzz_decode.h"
#include "fuzz/fuzz_mp_reader.h"
#include "fuzz/fuzz_mp_state.h"
#include "ipcspec/watch.h"
#include "properties/model/model.h"
#include "properties/support/common.h"

namespace ipcspec {
namespace {

using mp::MpReader;
using mp::MpScript;
using mp::MpShared;

// What every participant of one case knows.
struct Case {
  const Scenario& scenario;
  const MpScript& script;
  MpShared* shared;
  Deadline deadline;  // the participants' last resort
  int hang_ms;        // a bounded wait, where one is owed something
};

std::string AtStep(const Case& c, size_t i, const std::string& err) {
  return absl::StrFormat("step %d: %s: %s", i + 1, DescribeStep(c.scenario.steps[i]), err);
}

// Checks one send's outcome against the capabilities.
std::string JudgeSend(const Case& c, const mp::MpSend& m, int rc, uint64_t took) {
  const Capabilities& caps = c.script.caps;
  if (m.refusal != 0) {
    if (rc == m.refusal) return "";
    return absl::StrFormat("expected %s (%s), got %s", props::Errno(m.refusal),
                           m.refusal == -EMSGSIZE ? "over max_message" : "a counter takes 8",
                           rc == 0 ? absl::StrFormat("%d bytes taken", took) : props::Errno(rc));
  }
  const bool whole = caps.framing == Framing::kMessage || c.script.writers > 1;
  if (rc == -EAGAIN && !m.blocking) return "";
  if (rc != 0 && m.blocking) {
    return absl::StrFormat("a blocking send (timeout -1) of %d bytes gave %s%s: -1 waits for room",
                           m.size, props::Errno(rc),
                           took > 0 ? absl::StrFormat(" after taking %d bytes", took) : "");
  }
  if (rc != 0) return absl::StrFormat("expected the send to be taken, got %s", props::Errno(rc));
  if (caps.model == ModelClass::kCounter) {
    return took == 8 ? "" : absl::StrFormat("expected the value (8 bytes) added, %d taken", took);
  }
  if (took > m.size) return absl::StrFormat("%d bytes reported taken of %d", took, m.size);
  if (m.blocking && took != m.size) {
    return absl::StrFormat("a blocking send took %d of %d bytes", took, m.size);
  }
  if (whole && took != m.size) {
    return absl::StrFormat("%d of %d bytes taken of %s", took, m.size,
                           caps.framing == Framing::kMessage ? "a message" : "an atomic write");
  }
  if (m.size > 0 && took == 0) return "a send of more than 0 bytes took 0 bytes";
  return "";
}

// Writer w's send number k; publishes what it took.
std::string Send(const Case& c, End& end, uint32_t w, uint64_t k) {
  const mp::MpSend& m = c.script.sends[w][k];
  const std::span<const std::byte> payload = mp::MpPayloadView(c.script.caps, w, k, m.size);
  if (m.blocking && m.delivers) {
    c.shared->writers[w].in_send.store(1, std::memory_order_release);
    c.shared->Bump();
  }
  uint64_t took = 0;
  int rc = 0;
  do {
    size_t n = 0;
    rc = end.Send(payload.subspan(took), &n, m.blocking ? -1 : 0);
    if (rc == 0) took += n;
    // A byte stream may take a blocking send in pieces.
  } while (rc == 0 && m.blocking && took < m.size && c.script.caps.framing == Framing::kStream &&
           took > 0);
  // What a byte stream took before an error has gone out: the reader is
  // owed it, and only it.
  c.shared->Publish(w, k, rc == 0 || took > 0 ? static_cast<int64_t>(took) : -1, rc);
  return JudgeSend(c, m, rc, took);
}

std::string WriterMain(const Case& c, uint32_t w, std::unique_ptr<End>& end) {
  uint64_t k = 0;
  for (size_t i : c.script.steps[w]) {
    const Step& st = c.scenario.steps[i];
    c.shared->writers[w].at_step.store(static_cast<uint32_t>(i + 1));
    PublishStep(static_cast<int>(i));
    if (st.op == Op::kClose) break;
    if (st.op == Op::kKill) {
      // Killed here by the case process. What it counted must reach the
      // fuzzer before the SIGKILL does.
      RunChildExitHook();
      WatchedCall watched = WatchedCall::PeerWait("wait for its SIGKILL");
      c.shared->SetState(w, mp::kDying);
      for (;;) ::pause();
    }
    if (st.op != Op::kSend && st.op != Op::kTrySend) continue;
    if (std::string err = Send(c, *end, w, k++); !err.empty()) return AtStep(c, i, err);
  }
  c.shared->SetState(w, mp::kClosing);
  end.reset();
  c.shared->SetState(w, mp::kClosed);
  return "";
}

// A receive that may wait. It is made when something is owed (and then
// must bring it), or once every writer has finished (and then must bring
// the end of stream, or with no peer_close, nothing); otherwise the reader
// waits for the writers to publish a change.
std::string BlockingReceive(const Case& c, MpReader& model, End& end, std::span<std::byte> buf) {
  const bool peer_close = c.script.caps.peer_close;
  // A blocking send in flight that brought nothing in a bounded receive is
  // then waited for without a bound. A send that never returns is then a
  // standstill of two calls without a timeout, which the watchdog names
  // within one hang grace (the send, the older call), where further bounded
  // receives would each count as progress until the case's deadline. The
  // receive still takes what comes, so a stream send larger than the
  // channel can go on.
  bool unbounded = false;
  for (;;) {
    const uint32_t seen = c.shared->epoch.load(std::memory_order_acquire);
    const bool owed = model.Owed();
    const bool finished = model.AllFinished();
    if (!owed && !model.ended() && !finished) {
      if (!c.shared->WaitForChange(seen, c.deadline)) {
        return absl::StrFormat("the writers made no progress until the deadline (owed %s)",
                               model.Owing());
      }
      continue;
    }
    const bool wait = owed || (peer_close && !model.quiet());
    // Owed only a send still in flight (asked again after the receive: the
    // writer may have published meanwhile).
    auto in_flight_only = [&] { return owed && !model.Pending() && !finished; };
    size_t n = 0;
    const int rc = end.Recv(buf, &n, unbounded && in_flight_only() ? -1 : wait ? c.hang_ms : 0);
    if (rc == 0) return model.OnData(buf.first(std::min(n, buf.size())));
    // A writer slow to get into its send owes nothing yet.
    if (rc == -ETIMEDOUT && in_flight_only()) {
      unbounded = true;
      continue;
    }
    if (!owed && rc != kEnd && model.AnyKilled() && peer_close) {
      // After a SIGKILL: the end of stream, or an error, or, as G-PEER-CRASH
      // allows, a timeout where a death is no close (CLOSE_ONLY) or a
      // writer is still to finish.
      if (rc == -ETIMEDOUT && finished && c.script.caps.end_on_death) {
        return "no end of stream after the last writer was killed, within the hang grace "
               "(PEER_CLOSE counts a death as a close; a transport that cannot see one declares "
               "IPCSPEC_CLOSE_ONLY)";
      }
      model.SetQuiet();
      return "";
    }
    if (rc == -ETIMEDOUT && !owed) {
      return "expected end of stream (every writer closed, everything sent arrived), got "
             "nothing within the hang grace";
    }
    if (rc == -EAGAIN && !wait) return "";  // nothing more, as owed
    return model.OnCode(rc, buf.size(), wait);
  }
}

std::string ReaderMain(const Case& c, std::unique_ptr<End>& end) {
  MpReader model(c.script, c.shared);
  const uint64_t max_cap = std::min<uint64_t>(props::RecvBufferSize(c.script.caps), kMaxFuzzSize);
  // Not zeroed: only what a receive wrote is looked at, and zeroing it
  // costs a page fault per page in every reader.
  std::unique_ptr<std::byte[]> storage(new std::byte[max_cap]);
  const std::span<std::byte> buf(storage.get(), max_cap);
  for (size_t i : c.script.steps[0]) {
    const Step& st = c.scenario.steps[i];
    const uint64_t cap = st.size == 0 ? max_cap : std::min<uint64_t>(st.size, max_cap);
    PublishStep(static_cast<int>(i));
    std::string err;
    if (st.op == Op::kRecv) {
      err = BlockingReceive(c, model, *end, buf.first(cap));
    } else {
      size_t n = 0;
      const int rc = end->Recv(buf.first(cap), &n, 0);
      err = rc == 0 ? model.OnData(buf.first(std::min<uint64_t>(n, cap)))
                    : model.OnCode(rc, cap, false);
    }
    if (!err.empty()) return AtStep(c, i, err);
  }
  // The drain: everything owed, until every writer has finished.
  PublishStep(-1);
  while (!model.AllFinished() || model.Owed()) {
    if (!model.Owed() && model.ended()) break;
    if (std::string err = BlockingReceive(c, model, *end, buf); !err.empty()) {
      return absl::StrCat("after its steps, draining: ", err);
    }
  }
  if (std::string err = model.FinalCheck(); !err.empty()) {
    return absl::StrCat("after every writer finished: ", err);
  }
  // What comes after everything: end of stream, or nothing.
  if (std::string err = BlockingReceive(c, model, *end, buf); !err.empty()) {
    return absl::StrCat("after everything arrived: ", err);
  }
  return "";
}

// In the case process: kills each writer that reached its kill step, until
// none is left to kill or the reader is done.
Verdict KillWhenDue(const Case& c, Participants& ps) {
  for (;;) {
    const uint32_t seen = c.shared->epoch.load(std::memory_order_acquire);
    bool left = false;
    for (uint32_t w = 1; w <= c.script.writers; ++w) {
      if (!c.script.kill_planned[w]) continue;
      const mp::WriterState s = c.shared->StateOf(w);
      if (s == mp::kDying) {
        const std::string name = absl::StrCat("writer ", w);
        ps.Kill(name, SIGKILL);
        if (Verdict v = ps.JoinOne(name); !v.ok()) return v;
        c.shared->SetState(w, mp::kDead);
      } else if (s == mp::kRunning || s == mp::kClosing) {
        left = true;
      }
    }
    if (!left || c.shared->reader_done.load() != 0) return Verdict::Pass();
    if (!c.shared->WaitForChange(seen, c.deadline)) return Verdict::Pass();  // Join says why
  }
}

}  // namespace

std::string MultiProcessUnfit(const Capabilities& c) {
  if (!c.reliable) return "reliable=false";
  // The reader checks each writer's messages in the order sent (a counter
  // only sums them).
  if (!c.ordered && c.model != ModelClass::kCounter) {
    return "ordered=false (the multi-process reader checks each writer's order)";
  }
  if (!c.realtime) return "realtime=false (polling transports are too slow to fuzz)";
  if (props::MakeModel(c) == nullptr) {
    return absl::StrFormat("model=%s (no reference model)", ModelClassName(c.model));
  }
  return "";
}

Verdict ExecuteMultiProcess(const Transport& t, const Scenario& s, const CaseEnv& env) {
  const MpScript script = MpScript::Of(t.caps(), s);
  if (script.writers > 1 && !TwoWritersFit(t.caps())) {
    return Verdict::Unsupported("two writers, but the transport takes one (or no atomic_write)");
  }
  absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(env.scratch_dir);
  if (!ch.ok()) return Verdict::Broken(absl::StrCat("create: ", ch.status().message()));
  SharedMemory mem(sizeof(MpShared));
  MpShared* shared = new (mem.data()) MpShared;
  const Deadline deadline = Deadline::After(env.deadline - absl::Now() - absl::Milliseconds(300));
  const Case c{s, script, shared, deadline,
               static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(env.hang_grace)))};
  // Without a kill to carry out, the case process is the reader itself.
  const bool kills = std::any_of(std::begin(script.kill_planned), std::end(script.kill_planned),
                                 [](bool k) { return k; });
  Verdict verdict;
  {
    Participants ps(deadline);
    const bool here = !kills && ps.WatchedFromOutside();
    ProcessBarrier opened(script.writers + 2 - (here ? 1 : 0));  // and the case process
    auto part = [&](Role role, const props::ActorFn& fn, const std::function<void()>& after) {
      Verdict v = props::RunPart(**ch, role, opened, deadline, fn);
      after();
      return v;
    };
    auto read = [&](std::unique_ptr<End>& e) { return ReaderMain(c, e); };
    auto reader_done = [&] {
      shared->reader_done.store(1);
      shared->Bump();
    };
    if (!here) {
      ps.Spawn("reader", [&] { return part(Role::kReader, read, reader_done); });
    }
    for (uint32_t w = 1; w <= script.writers; ++w) {
      ps.Spawn(absl::StrCat("writer ", w), [&, w] {
        return part(
            Role::kWriter, [&, w](std::unique_ptr<End>& e) { return WriterMain(c, w, e); },
            [&, w] {
              if (shared->StateOf(w) != mp::kClosed) shared->SetState(w, mp::kClosed);
            });
      });
    }
    if (here) {
      // The reader first, as Join would take it; a failed reader ends the case.
      Verdict mine = ps.RunHere("reader", [&] { return part(Role::kReader, read, reader_done); });
      verdict = mine.ok() ? ps.Join() : ps.KillTheRest(mine);
    } else {
      (*ch)->Detach();
      opened.Wait(deadline);
      Verdict killed = KillWhenDue(c, ps);
      verdict = ps.Join();
      if (verdict.ok() && !killed.ok()) verdict = killed;
    }
  }
  absl::Status destroyed = (*ch)->Destroy();
  if (!destroyed.ok() && verdict.ok()) {
    verdict = Verdict::Fail(absl::StrCat("destroy: ", destroyed.message()));
  }
  return verdict;
}

namespace {

class MultiProcessFuzzProperty final : public props::NamedProperty {
  Applicability AppliesTo(const Transport& t) const override {
    const std::string why = MultiProcessUnfit(t.caps());
    return why.empty() ? Applicability::Yes() : props::Needs(false, why);
  }
  // The fuzz input's instructions, a byte each (a second for a repeat),
  // drawn as fields that shrink on their own: the kind towards a plain
  // send, its argument and a repeat's size towards 0. Drawn as bytes, a
  // shrink changed the kind with the argument, and a 32-send repeat stayed.
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    using Instruction = std::tuple<uint64_t, uint64_t, uint64_t>;
    return rc::gen::map(
        rc::gen::resize(
            40, rc::gen::container<std::vector<Instruction>>(rc::gen::tuple(
                    props::UniformBelow(8), props::UniformBelow(32), props::UniformBelow(32)))),
        [&t](const std::vector<Instruction>& program) {
          std::string bytes;
          for (const auto& [kind, arg, repeated] : program) {
            bytes += static_cast<char>(kind << 5 | arg);
            if (kind == 7) bytes += static_cast<char>(repeated);
          }
          return DecodeMultiProcess(t, bytes).steps;
        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    return ExecuteMultiProcess(t, s, env);
  }
};
IPCSPEC_REGISTER_PROPERTY(MultiProcessFuzzProperty, "MP-FUZZ", {.examples = 10});

}  // namespace
}  // namespace ipcspec
