// The actors of a case (properties/support/common.h RunActors): when one
// actor fails and its peers fail because of it, the verdict is the cause.
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ipcspec/registry.h"
#include "ipcspec/sandbox.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

using ::testing::HasSubstr;

// A pipe whose reader's end, once closed, stays in its destructor until the
// writer has closed its end too: whatever the writer makes of the close is
// over before the reader's part is done.
class SlowCloseTransport final : public Transport {
 public:
  explicit SlowCloseTransport(const Transport& inner) : inner_(inner) {}
  std::string_view name() const override { return inner_.name(); }
  std::string_view description() const override { return inner_.description(); }
  const Capabilities& caps() const override { return inner_.caps(); }
  absl::StatusOr<std::unique_ptr<Channel>> Create(const std::string& dir) const override {
    absl::StatusOr<std::unique_ptr<Channel>> ch = inner_.Create(dir);
    if (!ch.ok()) return ch.status();
    return std::make_unique<SlowCloseChannel>(std::move(*ch), flags_);
  }

 private:
  static constexpr size_t kWriterClosed = 0;
  class SlowCloseEnd final : public End {
   public:
    SlowCloseEnd(std::unique_ptr<End> inner, Role role, SharedFlags& flags)
        : inner_(std::move(inner)), role_(role), flags_(flags) {}
    ~SlowCloseEnd() override {
      inner_.reset();
      if (role_ == Role::kWriter) flags_.Raise(kWriterClosed);
      if (role_ == Role::kReader) {
        (void)flags_.WaitFor(kWriterClosed, Deadline::After(absl::Seconds(10)));
      }
    }
    int Send(std::span<const std::byte> buf, size_t* sent, int timeout_ms) override {
      return inner_->Send(buf, sent, timeout_ms);
    }
    int Recv(std::span<std::byte> buf, size_t* got, int timeout_ms) override {
      return inner_->Recv(buf, got, timeout_ms);
    }

   private:
    std::unique_ptr<End> inner_;
    Role role_;
    SharedFlags& flags_;
  };
  class SlowCloseChannel final : public Channel {
   public:
    SlowCloseChannel(std::unique_ptr<Channel> inner, SharedFlags& flags)
        : inner_(std::move(inner)), flags_(flags) {}
    absl::StatusOr<std::unique_ptr<End>> Open(Role role) override {
      absl::StatusOr<std::unique_ptr<End>> end = inner_->Open(role);
      if (!end.ok()) return end.status();
      return std::make_unique<SlowCloseEnd>(std::move(*end), role, flags_);
    }
    void Detach() override { inner_->Detach(); }
    absl::Status Destroy() override { return inner_->Destroy(); }

   private:
    std::unique_ptr<Channel> inner_;
    SharedFlags& flags_;
  };

  const Transport& inner_;
  mutable SharedFlags flags_;
};

// The reader finds something wrong and closes; the writer, blocked in a
// send into the full pipe, then gets -EPIPE. The reader's finding is the
// verdict, not the writer's -EPIPE, however the two processes are timed.
TEST(ActorsTest, TheFailureThatCameFirstIsTheVerdictNotItsConsequence) {
  const Transport* pipe = TransportRegistry::Global().Find("pipe");
  ASSERT_NE(pipe, nullptr);
  for (int round = 0; round < 10; ++round) {
    const CaseResult r = RunCase({.timeout = absl::Seconds(30)}, [&](const CaseEnv& env) {
      SlowCloseTransport slow(*pipe);
      Actor writer{"writer", Role::kWriter, [](std::unique_ptr<End>& end) -> std::string {
                     const std::vector<std::byte> big(1 << 20);
                     size_t sent = 0;
                     const int rc = end->Send(big, &sent, 5000);
                     return rc == 0 ? "" : absl::StrCat("the writer's send: ", Errno(rc));
                   }};
      Actor reader{"reader", Role::kReader,
                   [](std::unique_ptr<End>&) -> std::string { return "the reader's finding"; }};
      return RunActors(slow, env, {writer, reader});
    });
    EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
    EXPECT_THAT(r.message, HasSubstr("the reader's finding")) << "round " << round;
  }
}

// A case on the pipe transport whose `body` gets `count` flags, raised
// only by its actors, and a bound for waiting on them far past the hang
// grace: a wait that a failure does not end is a hang (outcome timeout).
using FlagsBody =
    std::function<Verdict(const Transport&, const CaseEnv&, SharedFlags&, const Deadline&)>;
