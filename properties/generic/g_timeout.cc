// G-TIMEOUT: a bounded receive on an empty transport returns -ETIMEDOUT
// within the bound plus slack: not early, and not never.
#include "absl/strings/str_format.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

class TimeoutProperty : public NamedProperty {
 public:
  TimeoutProperty()
      : NamedProperty("G-TIMEOUT",
                      "a bounded receive on an empty transport times out within the bound plus "
                      "slack, not early and not never",
                      "mq_timedreceive(3), poll(2), sem_timedwait(3)") {}
  Applicability AppliesTo(const Transport&) const override { return Applicability::Yes(); }
  int DefaultExamples() const override { return 10; }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::map(
        rc::gen::resize(3, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                               rc::gen::elementOf(std::vector<uint64_t>{1, 5, 20, 60, 150, 300})))),
        [](const std::vector<uint64_t>& waits) {
          std::vector<Step> steps;
          for (uint64_t w : waits) steps.push_back({Op::kWait, 0, w, 0});
          return steps;
        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    SharedFlags flags;
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>&) -> std::string {
                   // Holds its end open (so no end of stream) until the reader is done.
                   flags.WaitFor(0, Deadline::After(env.deadline - absl::Now()));
                   return "";
                 }};
    Actor reader{
        "reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
          std::vector<std::byte> buf(RecvBufferSize(t.caps()));
          for (const Step& st : s.steps) {
            const int ms = static_cast<int>(st.size);
            size_t n = 0;
            const absl::Time start = absl::Now();
            int rc = end->Recv(buf, &n, ms);
            const absl::Duration took = absl::Now() - start;
            const absl::Duration slack = absl::Milliseconds(60) + absl::Milliseconds(ms) / 4;
            if (rc != -ETIMEDOUT) {
              flags.Raise(0);
              return absl::StrFormat("a %d ms receive on an empty channel gave %s, not -ETIMEDOUT",
                                     ms, Errno(rc));
            }
            if (took < absl::Milliseconds(ms) - absl::Microseconds(500)) {
              flags.Raise(0);
              return absl::StrFormat("a %d ms receive timed out early, after %s", ms,
                                     absl::FormatDuration(took));
            }
            if (took > absl::Milliseconds(ms) + slack) {
              flags.Raise(0);
              return absl::StrFormat("a %d ms receive timed out late, after %s", ms,
                                     absl::FormatDuration(took));
            }
          }
          flags.Raise(0);
          return "";
        }};
    return RunActors(t, env, {writer, reader});
  }
};

IPCSPEC_REGISTER_PROPERTY(TimeoutProperty);

}  // namespace
}  // namespace ipcspec::props
