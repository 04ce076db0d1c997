// tests/cli_test_util.h: what the command-line tests share: a scratch
// directory, running the built `ipcspec`, and checking its reports with real
// parsers (xmllint for XML; Debian's python3 json module and jsonschema
// against docs/report-schema.json for JSON).
//
//   CliFixture: dir_ is a fresh directory, removed afterwards;
//   Ran r = Ipcspec({"run", "--json=" + dir_ + "/r.json"});
//   EXPECT_EQ(CheckJsonReport(dir_ + "/r.json"), "");   // "" or the validator's complaint
#ifndef IPCSPEC_TESTS_CLI_TEST_UTIL_H_
#define IPCSPEC_TESTS_CLI_TEST_UTIL_H_

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/subprocess.h"

namespace ipcspec::testing {

inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Debian's interpreter, which has python3-jsonschema and python3-yaml
// (ci/setup); another python3 on PATH may lack them.
inline std::string Python() {
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

// "" when the file is well-formed XML, else xmllint's message.
inline std::string CheckXml(const std::string& path) {
  Ran r = RunCommand({"/usr/bin/xmllint", "--noout", path});
  return r.exit_code == 0 && r.out.empty() ? "" : "xmllint: " + r.out;
}

// "" when python's json module reads the file (bytes, strict UTF-8) and it
// validates against docs/report-schema.json.
inline std::string CheckJsonReport(const std::string& path) {
  const std::string script =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1], encoding='utf-8'))\n"
      "report = json.loads(open(sys.argv[2], 'rb').read().decode('utf-8', 'strict'))\n"
      "jsonschema.Draft7Validator(schema).validate(report)\n";
  Ran r = RunCommand(
      {Python(), "-c", script, std::string(IPCSPEC_SOURCE_DIR) + "/docs/report-schema.json", path});
  return r.exit_code == 0 ? "" : "python json/jsonschema: " + r.out;
}

inline nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(ReadFileOrEmpty(path), nullptr, /*allow_exceptions=*/false);
}

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ipcspec-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static Ran Ipcspec(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), IPCSPEC_BINARY);
    return RunCommand(args, env);
  }
  std::string dir_;
};

}  // namespace ipcspec::testing

#endif  // IPCSPEC_TESTS_CLI_TEST_UTIL_H_
