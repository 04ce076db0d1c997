// properties/support/pipe_util.h: what the PIPE-*, FIFO-* and SPLICE-*
// properties share beyond mech_common.h: pattern bytes for a pipe, readable
// call results, reading back exactly what is queued, flag words. (A call
// made in a forked child and watched by events is in child_watch.h.)
//
//   PipeFds p;
//   const std::vector<std::byte> d = PipeBytes(1, 100);
//   if (!NewFilledPipe(t, env.scratch_dir, d, &p, &broken)) return broken;
//   if (std::string e = ExpectExactly(p.r.get(), d, "after the write"); !e.empty())
//     return Verdict::Fail(e);
#ifndef IPCSPEC_PROPERTIES_SUPPORT_PIPE_UTIL_H_
#define IPCSPEC_PROPERTIES_SUPPORT_PIPE_UTIL_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/util.h"
#include "properties/support/mech_common.h"
#include "properties/support/property_base.h"

namespace ipcspec::props {

// Byte stream `msg` of a pipe property (PatternByte of writer 7).
std::vector<std::byte> PipeBytes(uint64_t msg, size_t n);
// NewPipe, then `data` written into it. Broken verdict on failure.
bool NewFilledPipe(const Transport& t, const std::string& dir, const std::vector<std::byte>& data,
                   PipeFds* p, Verdict* failure);

// "returned 5" or "failed with EAGAIN".
std::string Said(ssize_t n, int err);

// Reads back everything queued on read end `r` without blocking (the mode is
// restored) and compares it with `want`. Empty string when they are equal.
std::string ExpectExactly(int r, const std::vector<std::byte>& want, std::string_view when);

// Flag words for steps and messages: "O_NONBLOCK|O_DIRECT", "no flags".
std::string SayOpenFlags(uint64_t flags);
// The page size, for capacities and packets.
long PageSize();

// PIPE2-* and the PIPE-* rules of an anonymous pipe alone (pipefs, /proc
// reopening) apply to "pipe" only; `why` names the rule's scope.
Applicability ForAnonymousPipe(const Transport& t, std::string_view why);

// Makes a pipe with pipe2(flags) for "pipe", or through MakePipe for "fifo"
// with the status flags then set by F_SETFL (O_NONBLOCK on both ends, O_DIRECT
// on the write end). Asks F_GETPIPE_SZ (see PipeFds). Broken verdict on failure.
bool NewPipeWithFlags(const Transport& t, const std::string& dir, int flags, PipeFds* p,
                      Verdict* failure);

// A property that checks one new pipe of the transport ("pipe" or "fifo",
// made by NewPipe): Run makes it and hands it to RunOn.
//
//   class ZeroSizeProperty : public PipeProperty {
//     Verdict RunOn(PipeFds& p, const Transport&, const Scenario& s,
//                   const CaseEnv&) const override { ... }
//   };
class PipeProperty : public NamedProperty {
 public:
  Verdict Run(const Transport& t, const Scenario& s, const CaseEnv& env) const final;

 protected:
  virtual Verdict RunOn(PipeFds& p, const Transport& t, const Scenario& s,
                        const CaseEnv& env) const = 0;
};

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_PIPE_UTIL_H_
