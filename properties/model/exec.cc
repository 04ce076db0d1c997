// The executors of model.h: the steps of a scenario performed on a real
// channel and checked against the reference model, in one process
// (ExecuteSteps) or with the writer and the reader in two (ExecuteStepsIn-
// Actors, lock-stepped through shared memory).
#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipcspec/util.h"
#include "ipcspec/watch.h"
#include "properties/model/model.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

bool IsWriterStep(const Step& st) {
  return st.op == Op::kSend || st.op == Op::kTrySend || (st.op == Op::kClose && st.actor == 1);
}

// The model and how each step is performed and checked, shared by both
// executors.
class Stepper {
 public:
  Stepper(const Capabilities& c, const ExecOptions& o) : c_(c), o_(o), model_(MakeModel(c)) {}

  // Performs a send step on `writer`: its Recv code and bytes taken.
  void PerformSend(End& writer, const Step& st, int* rc, size_t* sent) const {
    const std::span<const std::byte> p =
        ModelPayloadView(c_, st.arg, st.size, MostTaken(c_, *model_, st.size));
    *sent = 0;
    *rc = writer.Send(p, sent, 0);
  }
  // Checks a send step's result; "" or what disagreed.
  std::string AfterSend(const Step& st, int rc, size_t sent) {
    return model_->OnSend(st.arg, st.size, rc, rc == 0 ? sent : 0);
  }
  void CloseWriter() { model_->OnCloseWriter(); }

  // A receive step (kRecv, kTryRecv, kWait) on `reader`.
  std::string Receive(End& reader, const Step& st) {
    if (st.op == Op::kWait) {
      const uint64_t ms = std::clamp<uint64_t>(st.size * o_.wait_unit_ms, 1, o_.max_wait_ms);
      return ReceiveInto(reader, 0, static_cast<int>(ms));
    }
    return ReceiveInto(reader, st.size, 0);
  }

  // After the last step: whatever the model still owes comes, then nothing
  // more. `steps`: how many there were, for the message.
  std::string Drain(End& reader, size_t steps) {
    for (int guard = 0; guard < 100000; ++guard) {
      const bool last = model_->Empty();
      if (std::string err = ReceiveInto(reader, 0, 0); !err.empty()) {
        return absl::StrFormat(
            "after step %d, draining (the model holds %s): reader receives "
            "without blocking: %s",
            steps, model_->Holds(), err);
      }
      if (last) break;
    }
    return "";
  }

 private:
  // One receive into `cap` bytes: as the step says, then (when the model
  // says something must come) with a bounded wait that ends when it comes.
  std::string ReceiveInto(End& reader, uint64_t cap, int wait_ms) {
    if (cap == 0) cap = RecvBufferSize(c_);
    cap = std::min<uint64_t>(cap, uint64_t{1} << 24);
    // Kept from one call and one Stepper to the next on this thread (a fresh
    // megabyte per fuzz input was a page fault per page and most of its
    // time); only the received bytes are looked at.
    std::byte* const buf = ThreadBuffer<Stepper>(cap);
    size_t n = 0;
    bool waited = wait_ms > 0;
    int call_ms = wait_ms;
    if (waited && o_.virtual_time && !model_->MustDeliver(cap)) {
      // A predicted timeout: virtual time lets the wait pass at once.
      call_ms = real_timeout_left_ ? std::min(wait_ms, o_.real_timeout_ms) : 0;
      real_timeout_left_ = false;
    }
    int rc = reader.Recv(std::span(buf, cap), &n, call_ms);
    if (waited && call_ms == 0 && rc == -EAGAIN) rc = -ETIMEDOUT;
    const int first = rc;
    bool retried = false;
    if ((rc == -EAGAIN || rc == -ETIMEDOUT) && wait_ms < o_.deliver_wait_ms &&
        model_->MustDeliver(cap)) {
      // Asynchronous transports (TCP loopback, a relay) may take a moment.
      n = 0;
      rc = reader.Recv(std::span(buf, cap), &n, o_.deliver_wait_ms);
      waited = retried = true;
    }
    if (rc != 0) n = 0;
    std::string err = model_->OnRecv(cap, waited, rc, std::span(buf, std::min<size_t>(n, cap)));
    if (!err.empty() && retried) {
      absl::StrAppendFormat(&err, " after waiting up to %d ms (at once: %s)", o_.deliver_wait_ms,
                            Errno(first));
    }
    return err;
  }

  Capabilities c_;
  ExecOptions o_;
  std::unique_ptr<ReferenceModel> model_;
  bool real_timeout_left_ = o_.one_real_timeout;
};

std::string StepFailure(size_t i, const Step& st, const std::string& err) {
  return absl::StrFormat("step %d: %s: %s", i + 1, DescribeStep(st), err);
}

}  // namespace

