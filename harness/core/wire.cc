#include "ipcspec/wire.h"

#include <cerrno>

#include "ipcspec/util.h"

namespace ipcspec {

int WriteFrame(int fd, std::string_view payload) {
  WireWriter w;
  w.Str(payload);
  return WriteFull(fd, w.data().data(), w.data().size());
}

int ReadFrame(int fd, std::string* payload, size_t max_len) {
  uint32_t len = 0;
  int r = ReadFull(fd, &len, sizeof len);
  if (r != 0) return r;
  if (len > max_len) return -EPROTO;
  payload->resize(len);
  r = ReadFull(fd, payload->data(), len);
  return r == -EPIPE ? -EPROTO : r;
}

}  // namespace ipcspec
