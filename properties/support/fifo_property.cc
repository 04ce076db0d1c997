#include "properties/support/fifo_property.h"

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace ipcspec::props {

Verdict FifoProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  FifoNode node(env.scratch_dir);
  if (!node.ok()) return Verdict::Broken(absl::StrCat("mkfifo: ", ErrnoName(errno)));
  return RunOn(node, s, env);
}

Verdict QueuedFifoProperty::Run(const Transport&, const Scenario& s, const CaseEnv& env) const {
  FifoNode node(env.scratch_dir);
  const std::vector<std::byte> queued = Queued(s);
  FileDescriptor r, w;
  Verdict broken;
  if (!OpenQueued(node, queued, &r, &w, &broken)) return broken;
  return RunOn(node, r, w, queued, s, env);
}

}  // namespace ipcspec::props
