// SYSV-MSG-ZERO checks what each message carries, not only its length and
// type: a msgrcv that, after a zero-length message, delivers the next
// message's text one byte late (as a queue storing messages back to back with
// a one-byte minimum would) keeps every length and type right and must fail
// on the bytes. The real msgrcv passes.
#include <sys/msg.h>

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "properties/support/mech_common.h"

namespace ipcspec {
namespace {

using props::Hooks;
using props::MechHooks;
using ::testing::HasSubstr;

struct AnyMsg {
  long mtype;
  char mtext[8192];
};

// After a zero-length message, the next text arrives shifted by one byte.
ssize_t ShiftAfterEmptyMsgrcv(int id, void* buf, size_t size, long type, int flags) {
  static bool after_empty = false;
  const ssize_t n = ::msgrcv(id, buf, size, type, flags);
  if (n < 0) return n;
  auto* m = static_cast<AnyMsg*>(buf);
  if (after_empty && n > 0) {
    std::memmove(m->mtext + 1, m->mtext, static_cast<size_t>(n) - 1);
    m->mtext[0] = '\0';
  }
  after_empty = n == 0;
  return n;
}

class SysvMsgZeroTest : public ::testing::Test {
 protected:
  void TearDown() override { Hooks() = MechHooks{}; }
  static CaseResult Run(const std::vector<uint64_t>& sizes) {
    Scenario s{"SYSV-MSG-ZERO", "sysv_msg", {}};
    for (size_t i = 0; i < sizes.size(); ++i) s.steps.push_back(Step::Send(1, sizes[i], i));
    SandboxOptions o;
    o.timeout = absl::Seconds(10);
    return DirectRunner(o).Run(s);
  }
};

TEST_F(SysvMsgZeroTest, RealMsgrcvPasses) {
  EXPECT_EQ(Run({0, 5, 0, 0, 17, 1}).outcome, Outcome::kPass);
}

TEST_F(SysvMsgZeroTest, PayloadShiftedAfterAnEmptyMessageFails) {
  Hooks().msgrcv = ShiftAfterEmptyMsgrcv;
  EXPECT_EQ(Run({5, 17}).outcome, Outcome::kPass) << "no empty message, nothing shifted";
  CaseResult r = Run({0, 5});
  ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("message 1 (type 2, 5 bytes): byte 0 is"));
}

TEST_F(SysvMsgZeroTest, ShrinksToAnEmptyMessageThenAShortOne) {
  Hooks().msgrcv = ShiftAfterEmptyMsgrcv;
  const Transport* t = TransportRegistry::Global().Find("sysv_msg");
  const Property* p = PropertyRegistry::Global().Find("SYSV-MSG-ZERO");
  ASSERT_NE(t, nullptr);
  ASSERT_NE(p, nullptr);
  SandboxOptions o;
  o.timeout = absl::Seconds(10);
  DirectRunner runner(o);
  RunConfig config;
  config.seed = 3;
  config.examples = 100;
  PropertyResult r = RunProperty(*t, *p, config, runner);
  ASSERT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.counterexample, HasSubstr("msgsnd of message 0, type 1: 0 bytes"));
  EXPECT_THAT(r.counterexample, HasSubstr("msgsnd of message 1, type 2: 1 byte"));
}

}  // namespace
}  // namespace ipcspec
