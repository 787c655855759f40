// The native backend's plans, built in the worker before any clone: the launcher's root, the
// per-run request, and the interpreter's arguments (shared with the bubblewrap backend).
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>

#include "jobs/sandbox/native_internal.h"
#include "jobs/sandbox/profile.h"

namespace codesweep {
namespace {

std::string PyQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

void AddBind(std::vector<RootOp>& ops, const std::string& path, bool device) {
  std::string dst = kNewRoot + path;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  ops.push_back({S_ISDIR(st.st_mode) ? RootOp::kDir : RootOp::kFile, "", dst, "", "", 0755});
  ops.push_back({RootOp::kMount, path, dst, "", "", MS_BIND | MS_REC});
  ops.push_back({RootOp::kRemountRo, "", dst, "", "",
                 static_cast<unsigned long>(MS_NOSUID | (device ? 0 : MS_NODEV))});
}

// /dev: a read-only tmpfs with the harmless devices and the usual links (shm -> /tmp).
void AddDev(std::vector<RootOp>& ops) {
  std::string dev = kNewRoot + std::string("/dev");
  ops.push_back({RootOp::kDir, "", dev, "", "", 0755});
  ops.push_back({RootOp::kMount, "tmpfs", dev, "tmpfs", "size=64k,mode=0755", MS_NOSUID});
  for (const char* d : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}) {
    std::string dst = kNewRoot + std::string(d);
    ops.push_back({RootOp::kFile, "", dst, "", "", 0});
    ops.push_back({RootOp::kMount, d, dst, "", "", MS_BIND});
  }
  for (auto [target, name] : {std::pair{"/proc/self/fd", "fd"},
                              {"/proc/self/fd/0", "stdin"},
                              {"/proc/self/fd/1", "stdout"},
                              {"/proc/self/fd/2", "stderr"},
                              {"/tmp", "shm"}}) {
    ops.push_back({RootOp::kSymlink, target, dev + "/" + name});
  }
  ops.push_back({RootOp::kRemountRo, "", dev, "", "", MS_NOSUID});
}

}  // namespace

std::vector<RootOp> RootPlan(const SandboxProfile& profile) {
  std::vector<RootOp> ops;
  ops.push_back(
      {RootOp::kMount, "tmpfs", kNewRoot, "tmpfs", "size=1m,mode=0755", MS_NOSUID | MS_NODEV});
  AddBind(ops, "/usr", false);
  for (const char* top : {"/bin", "/lib", "/lib64", "/lib32", "/sbin"}) {
    char target[PATH_MAX];
    ssize_t n = readlink(top, target, sizeof(target) - 1);
    if (n > 0) {
      ops.push_back({RootOp::kSymlink, std::string(target, n), kNewRoot + std::string(top)});
    } else {
      AddBind(ops, top, false);
    }
  }
  std::string prefix = std::filesystem::path(profile.python).parent_path().parent_path();
  if (prefix != "/usr" && prefix != "/") {
    std::filesystem::path acc = "/";
    for (const auto& part : std::filesystem::path(prefix).relative_path().parent_path()) {
      acc /= part;
      ops.push_back({RootOp::kDir, "", kNewRoot + acc.string(), "", "", 0755});
    }
    AddBind(ops, prefix, false);
  }
  ops.push_back({RootOp::kDir, "", kNewRoot + std::string("/etc"), "", "", 0755});
  for (const std::string& p : TierAEtcPaths()) AddBind(ops, p, false);
  AddDev(ops);
  for (const char* d : {"/proc", "/tmp", "/scratch", "/code"}) {
    ops.push_back({RootOp::kDir, "", kNewRoot + std::string(d), "", "", 0755});
  }
  ops.push_back(
      {RootOp::kMount, "proc", kNewRoot + std::string("/proc"), "proc", "", MS_NOSUID | MS_NODEV});
  return ops;
}

Request MakeRequest(const ExecRequest& request, bool have_cgroup) {
  ChildLimits child = LimitsFor(request.limits, have_cgroup);
  Request req{};
  req.cpu_seconds = child.cpu_seconds;
  req.address_space = child.address_space;
  req.file_bytes = child.file_bytes;
  req.open_files = child.open_files;
  req.processes = child.processes;
  std::snprintf(req.tmp_opts, sizeof(req.tmp_opts), "size=%lld,mode=1777",
                static_cast<long long>(request.limits.tmp_bytes));
  std::snprintf(req.code_opts, sizeof(req.code_opts), "size=%lld,mode=0755",
                static_cast<long long>(request.code.size() + 65536));
  return req;
}

std::vector<std::string> TierAInterpreterArgs(const std::string& python,
                                              const std::vector<std::string>& sys_path,
                                              int status_fd) {
  std::string path_list = "[";
  for (const std::string& p : sys_path) path_list += PyQuote(p) + ",";
  path_list += "]";
  // "<exit code> <cpu ms>": bubblewrap's rusage lacks the interpreter's CPU time (its pid-1
  // reaper is never waited for), so the interpreter reports its own (os.times(): itself and the
  // children it waited for).
  auto marker = [&](const std::string& code) {
    if (status_fd < 0) return std::string();
    return "    __import__('os').write(" + std::to_string(status_fd) + ", b'%d %d' % (" + code +
           ", (lambda t: int((t[0] + t[1] + t[2] + t[3]) * 1000))(__import__('os').times())))\n";
  };
  std::string pre =
      "__import__('sys').path[:] = " + path_list +
      "\n"
      "__import__('sys').argv[:] = ['/code/main.py']\n"
      "__file__ = '/code/main.py'\n"
      "__cached__ = None\n"
      "__cs_b, __cs_s = __import__('builtins'), __import__('_sitebuiltins')\n"
      "__cs_b.exit = __cs_s.Quitter('exit', 'Ctrl-D (i.e. EOF)')\n"
      "__cs_b.quit = __cs_s.Quitter('quit', 'Ctrl-D (i.e. EOF)')\n"
      "__cs_b.help = __cs_s._Helper()\n"
      // site's _Printer imports os when made (~1 ms); these make it when used.
      "class __cs_P:\n"
      "    def __init__(self, *a): self.a = a\n"
      "    def __repr__(self): return repr(__import__('_sitebuiltins')._Printer(*self.a))\n"
      "    def __call__(self): return __import__('_sitebuiltins')._Printer(*self.a)()\n"
      "__cs_b.copyright = __cs_P('copyright', __import__('sys').copyright)\n"
      "__cs_b.credits = __cs_P('credits', 'See https://www.python.org/.')\n"
      "__cs_b.license = __cs_P('license', 'See https://www.python.org/psf/license/')\n"
      "del __cs_b, __cs_s, __cs_P\n"
      "try:\n"
      "    exec(compile(open(__file__, 'rb').read(), __file__, 'exec', dont_inherit=True))\n"
      "except SystemExit as __cs_e:\n" +
      marker(
          "0 if __cs_e.code is None else __cs_e.code & 255 if isinstance(__cs_e.code, int) "
          "else 1") +
      "    raise\n"
      "except BaseException as __cs_e:\n"
      "    __cs_e.__traceback__ = __cs_e.__traceback__.tb_next\n"
      "    __import__('sys').excepthook(type(__cs_e), __cs_e, __cs_e.__traceback__)\n" +
      marker("1") + "    raise SystemExit(1) from None\n";
  if (status_fd >= 0) pre += "else:\n" + marker("0");
  return {python, "-I", "-S", "-c", pre};
}

}  // namespace codesweep
