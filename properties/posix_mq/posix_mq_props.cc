// POSIX-MQ-*: POSIX message queues (mq_open/mq_send/mq_receive) checked on
// a queue of their own: priority order against a priority-queue model,
// EMSGSIZE for short receive buffers, O_NONBLOCK EAGAIN, EINVAL above
// MQ_PRIO_MAX, EBADF for the wrong access mode (ETIMEDOUT and mq_notify are
// in posix_mq_wait.cc). mq_send goes through MechHooks so a test can
// substitute one that drops the priority.
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/posix_mq/mq_queue.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {
namespace {
namespace posix_mq_props {

constexpr long kModelMsgSize = 256;

class PriorityProperty final : public NamedProperty {
  std::string DescribeStep(const Step& s) const override {
    switch (s.op) {
      case Op::kPriority:
        return absl::StrFormat("the writer sets priority %d for the next mq_send", s.size);
      case Op::kTrySend:
        return absl::StrFormat("mq_send of message %d without blocking: %s", s.arg,
                               SayBytes(s.size));
      case Op::kTryRecv:
        return "mq_receive without blocking";
      default:
        return NamedProperty::DescribeStep(s);
    }
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      std::vector<Step> steps = {maxmsg_.Step(*rc::gen::inRange(1, 11))};
      const auto prio =
          rc::gen::oneOf(rc::gen::elementOf(std::vector<uint64_t>{0, 0, 1, 1, 2, 5, 31}),
                         rc::gen::inRange<uint64_t>(0, 32768));
      const int ops = *rc::gen::inRange(1, 50);
      uint64_t n = 0;
      for (int i = 0; i < ops; ++i) {
        if (*rc::gen::inRange(0, 5) < 3) {
          steps.push_back({Op::kPriority, 1, *prio, 0});
          steps.push_back(
              {Op::kTrySend, 1, *rc::gen::inRange<uint64_t>(0, kModelMsgSize + 1), n++});
        } else {
          steps.push_back({Op::kTryRecv, 0, 0, 0});
        }
      }
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long maxmsg = std::max<long>(1, maxmsg_.Of(s));
    MqQueue q(maxmsg, kModelMsgSize);
    if (!q.ok()) return NotOpened(q);
    struct M {
      unsigned prio;
      uint64_t n;
      size_t size;
    };
    std::deque<M> model;
    unsigned prio = 0;
    int i = 0;
    std::vector<char> buf(kModelMsgSize);
    for (const Step& st : s.steps) {
      ++i;
      if (st.op == Op::kPriority) prio = static_cast<unsigned>(st.size);
      if (st.op == Op::kTrySend) {
        const std::vector<char> text = PayloadText(prio, st.arg, st.size);
        // An empty vector's data() is null, which mq_send may not be given.
        const int rc = Hooks().mq_send(q.q(), text.empty() ? "" : text.data(), text.size(), prio);
        const bool full = static_cast<long>(model.size()) == maxmsg;
        if (full ? (rc == 0 || errno != EAGAIN) : rc != 0) {
          return Verdict::Fail(absl::StrFormat(
              "step %d: non-blocking mq_send (priority %d) with %d of %d queued %s, "
              "expected %s",
              i, prio, model.size(), maxmsg, Said(rc), full ? "EAGAIN" : "success"));
        }
        if (!full) {
          // Behind every message of the same or higher priority.
          auto pos =
              std::find_if(model.begin(), model.end(), [&](const M& m) { return m.prio < prio; });
          model.insert(pos, M{prio, st.arg, st.size});
        }
      }
      if (st.op != Op::kTryRecv) continue;
      unsigned got_prio = UINT_MAX;
      const ssize_t n = ::mq_receive(q.q(), buf.data(), buf.size(), &got_prio);
      if (model.empty()) {
        if (n >= 0 || errno != EAGAIN) {
          return Verdict::Fail(absl::StrFormat(
              "step %d: non-blocking mq_receive on an empty queue %s, not EAGAIN", i, Said(n)));
        }
        continue;
      }
      const M want = model.front();
      model.pop_front();
      const std::vector<char> text = PayloadText(want.prio, want.n, want.size);
      if (n != static_cast<ssize_t>(want.size) || got_prio != want.prio ||
          !std::equal(text.begin(), text.end(), buf.begin())) {
        return Verdict::Fail(absl::StrFormat(
            "step %d: mq_receive gave %s at priority %d; expected message %d (%d bytes, "
            "priority %d), the oldest of the highest priority",
            i, n < 0 ? ErrnoName(errno) : absl::StrCat(n, " bytes"), got_prio, want.n, want.size,
            want.prio));
      }
    }
    if (q.CurMsgs() != static_cast<long>(model.size()))
      return Verdict::Fail("mq_curmsgs disagrees with the model");
    return Verdict::Pass();
  }

  const Param<long> maxmsg_{this, 0, "the queue's mq_maxmsg is %s", 10};
};
IPCSPEC_REGISTER_PROPERTY(PriorityProperty, "POSIX-MQ-PRIORITY", {.applies = ForPosixMq});

class MsgSizeProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const uint64_t msgsize = *rc::gen::inRange<uint64_t>(2, 8193);
      return std::vector<Step>{msgsize_.Step(msgsize),
                               len_.Step(*rc::gen::inRange<uint64_t>(0, msgsize + 1)),
                               small_.Step(*rc::gen::inRange<uint64_t>(1, msgsize))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long msgsize = static_cast<long>(std::max<uint64_t>(2, msgsize_.Of(s)));
    const size_t len = std::min<uint64_t>(len_.Of(s), msgsize);
    const size_t small = std::clamp<uint64_t>(small_.Of(s), 1, msgsize - 1);
    MqQueue q(4, msgsize);
    if (!q.ok()) return NotOpened(q);
    const std::vector<char> text = PayloadText(3, 0, len);
    if (Hooks().mq_send(q.q(), text.data(), len, 3) != 0)
      return Verdict::Broken(absl::StrCat("mq_send: ", ErrnoName(errno)));
    std::vector<char> big(msgsize + 1);
    if (int rc = Hooks().mq_send(q.q(), big.data(), big.size(), 0); rc == 0 || errno != EMSGSIZE) {
      return Verdict::Fail(
          absl::StrFormat("mq_send of %d bytes with mq_msgsize %d %s, not EMSGSIZE", big.size(),
                          msgsize, Said(rc)));
    }
    std::vector<char> buf(msgsize);
    ssize_t n = ::mq_receive(q.q(), buf.data(), small, nullptr);
    if (n >= 0 || errno != EMSGSIZE) {
      return Verdict::Fail(
          absl::StrFormat("mq_receive with a %d-byte buffer (mq_msgsize %d, message %d bytes) %s, "
                          "not EMSGSIZE",
                          small, msgsize, len, Said(n)));
    }
    if (q.CurMsgs() != 1) return Verdict::Fail("the refused receive removed the message");
    n = ::mq_receive(q.q(), buf.data(), buf.size(), nullptr);
    if (n != static_cast<ssize_t>(len) || !std::equal(text.begin(), text.end(), buf.begin())) {
      return Verdict::Fail("after EMSGSIZE the message did not come back whole");
    }
    return Verdict::Pass();
  }

  const BytesParam msgsize_{this, 0, "the queue's mq_msgsize is %s", 100};
  const BytesParam len_{this, 1, "the queued message has %s", 1};
  const BytesParam small_{this, 2, "mq_receive is given a buffer of %s", 1};
};
IPCSPEC_REGISTER_PROPERTY(MsgSizeProperty, "POSIX-MQ-EMSGSIZE", {.applies = ForPosixMq});

class NonBlockProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long maxmsg = std::max<long>(1, maxmsg_.Of(s));
    const size_t len = std::min<uint64_t>(len_.Of(s), 128);
    MqQueue q(maxmsg, 128);
    if (!q.ok()) return NotOpened(q);
    std::vector<char> buf(128);
    if (ssize_t n = ::mq_receive(q.q(), buf.data(), buf.size(), nullptr);
        n >= 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrCat("non-blocking mq_receive on an empty queue ", Said(n), ", not EAGAIN"));
    }
    for (long i = 0; i < maxmsg; ++i) {
      const std::vector<char> t = PayloadText(0, i, len);
      if (Hooks().mq_send(q.q(), t.data(), len, 0) != 0) {
        return Verdict::Fail(
            absl::StrFormat("mq_send %d of mq_maxmsg %d: %s", i + 1, maxmsg, ErrnoName(errno)));
      }
    }
    const std::vector<char> extra = PayloadText(0, 99, len);
    if (int rc = Hooks().mq_send(q.q(), extra.data(), len, 31); rc == 0 || errno != EAGAIN) {
      return Verdict::Fail(
          absl::StrFormat("non-blocking mq_send to a queue with %d of %d messages %s, not EAGAIN",
                          maxmsg, maxmsg, Said(rc)));
    }
    if (q.CurMsgs() != maxmsg) return Verdict::Fail("the refused send changed mq_curmsgs");
    for (long i = 0; i < maxmsg; ++i) {
      const std::vector<char> t = PayloadText(0, i, len);
      ssize_t n = ::mq_receive(q.q(), buf.data(), buf.size(), nullptr);
      if (n != static_cast<ssize_t>(len) || !std::equal(t.begin(), t.end(), buf.begin())) {
        return Verdict::Fail(
            absl::StrFormat("message %d did not come back intact after the EAGAIN", i));
      }
    }
    return Verdict::Pass();
  }

  const Param<long> maxmsg_{this, 0, "the queue's mq_maxmsg is %s", 3, rc::gen::inRange(1, 11)};
  const BytesParam len_{this, 1, "each message has %s", 10, rc::gen::inRange<uint64_t>(0, 129)};
};
IPCSPEC_REGISTER_PROPERTY(NonBlockProperty, "POSIX-MQ-EAGAIN", {.applies = ForPosixMq});

class PrioMaxProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      const long max = ::sysconf(_SC_MQ_PRIO_MAX);
      const uint64_t p = *rc::gen::oneOf(
          rc::gen::elementOf(std::vector<uint64_t>{uint64_t(max), uint64_t(max) + 1, UINT_MAX}),
          rc::gen::inRange<uint64_t>(max, uint64_t{UINT_MAX} + 1));
      return std::vector<Step>{priority_.Step(p)};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const long max = ::sysconf(_SC_MQ_PRIO_MAX);
    if (max <= 0) return Verdict::Broken("sysconf(_SC_MQ_PRIO_MAX)");
    const auto bad = static_cast<unsigned>(
        std::clamp<uint64_t>(priority_.Of(s), static_cast<uint64_t>(max), UINT_MAX));
    MqQueue q(2, 64);
    if (!q.ok()) return NotOpened(q);
    if (int rc = Hooks().mq_send(q.q(), "x", 1, bad); rc == 0 || errno != EINVAL) {
      return Verdict::Fail(absl::StrFormat("mq_send at priority %u (MQ_PRIO_MAX %d) %s, not EINVAL",
                                           bad, max, Said(rc)));
    }
    if (q.CurMsgs() != 0) return Verdict::Fail("the refused send queued a message");
    if (Hooks().mq_send(q.q(), "y", 1, static_cast<unsigned>(max - 1)) != 0) {
      return Verdict::Fail(absl::StrCat("mq_send at MQ_PRIO_MAX-1: ", ErrnoName(errno)));
    }
    char buf[64];
    unsigned p = 0;
    if (::mq_receive(q.q(), buf, sizeof(buf), &p) != 1 || p != static_cast<unsigned>(max - 1)) {
      return Verdict::Fail(absl::StrFormat("priority MQ_PRIO_MAX-1 came back as %u", p));
    }
    return Verdict::Pass();
  }

  const Param<uint64_t> priority_{this, 0, "mq_send is tried at priority %s", 32768};
};
IPCSPEC_REGISTER_PROPERTY(PrioMaxProperty, "POSIX-MQ-PRIO-MAX", {.applies = ForPosixMq});

class AccessModeProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const int nb = nonblock_.Of(s) ? O_NONBLOCK : 0;
    const long queued = std::clamp<long>(queued_.Of(s), 0, 4);
    MqQueue q(5, 64);
    if (!q.ok()) return NotOpened(q);
    for (long i = 0; i < queued; ++i) {
      if (Hooks().mq_send(q.q(), "m", 1, static_cast<unsigned>(i)) != 0)
        return Verdict::Broken("mq_send");
    }
    const mqd_t ro = q.Open(O_RDONLY | nb), wo = q.Open(O_WRONLY | nb);
    FileDescriptor hold_ro(ro), hold_wo(wo);
    if (ro < 0 || wo < 0) return Verdict::Broken(absl::StrCat("mq_open: ", ErrnoName(errno)));
    std::string failure;
    {
      // Last resort: a wrong queue that blocks here would hang the case.
      InterruptAfter guard(env.hang_grace);
      if (int rc = Hooks().mq_send(ro, "z", 1, 0); rc == 0 || errno != EBADF) {
        failure = absl::StrCat("mq_send on an O_RDONLY descriptor ",
                               rc < 0 && errno == EINTR ? "blocked" : Said(rc), ", not EBADF");
      } else {
        char buf[64];
        ssize_t n = ::mq_receive(wo, buf, sizeof(buf), nullptr);
        if (n >= 0 || errno != EBADF) {
          failure = absl::StrCat("mq_receive on an O_WRONLY descriptor ",
                                 n < 0 && errno == EINTR ? "blocked" : Said(n), ", not EBADF");
        }
      }
    }
    if (!failure.empty()) return Verdict::Fail(failure);
    if (q.CurMsgs() != queued) {
      return Verdict::Fail(absl::StrFormat("after the refused calls %d messages are queued, not %d",
                                           q.CurMsgs(), queued));
    }
    return Verdict::Pass();
  }

  const Param<bool> nonblock_{
      this,    0, "the wrong-way descriptors are O_NONBLOCK: %s", false, rc::gen::inRange(0, 2),
      SayYesNo};
  const Param<long> queued_{this, 1, "messages queued first: %s", 1, rc::gen::inRange(0, 5)};
};
IPCSPEC_REGISTER_PROPERTY(AccessModeProperty, "POSIX-MQ-EBADF", {.applies = ForPosixMq});

}  // namespace posix_mq_props
}  // namespace
}  // namespace ipcspec::props
