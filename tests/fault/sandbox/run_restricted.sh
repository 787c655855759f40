#!/bin/sh
# Runs the hostile suite where the sandbox has less to work with. Used by ctest.
#   run_restricted.sh rootless BINARY [gtest args]   as uid/gid 65534, no groups, no capabilities
#   run_restricted.sh no-userns BINARY [gtest args]  in a user namespace whose
#                                                    user.max_user_namespaces is 0
# Exit 77 (ctest SKIP) only when the machine cannot set the situation up, with the reason.
mode=$1
bin=$2
shift 2
case "$mode" in
rootless)
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: already unprivileged (uid $(id -u)); the plain fault_sandbox run is the rootless run"
    exit 77
  fi
  if ! command -v setpriv >/dev/null 2>&1; then
    echo "SKIP: setpriv (util-linux) is not installed"
    exit 77
  fi
  dir=$(mktemp -d /tmp/cs-rootless-XXXXXX) || exit 1
  chown 65534:65534 "$dir"
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    env HOME="$dir" TMPDIR="$dir" "$bin" "$@"
  rc=$?
  rm -rf "$dir"
  exit $rc
  ;;
no-userns)
  if ! command -v unshare >/dev/null 2>&1; then
    echo "SKIP: unshare (util-linux) is not installed"
    exit 77
  fi
  if ! unshare -U -r --fork true 2>/dev/null; then
    # No user namespaces at all: the machine is already in the situation under test.
    exec "$bin" "$@"
  fi
  # The sysctl is per user namespace: 0 here disables new ones for everything below.
  if ! unshare -U -r --fork sh -c 'echo 0 > /proc/sys/user/max_user_namespaces' 2>/dev/null; then
    echo "SKIP: this kernel cannot turn user namespaces off inside one (user.max_user_namespaces)"
    exit 77
  fi
  exec unshare -U -r --fork sh -c \
    'echo 0 > /proc/sys/user/max_user_namespaces || exit 1; exec "$0" "$@"' "$bin" "$@"
  ;;
esac
echo "usage: run_restricted.sh rootless|no-userns BINARY [gtest args]" >&2
exit 2
