// SHM-OPEN-*: shm_open's own rules: an O_RDONLY descriptor cannot be resized
// or mapped writable-shared; names are checked (EINVAL, ENAMETOOLONG, the
// leading slash optional with glibc); a missing name gives ENOENT and creates
// nothing; O_TRUNC empties an existing object; the descriptor is close-on-exec.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "properties/support/child_watch.h"
#include "properties/support/common.h"
#include "properties/support/proc_util.h"
#include "properties/support/shm_util.h"
#include "properties/support/verdicts.h"

namespace ipcspec::props {
namespace {
namespace shm_open_props {

std::string Result(int rc) { return rc >= 0 ? "succeeded" : ErrnoName(errno); }

class OpenRdonlyProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    NamedObject obj;
    if (auto broken = CreateFilled(obj, size)) return *broken;
    FileDescriptor ro(obj.Reopen(O_RDONLY));
    if (!ro) return Verdict::Broken(absl::StrCat("shm_open(O_RDONLY): ", ErrnoName(errno)));
    const off_t len = static_cast<off_t>(length_.Of(s));
    if (int r = ::ftruncate(ro.get(), len); r == 0 || (errno != EINVAL && errno != EBADF)) {
      return Verdict::Fail(
          absl::StrFormat("ftruncate(%d) of an O_RDONLY shm descriptor %s, not "
                          "EINVAL",
                          len, Result(r)));
    }
    Mapping shared(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, ro.get(), 0), size);
    if (shared.ok() || errno != EACCES) {
      return Verdict::Fail(absl::StrCat("mmap(PROT_WRITE, MAP_SHARED) of an O_RDONLY descriptor ",
                                        shared.ok() ? "succeeded" : ErrnoName(errno),
                                        ", not EACCES"));
    }
    Mapping reader = MapShared(ro.get(), size, PROT_READ);
    if (!reader.ok()) return Verdict::Fail(absl::StrCat("mmap(PROT_READ): ", ErrnoName(errno)));
    if (::mprotect(reader.bytes(), size, PROT_READ | PROT_WRITE) == 0 || errno != EACCES) {
      return Verdict::Fail(
          absl::StrCat("mprotect(PROT_WRITE) of a shared mapping of an O_RDONLY descriptor ",
                       errno == 0 ? "succeeded" : ErrnoName(errno), ", not EACCES"));
    }
    Mapping priv(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro.get(), 0), size);
    if (!priv.ok())
      return Verdict::Fail(absl::StrCat("mmap(PROT_WRITE, MAP_PRIVATE): ", ErrnoName(errno)));
    Fill(priv.bytes(), size, 2, 0);
    return PassUnless(Mismatch(reader.bytes(), size, 1, 0),
                      "a write through the MAP_PRIVATE mapping reached the object: ");
  }

  const BytesParam size_{this, 0, "the object is %s", 4096, ShmSize()};
  const BytesParam length_{this, 1, "ftruncate asks for %s", 0,
                           rc::gen::inRange<uint64_t>(0, 4 * Page())};
};
IPCSPEC_REGISTER_PROPERTY(OpenRdonlyProperty, "SHM-OPEN-RDONLY",
                          {.applies = ForPosix, .examples = 10});

enum NameClass { kSlashOnly, kEmpty, kInnerSlash, kTooLong, kLongest, kNoSlash, kDoubleSlash };
constexpr std::string_view kNameClasses[] = {"\"/\" alone",
                                             "the empty string",
                                             "a name with a '/' inside",
                                             "a name longer than NAME_MAX",
                                             "a name of exactly NAME_MAX characters",
                                             "a name without the leading '/'",
                                             "a name with two leading slashes"};