Verdict ExecuteSteps(const Transport& t, const std::vector<Step>& steps,
                     const std::string& scratch_dir, const ExecOptions& options) {
  const Capabilities& c = t.caps();
  absl::StatusOr<std::unique_ptr<Channel>> ch = t.Create(scratch_dir);
  if (!ch.ok()) return Verdict::Broken(absl::StrCat("create: ", ch.status().message()));
  // Reader first (a FIFO's non-blocking writer needs one), then the writer,
  // then drop the channel's own hold so that closing the writer is seen.
  Verdict v;
  std::unique_ptr<End> reader, writer;
  absl::StatusOr<std::unique_ptr<End>> r = (*ch)->Open(Role::kReader);
  if (!r.ok()) {
    v = Verdict::Broken(absl::StrCat("open(reader): ", r.status().message()));
  } else {
    reader = std::move(*r);
    absl::StatusOr<std::unique_ptr<End>> w = (*ch)->Open(Role::kWriter);
    if (!w.ok()) {
      v = Verdict::Broken(absl::StrCat("open(writer): ", w.status().message()));
    } else {
      writer = std::move(*w);
    }
  }
  (*ch)->Detach();
  Stepper stepper(c, options);
  for (size_t i = 0; i < steps.size() && v.ok(); ++i) {
    const Step& st = steps[i];
    PublishStep(static_cast<int>(i));
    std::string err;
    if (IsWriterStep(st)) {
      if (writer == nullptr) continue;
      if (st.op == Op::kClose) {
        writer.reset();
        stepper.CloseWriter();
        continue;
      }
      int rc = 0;
      size_t sent = 0;
      stepper.PerformSend(*writer, st, &rc, &sent);
      err = stepper.AfterSend(st, rc, sent);
    } else if (st.op == Op::kRecv || st.op == Op::kTryRecv || st.op == Op::kWait) {
      err = stepper.Receive(*reader, st);
    }
    if (!err.empty()) v = Verdict::Fail(StepFailure(i, st, err));
  }
  PublishStep(-1);
  if (v.ok() && reader != nullptr && options.final_drain) {
    if (std::string err = stepper.Drain(*reader, steps.size()); !err.empty()) {
      v = Verdict::Fail(err);
    }
  }
  writer.reset();
  reader.reset();
  if (absl::Status s = (*ch)->Destroy(); !s.ok() && v.ok()) {
    v = Verdict::Fail(absl::StrCat("destroy: ", s.message()));
  }
  return v;
}

namespace {

// A writer step's result in shared memory: its Recv code and bytes taken,
// or kIgnored (a send after the close).
constexpr uint64_t kIgnored = ~uint64_t{0};
uint64_t Pack(int rc, size_t sent) {
  return (uint64_t{static_cast<uint32_t>(rc)} << 32) | static_cast<uint32_t>(sent);
}
void Unpack(uint64_t v, int* rc, size_t* sent) {
  *rc = static_cast<int32_t>(static_cast<uint32_t>(v >> 32));
  *sent = static_cast<uint32_t>(v);
}

// The writer's part: its steps, each once every step before it is done.
std::string PlayWriter(std::unique_ptr<End>& end, const Stepper& stepper,
                       const std::vector<Step>& steps, SharedFlags& flags,
                       const Deadline& deadline) {
  const size_t abort = steps.size(), reader_done = steps.size() + 1;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    if (!IsWriterStep(st)) continue;
    PublishStep(static_cast<int>(i));
    if (i > 0 && !flags.WaitFor(i - 1, deadline)) return "the reader never took its turn";
    if (flags.IsRaised(abort)) return "";  // the reader failed: its verdict is the case's
    uint64_t result = kIgnored;
    if (end != nullptr && st.op == Op::kClose) {
      end.reset();
    } else if (end != nullptr) {
      int rc = 0;
      size_t sent = 0;
      stepper.PerformSend(*end, st, &rc, &sent);
      result = Pack(rc, sent);
    }
    flags.Counter(i).store(result);
    flags.Raise(i);
  }
  // Holds its end (unless closed) until the reader has drained.
  PublishStep(-1);
  flags.WaitFor(reader_done, deadline);
  return "";
}

// The reader's part: the model, its own steps, and the writer's results.
std::string PlayReader(End& end, Stepper& stepper, const std::vector<Step>& steps,
                       SharedFlags& flags, const Deadline& deadline, bool drain) {
  const size_t reader_done = steps.size() + 1;  // steps.size(): abort, raised below with the rest
  bool closed = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    PublishStep(static_cast<int>(i));
    std::string err;
    if (IsWriterStep(st)) {
      if (!flags.WaitFor(i, deadline)) return StepFailure(i, st, "the writer never did it");
      int rc = 0;
      size_t sent = 0;
      const uint64_t result = flags.Counter(i).load();
      if (st.op == Op::kClose && !closed) {
        closed = true;
        stepper.CloseWriter();
      } else if (result != kIgnored && !closed) {
        Unpack(result, &rc, &sent);
        err = stepper.AfterSend(st, rc, sent);
      }
    } else {
      if (st.op == Op::kRecv || st.op == Op::kTryRecv || st.op == Op::kWait) {
        err = stepper.Receive(end, st);
      }
      flags.Raise(i);
    }
    if (!err.empty()) {
      // Every flag, so the writer stops wherever it waits.
      for (size_t k = 0; k <= reader_done; ++k) flags.Raise(k);
      return StepFailure(i, st, err);
    }
  }
  PublishStep(-1);
  std::string err = drain ? stepper.Drain(end, steps.size()) : "";
  flags.Raise(reader_done);
  return err;
}

}  // namespace

Verdict ExecuteStepsInActors(const Transport& t, const std::vector<Step>& steps, const CaseEnv& env,
                             const ExecOptions& options) {
  Stepper stepper(t.caps(), options);
  SharedFlags flags(steps.size() + 2);
  const Deadline deadline = Deadline::After(env.deadline - absl::Now());
  Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) {
                 return PlayWriter(end, stepper, steps, flags, deadline);
               }};
  Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) {
                 return PlayReader(*end, stepper, steps, flags, deadline, options.final_drain);
               }};
  return RunActors(t, env, {writer, reader});
}

}  // namespace ipcspec::props
