// G-CLEANUP: after the channel is destroyed nothing remains: no SysV ids, no
// /dev/shm or mqueue names, no file-system nodes, no processes. Checked
// inside the case's private IPC namespace, where a leak would otherwise
// vanish unseen with the namespace.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ipcspec/inventory.h"
#include "properties/support/common.h"

namespace ipcspec::props {
namespace {

std::vector<std::string> Remains(const CaseEnv& env, const std::vector<std::string>& shm_before) {
  std::vector<std::string> left;
  for (const SysvObject& o : ListSysv()) {
    if (env.private_ipc || o.uid == env.uid) left.push_back(o.Describe());
  }
  if (!env.mq_dir.empty()) {
    for (const std::string& n : ListDir(env.mq_dir)) left.push_back("POSIX message queue /" + n);
  }
  for (const std::string& n : ListDir("/dev/shm")) {
    if (std::find(shm_before.begin(), shm_before.end(), n) == shm_before.end() &&
        OwnerOf("/dev/shm/" + n) == env.uid) {
      left.push_back("/dev/shm/" + n);
    }
  }
  for (const std::string& n : ListDir(env.scratch_dir)) left.push_back(env.scratch_dir + "/" + n);
  for (pid_t p : ChildrenOfSelf())
    left.push_back(absl::StrCat("process ", p, " (", CommOf(p), ")"));
  return left;
}

class CleanupProperty : public NamedProperty {
 public:
  CleanupProperty()
      : NamedProperty("G-CLEANUP",
                      "after destroy nothing remains: no SysV ids, no /dev/shm or mqueue names, no "
                      "FIFO or socket nodes, no processes",
                      "ipcs(1), mq_unlink(3), shm_unlink(3), unlink(2); LTP ipc cleanup checks") {}
  Applicability AppliesTo(const Transport&) const override { return Applicability::Yes(); }
  int DefaultExamples() const override { return 15; }
  rc::Gen<std::vector<Step>> Steps(const Transport& t) const override {
    const Capabilities c = t.caps();
    return rc::gen::map(
        rc::gen::resize(
            4, rc::gen::container<std::vector<uint64_t>>(
                   c.model == ModelClass::kCounter ? rc::gen::just<uint64_t>(8) : EdgeSize(c))),
        [c](const std::vector<uint64_t>& sizes) {
          std::vector<Step> steps;
          for (size_t i = 0; i < sizes.size(); ++i) {
            if (c.max_queued && i >= c.max_queued) break;
            if (c.capacity && sizes[i] > c.capacity / 2) continue;
            steps.push_back(Step::Send(1, sizes[i], i));
          }
          return steps;
        });
  }
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const override {
    const std::vector<std::string> shm_before = ListDir("/dev/shm");
    const std::vector<Sent> sent = SendsOf(s, 1);
    const Capabilities& c = t.caps();
    // Traffic first, so whatever the transport makes on the way exists.
    Actor writer{"writer", Role::kWriter, [&](std::unique_ptr<End>& end) -> std::string {
                   for (const Sent& m : sent) {
                     if (std::string e = SendAll(*end, m, c.framing, kOpTimeoutMs); !e.empty())
                       return e;
                   }
                   return "";
                 }};
    Actor reader{"reader", Role::kReader, [&](std::unique_ptr<End>& end) -> std::string {
                   std::vector<std::byte> buf(RecvBufferSize(c));
                   uint64_t want = 0, got = 0;
                   for (const Sent& m : sent) want += m.size;
                   if (c.framing == Framing::kMessage) {
                     for (size_t i = 0; i < sent.size(); ++i) {
                       size_t n = 0;
                       int rc = end->Recv(buf, &n, kOpTimeoutMs);
                       if (rc != 0 && c.reliable) return absl::StrCat("receive: ", Errno(rc));
                       if (c.model == ModelClass::kCounter) break;
                     }
                     return "";
                   }
                   while (got < want) {
                     size_t n = 0;
                     int rc = end->Recv(buf, &n, kOpTimeoutMs);
                     if (rc != 0) return absl::StrCat("receive: ", Errno(rc));
                     got += n;
                   }
                   return "";
                 }};
    Verdict v = RunActors(t, env, {writer, reader});
    if (!v.ok()) return v;
    std::vector<std::string> left = Remains(env, shm_before);
    if (!left.empty())
      return Verdict::Fail(absl::StrCat("after destroy: ", absl::StrJoin(left, ", ")));
    return Verdict::Pass();
  }
};

IPCSPEC_REGISTER_PROPERTY(CleanupProperty);

}  // namespace
}  // namespace ipcspec::props