CaseResult RunWithFlags(size_t count, const FlagsBody& body) {
  const Transport* pipe = TransportRegistry::Global().Find("pipe");
  if (pipe == nullptr) return {.message = "no pipe transport"};
  return RunCase({.timeout = absl::Seconds(20)}, [&](const CaseEnv& env) {
    SharedFlags flags(count);
    return body(*pipe, env, flags, Deadline::After(absl::Seconds(15)));
  });
}

// An actor fails before it raises the flags its peer and the case process
// wait for: their waits end at once (the flags are abandoned), and the
// verdict is its failure, not a hang in their waits nor what they make of
// the flag that never came.
TEST(ActorsTest, AFailureEndsThePeersWaitsForWhatItWouldHaveDone) {
  const CaseResult r = RunWithFlags(
      2, [](const Transport& pipe, const CaseEnv& env, SharedFlags& flags, const Deadline& later) {
        Actor writer{"writer", Role::kWriter,
                     [](std::unique_ptr<End>&) -> std::string { return "the writer's finding"; }};
        Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>&) -> std::string {
                       return flags.WaitFor(0, later) ? "" : "the reader's flag never came";
                     }};
        return RunActors(pipe, env, {writer, reader}, [&](ActorControl&) {
          return flags.WaitFor(1, later) ? Verdict::Pass()
                                         : Verdict::Fail("the case process's flag never came");
        });
      });
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("the writer's finding"));
}

// The case process's own finding, when it comes first, stays the verdict:
// the actors waiting for what it would have raised end with their own
// complaints, which are its consequence.
TEST(ActorsTest, TheCaseProcesssFailureThatCameFirstIsTheVerdict) {
  const CaseResult r = RunWithFlags(
      1, [](const Transport& pipe, const CaseEnv& env, SharedFlags& flags, const Deadline& later) {
        auto waits = [&](std::unique_ptr<End>&) -> std::string {
          return flags.WaitFor(0, later) ? "" : "the go-ahead never came";
        };
        return RunActors(
            pipe, env, {{"writer", Role::kWriter, waits}, {"reader", Role::kReader, waits}},
            [&](ActorControl&) { return Verdict::Fail("the case process's finding"); });
      });
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("the case process's finding"));
}

// In an actor with two threads, the second fails first; the first, waiting
// for a flag the second never raises, fails because of it: the verdict is
// the second thread's finding (its wait ends at once, and the actor's own
// verdict names the cause, not the consequence).
TEST(ActorsTest, AnActorsSecondThreadThatFailedFirstIsItsVerdict) {
  const CaseResult r = RunWithFlags(
      1, [](const Transport& pipe, const CaseEnv& env, SharedFlags& flags, const Deadline& later) {
        Actor both{"the writers", Role::kWriter, nullptr};
        both.ends = {{0, Role::kWriter}, {1, Role::kWriter, /*own_thread=*/true}};
        both.with_ends = [&](std::vector<std::unique_ptr<End>>&) -> std::string {
          return flags.WaitFor(0, later) ? "" : "the first thread's flag never came";
        };
        both.in_thread = [](std::unique_ptr<End>&) -> std::string {
          return "the second thread's finding";
        };
        auto idle = [](std::unique_ptr<End>&) { return std::string(); };
        return RunActorsOn(
            pipe, env, 2,
            {both, {"reader 1", Role::kReader, idle, 0}, {"reader 2", Role::kReader, idle, 1}});
      });
  EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
  EXPECT_THAT(r.message, HasSubstr("the second thread's finding"));
}

// Every actor in a process of its own (the last has a second thread, so
// none runs in the case process) and no hook: the actors report together,
// once all are done, and the first failure in time is the verdict, not the
// first report the case process reads (the writer's, spawned first).
TEST(ActorsTest, WithEveryActorSpawnedTheFailureThatCameFirstIsTheVerdict) {
  for (int round = 0; round < 10; ++round) {
    const CaseResult r = RunWithFlags(1, [](const Transport& pipe, const CaseEnv& env,
                                            SharedFlags& flags, const Deadline& later) {
      Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>&) -> std::string {
                     return flags.WaitFor(0, later) ? "" : "the writer's flag never came";
                   }};
      Actor readers{"the readers", Role::kReader, nullptr};
      readers.ends = {{0, Role::kReader}, {1, Role::kReader, /*own_thread=*/true}};
      readers.with_ends = [](std::vector<std::unique_ptr<End>>&) -> std::string {
        return "the readers' finding";
      };
      readers.in_thread = [](std::unique_ptr<End>&) { return std::string(); };
      return RunActorsOn(pipe, env, 2, {writer, readers});
    });
    EXPECT_EQ(r.outcome, Outcome::kFail) << r.message;
    EXPECT_THAT(r.message, HasSubstr("the readers' finding")) << "round " << round;
  }
}

}  // namespace
}  // namespace ipcspec::props
