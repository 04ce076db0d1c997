// The SIG-*, SHM-*, SEM-*, UNIX-* and INET-* mechanism properties: each
// passes on this machine on every transport it applies to, and each area
// fails against a deliberately wrong mechanism:
//   - realtime queueing done on a standard signal (SIGUSR1) fails SIG-RT-QUEUE;
//   - the signal model with a standard signal in a realtime slot fails SIG-MODEL;
//   - a "shared" segment mapped MAP_PRIVATE fails visibility (semaphore
//     publication, release/acquire publication, fork sharing);
//   - a fork-per-connection server that keeps the accepted descriptors
//     fails the worked example.
#include <signal.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/engine.h"
#include "ipcspec/registry.h"
#include "properties/socket/socket_server.h"
#include "properties/support/shm_sem.h"

namespace ipcspec {
namespace {

using ::testing::HasSubstr;

bool Mine(std::string_view id) {
  for (std::string_view prefix : {"SIG-", "SHM-", "SEM-", "UNIX-", "INET-"}) {
    if (id.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

SandboxOptions Options(absl::Duration timeout = absl::Seconds(10)) {
  SandboxOptions o;
  o.timeout = timeout;
  return o;
}

TEST(MechanismPropertiesTest, EachAreaHasProperties) {
  int sig = 0, shm = 0, sem = 0, unix_ = 0, inet = 0;
  for (const Property* p : PropertyRegistry::Global().All()) {
    std::string_view id = p->id();
    sig += id.substr(0, 4) == "SIG-";
    shm += id.substr(0, 4) == "SHM-";
    sem += id.substr(0, 4) == "SEM-";
    unix_ += id.substr(0, 5) == "UNIX-";
    inet += id.substr(0, 5) == "INET-";
    if (Mine(id)) {
      EXPECT_FALSE(p->summary().empty()) << id;
      EXPECT_FALSE(p->reference().empty()) << id;
    }
  }
  EXPECT_GE(sig, 16);
  EXPECT_GE(shm, 26);
  EXPECT_GE(sem, 6);
  EXPECT_GE(unix_, 9);
  EXPECT_GE(inet, 4);
}

// Every one of these properties passes, with a few examples, on every
// built-in transport it applies to, and applies to at least one.
TEST(MechanismPropertiesTest, PassOnThisMachine) {
  DirectRunner runner(Options());
  for (const Property* p : PropertyRegistry::Global().All()) {
    if (!Mine(p->id())) continue;
    int applied = 0;
    for (const Transport* t : TransportRegistry::Global().All()) {
      if (!p->AppliesTo(*t).applies) continue;
      ++applied;
      RunConfig config;
      config.seed = 7;
      config.examples = 4;
      PropertyResult r = RunProperty(*t, *p, config, runner);
      EXPECT_EQ(r.outcome, Outcome::kPass)
          << p->id() << " on " << t->name() << ": " << r.message << "\n"
          << r.counterexample;
    }
    EXPECT_GT(applied, 0) << p->id() << " applies to no built-in transport";
  }
}

TEST(MechanismPropertiesTest, NotApplicableElsewhereWithAReason) {
  const Property* p = PropertyRegistry::Global().Find("SIG-RT-QUEUE");
  const Transport* pipe = TransportRegistry::Global().Find("pipe");
  ASSERT_NE(p, nullptr);
  ASSERT_NE(pipe, nullptr);
  Applicability a = p->AppliesTo(*pipe);
  EXPECT_FALSE(a.applies);
  EXPECT_THAT(a.reason, HasSubstr("SIG-*"));
}

Scenario RtQueue(uint64_t substitute, uint64_t handlers) {
  Scenario s{"SIG-RT-QUEUE", "signal", {Step::Param(1, handlers)}};
  if (substitute != 0) s.steps.push_back(Step::Param(0, substitute));
  for (uint64_t i = 0; i < 3; ++i) s.steps.push_back(Step::Send(0, 100 + i, i));
  return s;
}

TEST(MechanismDetectionTest, StandardSignalFailsRealtimeQueueing) {
  DirectRunner runner(Options());
  for (uint64_t handlers : {0, 1}) {
    CaseResult ok = runner.Run(RtQueue(0, handlers));
    EXPECT_EQ(ok.outcome, Outcome::kPass) << ok.message;
    CaseResult bad = runner.Run(RtQueue(SIGUSR1, handlers));
    ASSERT_EQ(bad.outcome, Outcome::kFail) << bad.message;
    EXPECT_THAT(bad.message, HasSubstr("3 signals queued, only 1"));
  }
}

TEST(MechanismDetectionTest, StandardSignalInARealtimeSlotFailsTheModel) {
  // Block slot 2, send it three times, unblock: the model queues three.
  std::vector<Step> steps = {Step{Op::kOpen, 2, 0, 0}, Step{Op::kSend, 2, 5, 0},
                             Step{Op::kSend, 2, 6, 0}, Step{Op::kSend, 2, 7, 0},
                             Step{Op::kClose, 2, 0, 0}};
  DirectRunner runner(Options());
  CaseResult ok = runner.Run({"SIG-MODEL", "signal", steps});
  EXPECT_EQ(ok.outcome, Outcome::kPass) << ok.message;
  steps.insert(steps.begin(), Step::Param(0, SIGHUP));
  CaseResult bad = runner.Run({"SIG-MODEL", "signal", steps});
  ASSERT_EQ(bad.outcome, Outcome::kFail) << bad.message;
  EXPECT_THAT(bad.message,
              HasSubstr("after step 5 the model expects handled SIGHUP(5), handled SIGHUP(6)"));
}

TEST(MechanismDetectionTest, PrivateMappingFailsSemaphorePublication) {
  const std::vector<uint64_t> sizes = {1, 4096, 70000};
  CaseResult good = RunCase(Options(), [&](const CaseEnv& env) {
    return props::CheckPublish(props::PosixSegments(), props::Publish::kPosixSemaphore, sizes, env);
  });
  EXPECT_EQ(good.outcome, Outcome::kPass) << good.message;
  CaseResult bad = RunCase(Options(), [&](const CaseEnv& env) {
    return props::CheckPublish(props::PrivateMappingSegments(), props::Publish::kPosixSemaphore,
                               sizes, env);
  });
  ASSERT_EQ(bad.outcome, Outcome::kFail) << bad.message;
  EXPECT_THAT(bad.message, HasSubstr("not visible in this process (shm_open/mmap(MAP_PRIVATE))"));
}

TEST(MechanismDetectionTest, PrivateMappingFailsAtomicPublication) {
  CaseResult good = RunCase(Options(), [&](const CaseEnv& env) {
    return props::CheckPublish(props::SysvSegments(), props::Publish::kAtomic, {64, 3}, env);
  });
  EXPECT_EQ(good.outcome, Outcome::kPass) << good.message;
  CaseResult bad = RunCase(Options(), [&](const CaseEnv& env) {
    return props::CheckPublish(props::PrivateMappingSegments(), props::Publish::kAtomic, {64}, env);
  });
  ASSERT_EQ(bad.outcome, Outcome::kFail) << bad.message;
  EXPECT_THAT(bad.message, HasSubstr("never became visible"));
}

TEST(MechanismDetectionTest, PrivateMappingFailsForkSharing) {
  CaseResult bad = RunCase(Options(), [&](const CaseEnv& env) {
    return props::CheckForkSharing(props::PrivateMappingSegments(), 4096, env);
  });
  ASSERT_EQ(bad.outcome, Outcome::kFail) << bad.message;
  EXPECT_THAT(bad.message, HasSubstr("after the fork child wrote"));
}

TEST(MechanismDetectionTest, ServerKeepingAcceptedDescriptorsFails) {
  for (int family : {AF_UNIX, AF_INET}) {
    CaseResult good = RunCase(Options(), [&](const CaseEnv& env) {
      return props::CheckForkServer(family, 3, /*close_in_parent=*/true, env);
    });
    EXPECT_EQ(good.outcome, Outcome::kPass) << good.message;
    CaseResult bad = RunCase(Options(), [&](const CaseEnv& env) {
      return props::CheckForkServer(family, 3, /*close_in_parent=*/false, env);
    });
    ASSERT_EQ(bad.outcome, Outcome::kFail) << bad.message;
    EXPECT_THAT(bad.message, HasSubstr("another process still holds"));
  }
}

}  // namespace
}  // namespace ipcspec
