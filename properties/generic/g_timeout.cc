// G-TIMEOUT: a bounded call that cannot complete returns within its bound
// plus slack: a receive on an empty channel gives -ETIMEDOUT, not early and
// not never; a send after the reader closed returns on time too (it may
// succeed, fail with EPIPE, or time out, but not early and not late).
//
// Bounds are multiples of the case's time unit (--time-unit), so a loaded
// machine can slow the property down instead of failing it.
//
// The oracle for each capability class:
//   realtime            -ETIMEDOUT no earlier than the bound, and no later
//                       than bound * 1.25 + 5 time units
//   polled (realtime    as realtime, but up to --hang-grace late
//   false)
//   peer-close or not   the reader's waits come while the writer holds its
//                       end, so no END is due; the sends come after the
//                       reader closed: any result, on time
//   reliability,        change nothing: no data moves
//   framing, capacity
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

constexpr size_t kReaderDone = 0, kReaderClosed = 1;

// A bound in time units: mostly short ones; the long ones tell a call that
// waits twice its bound from one that is merely late by scheduling.
rc::Gen<uint64_t> Units() {
  return rc::gen::weightedOneOf<uint64_t>({{4, rc::gen::just<uint64_t>(1)},
                                           {3, rc::gen::just<uint64_t>(2)},
                                           {2, rc::gen::just<uint64_t>(4)},
                                           {1, rc::gen::just<uint64_t>(8)},
                                           {1, rc::gen::just<uint64_t>(16)}});
}

// "" when a call bounded by `bound` that returned `rc` after `took` was on
// time; `owed_timeout`: it could only time out.
std::string OnTime(std::string_view what, absl::Duration bound, absl::Duration late_slack,
                   int rc, absl::Duration took, bool owed_timeout) {
  if (owed_timeout && rc != -ETIMEDOUT) {
    return absl::StrFormat("%s gave %s, not -ETIMEDOUT", what, Errno(rc));
  }
  if (rc == -ETIMEDOUT && took < bound - absl::Microseconds(500)) {
    return absl::StrFormat("%s timed out early, after %s", what, absl::FormatDuration(took));
  }
  if (took > bound + late_slack) {
    return absl::StrFormat("%s returned %s late, after %s", what, Errno(rc),
                           absl::FormatDuration(took));
  }
  return "";
}

class TimeoutProperty : public NamedProperty {
 public:
  TimeoutProperty()
      : NamedProperty("G-TIMEOUT",
                      "a bounded receive on an empty transport times out within the bound plus "
                      "slack, not early and not never; a bounded send after the reader closed "
                      "returns on time too",
                      "mq_timedreceive(3), mq_timedsend(3), poll(2), sem_timedwait(3); gVisor "
                      "test/syscalls/linux/mq.cc") {}
  Applicability AppliesTo(const Transport&) const override { return Applicability::Yes(); }
  int DefaultExamples() const override { return 10; }
  std::string DescribeStep(const Step& s) const override {
    if (s.op != Op::kWait) return NamedProperty::DescribeStep(s);
    return absl::StrFormat(s.actor == 0 ? "the reader receives on the empty channel, waiting at "
                                          "most %d time units"
                                        : "after the reader closed, the writer sends, waiting at "
                                          "most %d time units",
                           s.size);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      std::vector<Step> steps;
      auto waits = *rc::gen::resize(
          2, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(Units())));
      for (uint64_t w : waits) steps.push_back({Op::kWait, 0, w, 0});
      if (*rc::gen::arbitrary<bool>()) steps.push_back({Op::kWait, 1, *Units(), 0});
      return steps;
    });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const absl::Duration unit = std::max(env.time_unit, absl::Milliseconds(1));
    auto bound_of = [&](const Step& st) { return unit * static_cast<int64_t>(st.size); };
    auto slack_of = [&](absl::Duration bound) {
      return bound / 4 + 5 * unit + (t.caps().realtime ? absl::ZeroDuration() : env.hang_grace);
    };
    SharedFlags flags;
    const Deadline deadline = Deadline::After(env.deadline - absl::Now());
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   // Holds its end open (so no end of stream) until the reader is done.
                   if (!flags.WaitFor(kReaderDone, deadline)) return "the reader never finished";
                   if (!flags.WaitFor(kReaderClosed, deadline)) return "the reader never closed";
                   std::vector<std::byte> buf(16, std::byte{7});
                   for (const Step& st : s.steps) {
                     if (st.op != Op::kWait || st.actor != 1) continue;
                     const absl::Duration bound = bound_of(st);
                     size_t n = 0;
                     const absl::Time start = absl::Now();
                     const int rc = end->Send(buf, &n, static_cast<int>(absl::ToInt64Milliseconds(bound)));
                     const std::string what =
                         absl::StrFormat("a %d-unit send after the reader closed", st.size);
                     std::string e = OnTime(what, bound, slack_of(bound), rc, absl::Now() - start,
                                            /*owed_timeout=*/false);
                     if (!e.empty()) return e;
                   }
                   return "";
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   std::vector<std::byte> buf(RecvBufferSize(t.caps()));
                   std::string e;
                   for (const Step& st : s.steps) {
                     if (st.op != Op::kWait || st.actor != 0 || !e.empty()) continue;
                     const absl::Duration bound = bound_of(st);
                     size_t n = 0;
                     const absl::Time start = absl::Now();
                     const int rc = end->Recv(buf, &n, static_cast<int>(absl::ToInt64Milliseconds(bound)));
                     const std::string what =
                         absl::StrFormat("a %d-unit receive on an empty channel", st.size);
                     e = OnTime(what, bound, slack_of(bound), rc, absl::Now() - start,
                                /*owed_timeout=*/true);
                   }
                   flags.Raise(kReaderDone);
                   end.reset();
                   flags.Raise(kReaderClosed);
                   return e;
                 }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(TimeoutProperty);

}  // namespace
}  // namespace ipcspec::props
