// properties/socket/socket_server.h: the fork-per-connection server of
// UNIX-FORK-SERVER and INET-FORK-SERVER (Stevens, UNIX Network Programming
// vol. 1, 3rd ed., 4.8 "Concurrent Servers"), exported so the tests can run it
// with a deliberately leaky server.
//
//   Verdict v = CheckForkServer(AF_INET, /*clients=*/4, /*close_in_parent=*/true, env);
#ifndef IPCSPEC_PROPERTIES_SOCKET_SOCKET_SERVER_H_
#define IPCSPEC_PROPERTIES_SOCKET_SOCKET_SERVER_H_

#include "ipcspec/sandbox.h"

namespace ipcspec::props {

// A server (the case process) listening on AF_UNIX (a path in the scratch
// directory) or AF_INET (127.0.0.1, ephemeral port) forks one child per
// accepted connection; N clients connect concurrently (all connected before
// any is served), send their number and must get exactly their own reply,
// then end of file as soon as their server child closes, while every other
// server child is still alive: so no other process may hold their
// connection. The parent, once it has forked every child, and each child
// count their socket descriptors: the parent holds only its listener, a
// child only its connection.
// With close_in_parent false the server forgets to close each accepted
// descriptor after forking (the classic leak): the check must fail.
Verdict CheckForkServer(int family, int clients, bool close_in_parent, const CaseEnv& env);

}  // namespace ipcspec::props

#endif  // IPCSPEC_PROPERTIES_SOCKET_SOCKET_SERVER_H_