// The name of class `c`; `unique` makes the valid ones unique to the case.
std::string NameOf(int c, const std::string& unique) {
  switch (c) {
    case kSlashOnly:
      return "/";
    case kEmpty:
      return "";
    case kInnerSlash:
      return unique + "/inner";
    case kTooLong:
      return unique + std::string(NAME_MAX + 1 - (unique.size() - 1), 'x');
    case kLongest:
      return unique + std::string(NAME_MAX - (unique.size() - 1), 'x');
    case kNoSlash:
      return unique.substr(1);
    default:
      return "/" + unique;
  }
}

class OpenNamesProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    const int c = class_.Of(s);
    const std::string unique = UniqueName("/ipcspec-name");
    const std::string name = NameOf(c, unique);
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    const int err = errno;
    FileDescriptor hold(fd);
    const int want = c <= kInnerSlash ? EINVAL : c == kTooLong ? ENAMETOOLONG : 0;
    std::string failure;
    if (want != 0 && (fd >= 0 || err != want)) {
      failure = absl::StrFormat("shm_open of %s %s, not %s", class_.Name(c),
                                fd >= 0 ? "succeeded" : ErrnoName(err), ErrnoName(want));
    } else if (c == kTooLong && (::shm_unlink(name.c_str()) == 0 || errno != ENAMETOOLONG)) {
      failure = absl::StrCat("shm_unlink of a name longer than NAME_MAX: ", Result(-1),
                             ", not ENAMETOOLONG");
    } else if (want == 0 && fd < 0) {
      failure = absl::StrFormat("shm_open of %s failed with %s", class_.Name(c), ErrnoName(err));
    } else if (c == kNoSlash || c == kDoubleSlash) {
      FileDescriptor same(::shm_open(unique.c_str(), O_RDWR, 0));
      if (!same) {
        failure = absl::StrFormat("%s and \"%s\" do not name one object", class_.Name(c), unique);
      }
    }
    if (fd >= 0) ::shm_unlink(name.c_str());
    return PassUnless(failure);
  }

  const ChoiceParam<int> class_{this, 0, "the name is %s", kNoSlash, kNameClasses};
};
IPCSPEC_REGISTER_PROPERTY(OpenNamesProperty, "SHM-OPEN-NAMES",
                          {.applies = ForPosix, .examples = 14});

class OpenEnoentProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv&) const override {
    NamedObject obj;
    if (unlinked_.Of(s)) {
      if (!obj.Create(Page()) || ::shm_unlink(obj.name.c_str()) != 0)
        return Verdict::Broken("create/unlink");
      obj.fd.reset();
    }
    const int flags = rdonly_.Of(s) ? O_RDONLY : O_RDWR;
    const int fd = ::shm_open(obj.name.c_str(), flags, 0600);
    const int err = errno;
    FileDescriptor hold(fd);
    const std::string what = unlinked_.Of(s) ? "an unlinked name" : "a name never made";
    if (fd >= 0 || err != ENOENT) {
      ::shm_unlink(obj.name.c_str());
      return Verdict::Fail(absl::StrFormat("shm_open(%s) of %s %s, not ENOENT",
                                           rdonly_.Of(s) ? "O_RDONLY" : "O_RDWR", what,
                                           fd >= 0 ? "succeeded" : ErrnoName(err)));
    }
    struct stat st = {};
    if (::stat(("/dev/shm" + obj.name).c_str(), &st) == 0) {
      ::shm_unlink(obj.name.c_str());
      return Verdict::Fail(absl::StrCat("the failed shm_open of ", what, " created it"));
    }
    if (::shm_unlink(obj.name.c_str()) == 0 || errno != ENOENT)
      return Verdict::Fail(absl::StrCat("shm_unlink of ", what, ": ", Result(-1), ", not ENOENT"));
    return Verdict::Pass();
  }

  const YesNoParam unlinked_{this, 0, "the name existed and was unlinked: %s", false};
  const YesNoParam rdonly_{this, 1, "the open is O_RDONLY: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(OpenEnoentProperty, "SHM-OPEN-ENOENT",
                          {.applies = ForPosix, .examples = 10});

