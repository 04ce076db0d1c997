// RunMatrix: the pairs of a run, one after another through one fork server.
#include <poll.h>

#include "ipcspec/engine.h"

namespace ipcspec {

absl::StatusOr<MatrixResult> RunMatrix(const std::vector<PlannedPair>& pairs,
                                       const MatrixOptions& options) {
  absl::StatusOr<std::unique_ptr<ForkServer>> server = ForkServer::Start(options.sandbox);
  if (!server.ok()) return server.status();
  MatrixResult out;
  out.results.resize(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (options.stop_fd >= 0) {
      struct pollfd p = {options.stop_fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        out.stopped = true;
        break;
      }
    }
    RunConfig config = pairs[i].config;
    if (options.on_progress) {
      config.on_example = [&, i](int n, bool shrinking) { options.on_progress(i, n, shrinking); };
    }
    PropertyResult r = RunProperty(*pairs[i].transport, *pairs[i].property, config, **server);
    if (options.on_result) options.on_result(i, r);
    out.results[i] = std::move(r);
  }
  return out;
}

}  // namespace ipcspec
