#include "tests/support/shim_run.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "ipcspec/util.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace ipcspec::testing {

PairRun RunPair(const std::string& binary, const std::string& transport,
                const std::string& property, const PairRunOptions& options) {
  std::string json = TempRoot() + "/ipcspec-pair-XXXXXX";
  const int fd = mkstemp(json.data());
  if (fd >= 0) close(fd);
  std::vector<std::string> argv = {binary, "run", "--transport=" + transport,
                                   "--property=" + property, "--json=" + json};
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  std::vector<std::string> env;
  if (!options.shim_mode.empty()) {
    env.push_back("LD_PRELOAD=" + options.shim_library);
    env.push_back("IPCSPEC_SHIM=" + options.shim_mode);
  }
  Ran ran = RunCommand(argv, env);
  PairRun out;
  out.exit_code = ran.exit_code;
  out.output = std::move(ran.out);
  std::ifstream in(json);
  std::stringstream text;
  text << in.rdbuf();
  unlink(json.c_str());
  const nlohmann::json report =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (report.is_object() && report.contains("results")) {
    for (const nlohmann::json& r : report["results"]) {
      if (r.value("transport", "") == transport && r.value("property", "") == property) {
        out.outcome = r.value("outcome", "");
        out.message = r.value("message", "");
        out.counterexample = r.value("counterexample", "");
      }
    }
    // A pair that does not apply is not run; the report says why.
    for (const nlohmann::json& r : report.value("not_applicable", nlohmann::json::array())) {
      if (r.value("transport", "") == transport && r.value("property", "") == property) {
        out.outcome = "skipped";
        out.message = r.value("reason", "");
      }
    }
  }
  return out;
}

}  // namespace ipcspec::testing
