// properties/socket/socket_util.h: what the UNIX-* and INET-* properties share: the
// socket type of a built-in socket transport, a connected pair made the way
// that transport makes its channel, and payload checks.
//
//   FileDescriptor client, server;
//   if (Verdict v = Connect(t, env, &client, &server); !v.ok()) return v;
#ifndef IPCSPEC_PROPERTIES_SOCKET_SOCKET_UTIL_H_
#define IPCSPEC_PROPERTIES_SOCKET_SOCKET_UTIL_H_

#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ipcspec/property.h"
#include "ipcspec/util.h"
#include "properties/support/send_steps.h"

namespace ipcspec::props {

int TypeOf(const Transport& t);   // SOCK_STREAM / SOCK_SEQPACKET / SOCK_DGRAM by name
bool IsPair(const Transport& t);  // socketpair_*
sockaddr_un UnixAddr(const std::string& path);
// A socket of `type` bound to 127.0.0.1 on an ephemeral port, and its
// address; an empty descriptor on failure (errno says why).
FileDescriptor Loopback(int type, sockaddr_in* addr);
// A connected AF_UNIX pair of the transport's kind: `a` the client, `b` the
// server side (accepted, or the bound datagram socket, or socketpair ends).
// Paths in the scratch directory are unlinked once connected.
Verdict Connect(const Transport& t, const CaseEnv& env, FileDescriptor* a, FileDescriptor* b);
// "" when `got` is exactly Payload(writer, msg, size); else what differs.
std::string Check(const std::vector<std::byte>& got, uint32_t writer, uint64_t msg, uint64_t size);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SOCKET_SOCKET_UTIL_H_
