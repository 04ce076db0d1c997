// SYSV-MSG-EIDRM and SYSV-MSG-ZERO: the edges of a System V message queue's
// life: removal while processes are blocked on it, and zero-length messages
// among longer ones.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"
#include "properties/sysv_msg/msg_queue.h"

namespace ipcspec::props {
namespace {
namespace sysv_msg_edges {

constexpr std::string_view kBlockedCallers[] = {"receivers in msgrcv on an empty queue",
                                                "senders in msgsnd on a full queue"};

class RemovedProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const bool senders = senders_.Of(s);
    const int blocked = std::clamp(blocked_.Of(s), 1, 8);
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    if (senders) {
      msqid_ds ds = q.Stat();
      ds.msg_qbytes = 100;
      if (::msgctl(q.id(), IPC_SET, &ds) != 0 ||
          Send(q.id(), 1, PayloadText(1, 0, 100), IPC_NOWAIT) != 0) {
        return Verdict::Broken("filling the queue");
      }
    }
    const Deadline deadline = CaseDeadline(env);
    SharedFlags flags(8);
    Participants ps(deadline);
    for (int b = 0; b < blocked; ++b) {
      ps.Spawn(absl::StrCat(senders ? "sender " : "receiver ", b), [&, b]() -> Verdict {
        flags.Counter(b) = static_cast<uint64_t>(::getpid());
        flags.Raise(b);
        MsgBuf buf;
        ssize_t n = senders ? Send(q.id(), 1, PayloadText(1, 1, 10), 0)
                            : Hooks().msgrcv(q.id(), &buf, kMaxText, 0, 0);
        if (n < 0 && senders) errno = static_cast<int>(-n);
        if (n >= 0 || errno != EIDRM) {
          return Verdict::Fail(absl::StrCat("blocked ", senders ? "msgsnd" : "msgrcv",
                                            " woke by IPC_RMID with ",
                                            n >= 0 ? "success" : ErrnoName(errno), ", not EIDRM"));
        }
        return Verdict::Pass();
      });
    }
    for (int b = 0; b < blocked; ++b) {
      if (!flags.WaitFor(b, deadline)) return Verdict::Broken("a child never started");
      const auto pid = static_cast<pid_t>(flags.Counter(b).load());
      if (!WaitUntilBlockedIn(pid, senders ? SYS_msgsnd : SYS_msgrcv, deadline)) {
        return Verdict::Fail(
            absl::StrFormat("child %d did not block in %s", b, senders ? "msgsnd" : "msgrcv"));
      }
    }
    if (::msgctl(q.id(), IPC_RMID, nullptr) != 0)
      return Verdict::Broken(absl::StrCat("IPC_RMID: ", ErrnoName(errno)));
    q.Forget();
    return ps.Join();
  }

  const ChoiceParam<bool> senders_{this, 0, "the blocked callers are %s", false, kBlockedCallers};
  const Param<int> blocked_{this, 1, "processes blocked before IPC_RMID: %s", 1,
                            rc::gen::inRange(1, 4)};
};
IPCSPEC_REGISTER_PROPERTY(RemovedProperty, "SYSV-MSG-EIDRM",
                          {.applies = ForSysvMsg, .examples = 10});

long ZeroTypeOf(uint64_t msg) { return static_cast<long>(msg % 3 + 1); }

class ZeroLengthProperty final : public NamedProperty {
  std::string DescribeStep(const Step& s) const override {
    if (s.op == Op::kSend) {
      return absl::StrFormat("msgsnd of message %d, type %d: %s", s.arg, ZeroTypeOf(s.arg),
                             SayBytes(s.size));
    }
    return NamedProperty::DescribeStep(s);
  }
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([] {
      auto sizes = *rc::gen::resize(
          20, rc::gen::nonEmpty(rc::gen::container<std::vector<uint64_t>>(
                  rc::gen::oneOf(rc::gen::just<uint64_t>(0), rc::gen::inRange<uint64_t>(0, 50)))));
      std::vector<Step> steps;
      for (size_t i = 0; i < sizes.size(); ++i) steps.push_back(Step::Send(1, sizes[i], i));
      return steps;
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    MsgQueue q;
    if (q.id() < 0) return Verdict::Broken(absl::StrCat("msgget: ", ErrnoName(errno)));
    const std::vector<Sent> sent = SendsOf(s, 1);
    size_t bytes = 0;
    for (const Sent& m : sent) {
      const long type = ZeroTypeOf(m.msg);
      if (int rc = Send(q.id(), type, PayloadText(type, m.msg, m.size), IPC_NOWAIT); rc < 0) {
        return Verdict::Fail(absl::StrFormat("msgsnd of %d bytes: %s", m.size, ErrnoName(-rc)));
      }
      bytes += m.size;
    }
    if (const msqid_ds ds = q.Stat(); ds.msg_qnum != sent.size() || ds.msg_cbytes != bytes) {
      return Verdict::Fail(
          absl::StrFormat("after %d sends of %d bytes in all, msg_qnum is %d and msg_cbytes %d",
                          sent.size(), bytes, ds.msg_qnum, ds.msg_cbytes));
    }
    for (const Sent& m : sent) {
      if (std::string e = ReceiveWhole(q.id(), m); !e.empty()) return Verdict::Fail(e);
    }
    return Verdict::Pass();
  }

  // Receives the next message with msgtyp 0 into a buffer filled with a
  // canary; "" when it is `m` exactly, with no byte written past its length.
  static std::string ReceiveWhole(int id, const Sent& m) {
    constexpr char kCanary = 0x5a;
    MsgBuf buf;
    buf.mtype = -1;
    std::fill(std::begin(buf.mtext), std::end(buf.mtext), kCanary);
    const ssize_t n = Hooks().msgrcv(id, &buf, kMaxText, 0, IPC_NOWAIT);
    const long type = ZeroTypeOf(m.msg);
    const std::string what = absl::StrFormat("message %d (type %d, %d bytes)", m.msg, type, m.size);
    if (n < 0) return absl::StrCat(what, ": msgrcv ", ErrnoName(errno));
    if (static_cast<size_t>(n) != m.size || buf.mtype != type) {
      return absl::StrFormat("%s came back as %d bytes of type %d", what, n, buf.mtype);
    }
    const std::vector<char> text = PayloadText(type, m.msg, m.size);
    for (size_t i = 0; i < m.size; ++i) {
      if (buf.mtext[i] != text[i]) {
        return absl::StrFormat("%s: byte %d is 0x%02x, expected 0x%02x", what, i,
                               static_cast<uint8_t>(buf.mtext[i]), static_cast<uint8_t>(text[i]));
      }
    }
    if (buf.mtext[m.size] != kCanary) {
      return absl::StrFormat("%s: msgrcv wrote past the message's length, at byte %d", what,
                             m.size);
    }
    return "";
  }
};
IPCSPEC_REGISTER_PROPERTY(ZeroLengthProperty, "SYSV-MSG-ZERO", {.applies = ForSysvMsg});

}  // namespace sysv_msg_edges
}  // namespace
}  // namespace ipcspec::props
