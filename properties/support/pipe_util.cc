#include "properties/support/pipe_util.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "properties/support/common.h"
#include "properties/support/mech_common.h"
#include "properties/support/proc_util.h"

namespace ipcspec::props {

std::vector<std::byte> PipeBytes(uint64_t msg, size_t n) { return Payload(7, msg, n); }

std::string Said(ssize_t n, int err) {
  return n >= 0 ? absl::StrFormat("returned %d", n) : absl::StrCat("failed with ", ErrnoName(err));
}

std::string ExpectExactly(int r, const std::vector<std::byte>& want, std::string_view when) {
  const int old = ::fcntl(r, F_GETFL);
  if (old < 0 || ::fcntl(r, F_SETFL, old | O_NONBLOCK) < 0) {
    return absl::StrCat(std::string(when), ": fcntl(F_SETFL, O_NONBLOCK): ", ErrnoName(errno));
  }
  std::vector<std::byte> got = DrainNonBlocking(r);
  ::fcntl(r, F_SETFL, old);
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return absl::StrFormat("%s: read back %d bytes, expected %d; first difference at byte %d", when,
                         got.size(), want.size(), i);
}

std::string SayOpenFlags(uint64_t flags) {
  std::vector<std::string> names;
  const std::pair<uint64_t, const char*> known[] = {
      {O_NONBLOCK, "O_NONBLOCK"}, {O_DIRECT, "O_DIRECT"}, {O_CLOEXEC, "O_CLOEXEC"},
      {O_TRUNC, "O_TRUNC"},       {O_EXCL, "O_EXCL"},     {O_APPEND, "O_APPEND"}};
  for (const auto& [bit, name] : known) {
    if ((flags & bit) != 0) {
      names.push_back(name);
      flags &= ~bit;
    }
  }
  if (flags != 0) names.push_back(absl::StrFormat("0%o", flags));
  return names.empty() ? "no flags" : absl::StrJoin(names, "|");
}

long PageSize() { return ::sysconf(_SC_PAGESIZE); }

Applicability ForAnonymousPipe(const Transport& t, std::string_view why) {
  return OnlyFor(t, {"pipe"}, why);
}

Verdict PipeProperty::Run(const Transport& t, const Scenario& s, const CaseEnv& env) const {
  PipeFds p;
  Verdict broken;
  if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
  return RunOn(p, t, s, env);
}

bool NewFilledPipe(const Transport& t, const std::string& dir, const std::vector<std::byte>& data,
                   PipeFds* p, Verdict* failure) {
  if (!NewPipe(t, dir, p, failure)) return false;
  if (WriteFull(p->w.get(), data.data(), data.size()) < 0) {
    *failure = Verdict::Broken("write");
    return false;
  }
  return true;
}

bool NewPipeWithFlags(const Transport& t, const std::string& dir, int flags, PipeFds* p,
                      Verdict* failure) {
  if (t.name() != "pipe" || Hooks().make_pipe != nullptr) {
    if (!NewPipe(t, dir, p, failure)) return false;
    const int nb = flags & O_NONBLOCK;
    for (auto [fd, add] :
         {std::pair{p->r.get(), nb}, std::pair{p->w.get(), nb | (flags & O_DIRECT)}}) {
      const int old = ::fcntl(fd, F_GETFL);
      if (add != 0 && (old < 0 || ::fcntl(fd, F_SETFL, old | add) < 0)) {
        *failure = Verdict::Broken(
            absl::StrCat("fcntl(F_SETFL, ", SayOpenFlags(add), "): ", ErrnoName(errno)));
        return false;
      }
    }
    return true;
  }
  int fds[2];
  if (::pipe2(fds, flags) != 0) {
    *failure =
        Verdict::Broken(absl::StrCat("pipe2(", SayOpenFlags(flags), "): ", ErrnoName(errno)));
    return false;
  }
  p->r.reset(fds[0]);
  p->w.reset(fds[1]);
  p->capacity = PipeCapacity(fds[1]);
  return true;
}

}  // namespace ipcspec::props
