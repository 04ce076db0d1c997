// properties/support/pipe_util.h: what the PIPE-*, FIFO-* and SPLICE-*
// properties share beyond mech_common.h: pattern bytes for a pipe, readable
// call results, reading back exactly what is queued, flag words. (A call
// made in a forked child and watched by events is in child_watch.h.)
//
//   PipeFds p;
//   if (!NewPipe(t, env.scratch_dir, &p, &broken)) return broken;
//   const std::vector<std::byte> d = PipeBytes(1, 100);
//   if (WriteFull(p.w.get(), d.data(), d.size()) < 0) return Verdict::Broken("write");
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

namespace ipcspec::props {

// Byte stream `msg` of a pipe property (PatternByte of writer 7).
std::vector<std::byte> PipeBytes(uint64_t msg, size_t n);

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

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SUPPORT_PIPE_UTIL_H_
