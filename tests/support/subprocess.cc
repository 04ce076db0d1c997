#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace ipcspec::testing {

Started StartCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return {};
  }
  return {pid, ::fdopen(fds[0], "r")};
}

Ran RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  Ran r;
  const Started c = StartCommand(argv, env);
  if (c.pid < 0) return r;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, c.out)) > 0) r.out.append(buf, n);
  std::fclose(c.out);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

namespace {

struct JsonParser {
  const std::string& s;
  size_t i = 0;
  void Ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  bool Lit(const char* w) {
    for (size_t k = 0; w[k]; ++k, ++i) {
      if (i >= s.size() || s[i] != w[k]) return false;
    }
    return true;
  }
  bool String() {
    if (s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        ++i;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i >= s.size()) return false;
        if (s[i] == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (++i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
          }
        } else if (std::string("\"\\/bfnrt").find(s[i]) == std::string::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool Number() {
    size_t start = i;
    if (s[i] == '-') ++i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                            s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    return i > start;
  }
  bool Value() {
    Ws();
    if (i >= s.size()) return false;
    bool ok;
    switch (s[i]) {
      case '{':
        ok = Container('}', true);
        break;
      case '[':
        ok = Container(']', false);
        break;
      case '"':
        ok = String();
        break;
      case 't':
        ok = Lit("true");
        break;
      case 'f':
        ok = Lit("false");
        break;
      case 'n':
        ok = Lit("null");
        break;
      default:
        ok = Number();
    }
    Ws();
    return ok;
  }
  bool Container(char close, bool object) {
    ++i;
    Ws();
    if (i < s.size() && s[i] == close) {
      ++i;
      return true;
    }
    for (;;) {
      if (object) {
        Ws();
        if (i >= s.size() || !String()) return false;
        Ws();
        if (i >= s.size() || s[i++] != ':') return false;
      }
      if (!Value()) return false;
      if (i >= s.size()) return false;
      if (s[i] == ',') {
        ++i;
        continue;
      }
      if (s[i] == close) {
        ++i;
        return true;
      }
      return false;
    }
  }
};

}  // namespace

bool IsValidJson(const std::string& text) {
  JsonParser p{text};
  return p.Value() && p.i == text.size();
}

}  // namespace ipcspec::testing
