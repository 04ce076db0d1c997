// tests/support/broken_transports.h: deliberately broken transports, each a
// real transport with one realistic bug, to prove that every property
// catches the class of bug it is written for.
//
//   RegisterBrokenTransports();   // adds "broken_swap45", "broken_drop4096", ...
//   const Transport* t = TransportRegistry::Global().Find("broken_drop4096");
#ifndef IPCSPEC_TESTS_SUPPORT_BROKEN_TRANSPORTS_H_
#define IPCSPEC_TESTS_SUPPORT_BROKEN_TRANSPORTS_H_

#include <ostream>
#include <string>
#include <vector>

namespace ipcspec::testing {

enum class Bug {
  kSwap45,                 // messages 4 and 5 (counting from 0) change places
  kDrop4096,               // a 4096-byte message is silently dropped
  kTruncateLong,           // messages longer than 1000 bytes lose their tail
  kDuplicateChunk,         // a long stream write repeats 100 of its bytes
  kPartialRead,            // a receive returns only the first 1000 bytes of a message
  kWriteOnReadEnd,         // the read end accepts (and discards) writes
  kNoEnd,                  // end of stream is never reported
  kCrashOnEmpty,           // sending an empty message dereferences NULL
  kEmptyIsEnd,             // an empty message is reported as end of stream
  kLeakName,               // destroy forgets to remove the named object
  kTornWrites,             // claims atomic writes, but writes in two halves
  kHangOnEpipe,            // blocks forever where it should report EPIPE
  kLateEpipe,              // takes (and loses) the first 16 sends after the reader closed,
                           // then reports EPIPE: it learns of the close only on a flush
  kSlowTimeout,            // bounded receive waits twice as long as asked
  kEarlyTimeout,           // bounded receive gives up after a tenth of the bound
  kZeroWaits,              // a receive with timeout 0 waits one 2 ms poll tick for data before
                           // -EAGAIN
  kWrongCapacity,          // claims four times the capacity it has
  kLoseOnEagain,           // a send that would block is reported sent and lost
  kSendNeverWaits,         // a blocking send (timeout -1) does not wait: -EAGAIN when full
  kHangOn4096,             // a 4096-byte send never returns
  kWrongWayWaits,          // a blocking send on the read end waits out its bound (-ETIMEDOUT):
                           // only a non-blocking one gives -EBADF at once
  kSharedChannel,          // every channel made while another lives is that one (one fixed name)
  kLeakDescriptor,         // destroy leaves a descriptor of its own open
  kLeakMapping,            // destroy leaves a shared mapping of its own mapped
  kLateWakeup,             // a bounded call that cannot complete at once sleeps out its bound,
                           // then looks once more (a missed wake-up)
  kTimeoutWraps,           // a bounded call keeps its timeout as an unsigned 32-bit count of
                           // nanoseconds: 4,295 ms and more wrap around
  kLostCarry,              // a bounded call's absolute deadline adds the milliseconds to tv_nsec
                           // without a carry into tv_sec: EINVAL when they pass a second
  kSequence16,             // numbers its messages in 16 bits and drops message 65,536 as a
                           // duplicate of message 0 (its number wrapped to 0)
  kDescriptorPerSend,      // every send opens a descriptor it never closes: -EMFILE once the
                           // process runs out
  kStaticWriter,           // keeps the writer's end in a static: a process's second writer end
                           // (on another channel) sends through its first
  kStaticReader,           // keeps the reader's end in a static that each open overwrites: a
                           // process's first reader end receives through its last
  kOneSender,              // every send goes out of the end the process opened last: with both
                           // ends of a duplex channel in one process, replies go the wrong way
  kStaticAfterDestroy,     // destroy() closes a descriptor kept in a static, which the ends of
                           // the next channel made by that process still use (-EBADF)
  kHeapPerSend,            // every send copies its message into a frame it never frees
  kBoundPerPartialWrite,   // a bounded stream send moves at most 64 KiB per call, and after
                           // a partial write sends the rest with the whole bound again
  kLockKeptOnEpipe,        // every send takes the channel's lock (a word in shared memory,
                           // waited on with a futex); the -EPIPE path returns without
                           // giving it back, so the other writers' sends block for good
  kLockDiesWithHolder,     // a send while the reader is in a receive (asleep, perhaps) first
                           // checksums its message into the channel's shared page under the
                           // channel's lock (a pid in shared memory, waited on with a
                           // futex; tens of microseconds), and every receive takes that
                           // lock first: not robust, so a writer killed while it holds it
                           // leaves the reader blocked for good. While the reader pauses,
                           // the writer takes the lock no more.
  kStaticFrame,            // every send copies its message into one frame buffer of the
                           // process and sends it from there: two threads' sends mix
  kStaticScratch,          // every receive reads into one scratch buffer of the process and
                           // copies out from there: two threads' receives mix
  kReaderOpenWipes,        // the reader's open sets the channel up afresh: what was sent before
                           // it opened is gone
  kWriterOpenWipes,        // a writer's open sets the channel up afresh: what other writers sent
                           // and nobody has read yet is gone
  kTerminalWithoutNoctty,  // a writer's end opens a terminal without O_NOCTTY: a writer that
                           // leads its session is killed by SIGHUP when the reader closes
  kWriterOpenTakesClosed,  // a writer's open, once a writer has closed, takes over what it left
                           // (its slot) and sets it up afresh: what the closed writers sent and
                           // nobody has read yet is gone
  kSizeBeforeRole,         // a send checks the size before the role: an oversize send on the
                           // reader's end gives -EMSGSIZE, not -EBADF
  kAtomicPastPipeBuf,      // declares atomic_write 65536 on a pipe, whose writes are atomic only
                           // up to PIPE_BUF: a bigger one goes in part where the pipe is nearly
                           // full
  kEndOnce,                // END is reported once: the receives after it find nothing and wait
                           // out their bounds (a "writers gone" flag the report consumed)
  kAlarmLeftArmed,         // a bounded receive arms ITIMER_REAL with a SIGALRM handler to cut
                           // its wait short, and leaves both behind when data comes first
  kThreadPerChannel,       // create() starts a housekeeping thread that nothing ever stops
  kNameFromCount,          // names its queue after how many channels the process has made
                           // (O_CREAT without O_EXCL): two processes' first channels are one
  kOneLock,                // one process-wide lock around every call, held while a receive
                           // sleeps: a writer thread of the reader's process cannot send
  kUnboundedAsZero,        // an unbounded receive (timeout -1) converted like a bound: over at
                           // once, -ETIMEDOUT on an empty channel (a negative chrono duration)
  kUmaskCleared,           // create() clears the umask (for an exact mode on the FIFO it
                           // makes) and never puts it back
  kDumpableCleared,        // create() clears the dumpable flag (to keep the ring out of core
                           // dumps) and never sets it back
  kStagedPerProcess,       // a send stages its message under a name made from the process
  kStagedInStatic,         // a send stages its message in one buffer of the process
                           // (O_EXCL), so two threads' sends at once collide (-EEXIST)
  kTakesOneAfterEnd,       // the writer's end, whose receive gave END (the reader closed),
                           // takes its next send into the void, as a TCP socket does after
                           // the peer's FIN when nobody looks for it
  kNoNewPrivs,             // create() sets no_new_privs (for a seccomp filter on its own
                           // calls), which nothing can clear
  kChdirToScratch,         // create() enters its scratch directory (for a short relative
                           // socket path) and never goes back
  kSigpipeLeftBlocked,     // send() blocks SIGPIPE (so a write to a closed peer cannot kill
                           // the process) and never unblocks it
  kSigpipeIgnored,         // send() sets SIGPIPE to SIG_IGN (so a write to a closed peer cannot
                           // kill the process) and never puts the action back
  kWriterEndFd,            // a writer's open() makes an eventfd for its wake-ups, which the
                           // end's close never closes
  kHeapPerWriterEnd,       // a writer's open() allocates a frame buffer, which the end's
                           // close never frees
  kReaderHandler,          // the reader's open() installs a SIGUSR1 handler for its wake-ups,
                           // and its close never takes it away
  kDestroyIfOpened,        // destroy() removes the named object only if its own process
                           // opened an end (a use count kept in process memory)
  kSweepQueues,            // destroy() also removes every SysV message queue of its uid
                           // ("stale ones left by crashed runs")
  kSweepShm,               // destroy() also unlinks every /dev/shm name that begins with its
                           // own prefix, "ipcspec-"
  kWriterEndCuts,          // the writer's end of a duplex channel returns the first bytes
                           // of a reply too big for the buffer as a success (MSG_TRUNC unheeded)
  kShortRecvLeaksFd,       // a receive into a too-small buffer (-EMSGSIZE) leaks a
                           // descriptor it took with the message
  kEndLeaksFd,             // the reader's end, once it reports END, keeps a descriptor it
                           // never closes (a reader that drops a finished connection from
                           // its poll set and forgets to close it)
  kKeepsDropsAtBatchEnd,   // declares SHORT_RECV_KEEPS, but reads ahead in batches of 4: a
                           // receive too short for the last message of a batch drops it
  kEagainLeaksFd,          // a send refused with -EAGAIN leaks a descriptor it made for
                           // the message
  kFullSizeRefused,        // a non-blocking send of max_message bytes is refused even
                           // into an empty channel
  kCounterAddZeroRefused,  // a counter refuses to add 0 (-EAGAIN, whatever the timeout)
  kCounterSum32,           // a counter adds through a uint32_t: bits above 32 are lost
  kWakeFirstSleepers,      // every change wakes the first two sleepers only (FUTEX_WAKE of 2,
                           // "one reader and one writer wait"): with two writers asleep in
                           // receives before it, the reader's receive sleeps out its bound
  kSigpipeBlockedOnEpipe,  // a send that meets the closed reader (-EPIPE) leaves SIGPIPE
                           // blocked: its early return skips the restore of the mask
  kLateWriterUnheard,      // the reader hears only writers that opened before its first
                           // receive (it accepts connections once): a later one's sends vanish
  kPartialThenEagain,      // a non-blocking send that fits only in part reports -EAGAIN and
                           // nothing sent, though part went in (the caller sends it again)
  kSpinsInBoundedWait,     // a bounded receive polls the channel without sleeping until its
                           // bound has passed (a clock the kernel's timed wait reads wrongly)
  kCounterGivesOne,        // a counter's read takes 1 and leaves the rest (EFD_SEMAPHORE
                           // where the sum was declared)
  kEndNotCloexec,          // the writer's end keeps a descriptor opened without O_CLOEXEC (an
                           // eventfd for its wake-ups): a program the process runs inherits it
  kNamesOpenToOthers,      // create() makes its /dev/shm object readable by every user
                           // (mode 0644: 0666 under the usual umask)
  kLengthByteEscape,       // a 255-byte message arrives empty: its 1-byte length header
                           // keeps 0xff as the escape for a longer length
  kLongBoundInvalid,       // a send with a bound of a second or more gives -EINVAL (the
                           // milliseconds put in tv_nsec whole, not carried into tv_sec)
  kWakeOneWriter,          // a drain wakes one writer (a condition signalled, not broadcast):
                           // a second writer asleep in a send sleeps out its bound
  kCopiesUnderTheLock,     // every send copies its message into the channel's shared page
                           // under the channel's lock (a pid in shared memory, waited on
                           // with a futex), which every receive takes first: not robust, so
                           // a writer that dies inside the copy leaves the reader blocked
  kTimeoutHidesPart,       // a bounded stream send that moved part of its buffer when its
                           // bound ran out reports -ETIMEDOUT and nothing sent
  kFdPerSendSwallowed,     // every send opens a descriptor it never closes, and goes on when
                           // the process has none left (its EMFILE swallowed)
  kTicketNotAtomic,        // each send takes a ticket from the channel's counter by reading it,
                           // yielding (a check for room), then writing it back one higher, and
                           // the receiving side drops a ticket it has seen: two sends that take
                           // one ticket lose the second
  kSendSpinsWhenFull,      // a bounded send into a full channel tries again and again without
                           // sleeping until its bound has passed (a POLLOUT that ignores the
                           // peer's full queue)
  kLockFileLeft,           // create() makes a lock file in /tmp (mode 0600, a random name),
                           // which destroy() never removes
  kLockFileOpen,           // create() makes a lock file in /tmp with mode 0644 (removed by
                           // destroy()): other users can read it while the channel exists
  kBellAfterCheck,         // a blocking receive checks the channel, then binds the socket that
                           // each send knocks on and sleeps on it: a send between the check
                           // and the bind knocks on nothing (broken_watch.h)
  kMapPerRefusal,          // a send copies its message into a staging buffer it maps for it
                           // (mmap); a refused send (-EAGAIN, -ETIMEDOUT) never unmaps it
  kHeapPerRefusal,         // the same with a staging buffer from the heap, never freed
  kLiveLockTakenOver,      // writers number their messages under a lock whose waiter takes it
                           // over from a holder of 5 ms, dead or not; a number at or below
                           // the last sent is dropped as a duplicate
  kFdPerTimedOutSend,      // a send makes a memfd for its message and closes it on every
                           // path but a timed-out one
  kSigpipeUnblockedAfterSend,  // a send blocks SIGPIPE for its write, then unblocks it, which
                               // is no putting back where the program had blocked it itself
  kOpenedBeforeAlive,          // kGoneAfterLook's pid watch whose writer's open counts it as come,
                               // then (a system call later) publishes its pid: a look between
                               // them finds no live writer and reports END before any opened
  kLockKeptOnRefusal,          // every send takes the writers' lock (one its holder's process may
                               // take again, as an OFD lock), and a send refused (-EAGAIN,
                               // -ETIMEDOUT) returns still holding it: the other writers wait
  kMaskPutBackWhole,           // the reader's end blocks SIGUSR1 at open and puts back the whole
                               // mask it found at close: two ends closed in the order opened
                               // leave the first one's block behind
  kSigpipeLeftPending,         // a send to a reader that has gone raises SIGPIPE as a write(2)
                               // would, and takes it back only where it blocked it itself: a
                               // program that had it blocked is left with it pending
  kWritersLockDiesWithHolder,  // every send takes the writers' lock (a pid in shared memory,
                               // waited on with a futex until the send's bound), copies its
                               // message into a frame, sends it and gives the lock back: not
                               // robust, so a writer killed inside leaves it held, and every
                               // other writer's send times out
  kZombieIsAlive,              // declares PEER_CLOSE over a queue without it: a receive reports END
                               // once its writer has closed or its pid is gone (kill(pid, 0) gives
                               // ESRCH), so a writer that died and is not yet reaped is alive
  kGoneAfterLook,              // kZombieIsAlive's count of writers over a pipe, whose receive
                               // looks for a message, then (a system call later) at its
                               // writers: a last message and its writer's close in between
                               // give END first
  kInheritableInsideRecv,      // every receive takes its message through a scratch descriptor
                               // opened without O_CLOEXEC (as recvmsg without MSG_CMSG_CLOEXEC
                               // takes a passed one) and closes it before it returns
  kInheritableOnFirstCall,     // an end's first call sets it up lazily: opens a file without
                               // O_CLOEXEC, reads it and closes it before the call goes on
  kEndOnlyWhenWaiting,         // a receive with timeout 0 returns before it looks for the end
                               // of the stream: -EAGAIN for good once every writer has closed
  kEpipeOnlyWhenBounded,       // a send with timeout -1 queues behind a peer it never looks
                               // at: after the reader closed it reports all sent, and loses it
  kEndOnNoRoom,                // a stream's receive into no room reports END (the 0 of a
                               // 0-byte read taken for the end of the stream)
  kUnboundedSendCapped,        // a send with timeout -1 waits at most 200 ms ("never hang for
                               // good"), then gives -ETIMEDOUT
  kUnboundedRecvCapped,        // the same for a receive with timeout -1
  kEndBeforeWriterOpens,       // the reader's receives report END while no writer has opened
                               // its end yet (a FIFO read before any writer opened gives 0)
};

struct BrokenInfo {
  std::string name;   // registered transport name
  std::string inner;  // the real transport it wraps
  Bug bug;
  std::string property;  // the property that must catch it
  // 0: the property's default. More for a race that shows only when two
  // calls overlap, which a loaded machine makes rarer: the bug is still
  // caught in the first few examples on an idle one.
  int examples = 0;
};

// For test names and messages: "broken_swap45 (posix_mq, G-ORDER)".
inline void PrintTo(const BrokenInfo& b, std::ostream* os) {
  *os << b.name << " (" << b.inner << ", " << b.property << ")";
}

// Every broken transport, whether or not its inner transport is built.
const std::vector<BrokenInfo>& BrokenTransports();
// Registers those whose inner transport exists (idempotent).
void RegisterBrokenTransports();

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_SUPPORT_BROKEN_TRANSPORTS_H_