class OpenTruncProperty final : public NamedProperty {
  rc::Gen<std::vector<Step>> Steps(const Transport&) const override {
    return rc::gen::exec([this] {
      return std::vector<Step>{size_.Step(*ShmSize()),
                               mode_.Step(0600 | *rc::gen::inRange(0, 0100))};
    });
  }
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    const uint64_t size = std::max<uint64_t>(1, size_.Of(s));
    const int mode = mode_.Of(s) & 0777;
    NamedObject obj;
    if (!obj.Create(size) || ::fchmod(obj.fd.get(), mode) != 0)
      return Verdict::Broken(absl::StrCat("shm_open/fchmod: ", ErrnoName(errno)));
    Mapping m = MapShared(obj.fd.get(), size);
    if (!m.ok()) return Verdict::Broken("mmap");
    Fill(m.bytes(), size, 1, 0);
    struct stat before = {};
    ::fstat(obj.fd.get(), &before);
    FileDescriptor t(obj.Reopen(O_RDWR | O_TRUNC));
    if (!t) return Verdict::Fail(absl::StrCat("shm_open(O_RDWR|O_TRUNC): ", ErrnoName(errno)));
    struct stat after = {};
    if (::fstat(t.get(), &after) != 0 || after.st_size != 0 || after.st_mode != before.st_mode ||
        after.st_uid != before.st_uid) {
      return Verdict::Fail(absl::StrFormat(
          "after shm_open(O_TRUNC) of a %d-byte object with mode %s: size %d, mode 0%o, uid %d",
          size, SayMode(before.st_mode & 07777), after.st_size, after.st_mode & 07777,
          after.st_uid));
    }
    const int status =
        TouchInChild([&] { (void)*static_cast<volatile uint8_t*>(m.bytes()); }, CaseDeadline(env));
    if (status == -1 || !IsKilledBy(status, SIGBUS)) {
      return Verdict::Fail(absl::StrCat(
          "reading the old mapping of the truncated object: the "
          "process ",
          status == -1 ? "did not end" : DescribeWaitStatus(status), ", expected SIGBUS"));
    }
    return Verdict::Pass();
  }

  const BytesParam size_{this, 0, "the object holds %s", 4096};
  const Param<int> mode_{this, 1, "its mode is %s", 0600, SayMode};
};
IPCSPEC_REGISTER_PROPERTY(OpenTruncProperty, "SHM-OPEN-TRUNC",
                          {.applies = ForPosix, .examples = 10});

class OpenCloexecProperty final : public NamedProperty {
  Verdict Run(const Transport&, const Scenario& s, const CaseEnv& env) const override {
    NamedObject obj;
    if (!obj.Create(Page())) return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
    int flags = rdonly_.Of(s) ? O_RDONLY : O_RDWR;
    if (create_.Of(s)) flags |= O_CREAT;
    FileDescriptor fd(obj.Reopen(flags));
    if (!fd) return Verdict::Broken(absl::StrCat("shm_open: ", ErrnoName(errno)));
    const int fdflags = ::fcntl(fd.get(), F_GETFD);
    if (fdflags < 0 || (fdflags & FD_CLOEXEC) == 0)
      return Verdict::Fail(
          absl::StrFormat("F_GETFD of a shm_open descriptor is %d: no FD_CLOEXEC", fdflags));
    const int survived = SurvivesExec(fd.get(), CaseDeadline(env));
    if (survived < 0) return Verdict::Broken("the exec'd /bin/cat probe failed");
    if (survived == 1) return Verdict::Fail("a shm_open descriptor is still open after execve");
    return Verdict::Pass();
  }

  const YesNoParam rdonly_{this, 0, "the open is O_RDONLY: %s", false};
  const YesNoParam create_{this, 1, "O_CREAT is given: %s", false};
};
IPCSPEC_REGISTER_PROPERTY(OpenCloexecProperty, "SHM-OPEN-CLOEXEC",
                          {.applies = ForPosix, .examples = 8});

}  // namespace shm_open_props
}  // namespace
}  // namespace ipcspec::props
