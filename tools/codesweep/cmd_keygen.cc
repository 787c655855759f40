// `codesweep keygen --out DIR/NAME`: writes a CURVE key pair, NAME.key (the secret, mode 0600)
// and NAME.pub (the public key, Z85), for a coordinator (--curve-secret) or a worker (its .pub
// goes into the coordinator's --authorized-keys directory). Never prints the secret.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "tools/codesweep/commands.h"
#include "transport/wire.h"

namespace codesweep {

namespace {

struct KeygenFlags {
  std::string out;     // DIR/NAME, without extension
  bool force = false;  // replace existing files
};

// Writes `text` to `path` created with `mode` (O_EXCL unless `force`).
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode, bool force) {
  int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
  int fd = open(path.c_str(), flags, mode);
  if (fd < 0) {
    return Status::FailedPrecondition(Str("cannot create ", path, ": ", std::strerror(errno),
                                          errno == EEXIST ? " (pass --force to replace it)" : ""));
  }
  Status s = Status::OK();
  if (fchmod(fd, mode) != 0 ||
      write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || fsync(fd) != 0) {
    s = Status::Unavailable(Str("cannot write ", path, ": ", std::strerror(errno)));
  }
  close(fd);
  return s;
}

Status Keygen(const KeygenFlags& f) {
  std::filesystem::path base(f.out);
  if (base.filename().empty()) return Status::InvalidArgument("--out must be DIR/NAME");
  if (base.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(base.parent_path(), ec);
    if (ec) return Status::Unavailable(Str("cannot create ", base.parent_path().string()));
  }
  CS_ASSIGN_OR_RETURN(CurveKeyPair pair, GenerateCurveKeyPair());
  std::string secret_path = f.out + ".key", public_path = f.out + ".pub";
  std::string name = base.filename().string();
  CS_RETURN_IF_ERROR(WriteNewFile(
      secret_path,
      Str("# codesweep CURVE secret key of ", name, ": keep private\n", pair.secret_z85, "\n"),
      0600, f.force));
  CS_RETURN_IF_ERROR(WriteNewFile(public_path, pair.public_z85 + "\n", 0644, f.force));
  std::printf("secret key: %s (mode 0600)\npublic key: %s\n%s\n", secret_path.c_str(),
              public_path.c_str(), pair.public_z85.c_str());
  return Status::OK();
}

}  // namespace

CommandAction SetupKeygenCommand(CLI::App& sub) {
  auto f = std::make_shared<KeygenFlags>();
  sub.add_option("--out", f->out, "DIR/NAME: writes NAME.key (secret) and NAME.pub")->required();
  sub.add_flag("--force", f->force, "Replace existing key files");
  return [f]() -> int {
    Status s = Keygen(*f);
    if (!s.ok()) {
      std::fprintf(stderr, "codesweep keygen: %s\n", s.message().c_str());
      return 1;
    }
    return 0;
  };
}

}  // namespace codesweep
