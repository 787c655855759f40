// The Python side of fork-server mode, embedded as source. It runs inside the tier-A sandbox,
// preloads modules (argv), and per request on fd 3 (a 64-byte header with two fds for
// stdout/stderr, then the code) forks a child: new session, rlimits, reseeded random/numpy, a
// fresh __main__ (or a copy-on-write one of the warm module). Replies:
// "exit <status> <utime_ms> <stime_ms> <maxrss_kb>\n". "kill" during a run kills everything in the
// sandbox but the server (kill(-1) inside the pid namespace). A header that starts with "warm"
// runs its code (a prelude, ExecRequest::prelude) in the server itself, output to the two fds,
// under a soft address-space limit, and adds a field to the reply: 1 when the code ran to its
// end (no exception, no sys.exit), after which every later child runs in a fork of that module's
// globals. Such a server serves that prelude only (ForkServerExecutor keeps it apart).
#pragma once

namespace codesweep {

inline constexpr const char* kForkServerPy = R"PY(
# Every page a child (or this server) writes after a fork costs a page fault, ~15-25 us on a
# virtual machine: what each child uses of its own (atexit, linecache, _signal) is imported here
# once, and random is not imported here (a child reseeds it if something loaded it).
import os, sys, socket, signal, _signal, resource, types, traceback, select, json, atexit, linecache
# sweep() below (kill(-1)) kills every process this one may signal: safe only as one of the first
# processes of the sandbox's own pid namespace (its init is pid 1, this server pid 2). Anywhere
# else, a copy run by hand for instance, refuse to serve rather than sweep the host.
if os.getpid() > 16:
    sys.stderr.write('fork server: pid %d is not one of the first of its own pid namespace; '
                     'refusing to serve (its kill(-1) sweep would signal every process it can)\n'
                     % os.getpid())
    sys.exit(70)
for name in sys.argv[1:]:
    try:
        __import__(name)
    except Exception:
        pass
sock = socket.socket(fileno=3)

def recv_exact(n, first=b''):
    buf = bytearray(first)
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            sys.exit(0)
        buf += chunk
    return bytes(buf)

def sweep():
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return

warm = None

def cache_lines(src, name):
    text = src.decode('utf-8', 'replace')
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)

def new_main(src):
    main = types.ModuleType('__main__')
    main.__file__ = '/code/main.py'
    sys.modules['__main__'] = main
    sys.argv = ['/code/main.py']
    cache_lines(src, '/code/main.py')
    return main

def run_code(src, main, name):
    code = 0
    try:
        exec(compile(src, name, 'exec'), main.__dict__)
        return 0, False
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException as e:
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        code = 1
    return code, True

def load(src, fds, lim):
    global warm
    saved = [os.dup(1), os.dup(2)]
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (lim[1], hard))
    before = resource.getrusage(resource.RUSAGE_SELF)
    main = new_main(src)
    code, ended = run_code(src, main, '/code/main.py')
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    for fd, saved_fd in ((1, saved[0]), (2, saved[1])):
        os.dup2(saved_fd, fd)
        os.close(saved_fd)
    if not ended:
        warm = main
    return (code & 0xff) << 8, not ended, ru.ru_utime - before.ru_utime, ru.ru_stime - before.ru_stime, ru

def child(src, fds, lim):
    os.setsid()
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    os.closerange(3, 4096)
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    cpu, mem, fsize, nofile = lim
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if 'random' in sys.modules:
        sys.modules['random'].seed()
    if 'numpy' in sys.modules:
        sys.modules['numpy'].random.seed()
    name = '/code/main.py'
    if warm is None:
        main = new_main(src)
    else:
        main, name = warm, '/code/call.py'
        sys.modules['__main__'] = main
        cache_lines(src, name)
    code, _ = run_code(src, main, name)
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code & 0xff)

while True:
    msg, fds, _, _ = socket.recv_fds(sock, 64, 2)
    if not msg:
        break
    header = recv_exact(64, msg).split()
    is_warm = header[0] == b'warm'
    if is_warm:
        header = header[1:]
    size, lim = int(header[0]), [int(x) for x in header[1:5]]
    src = recv_exact(size)
    if is_warm:
        status, loaded, utime, stime, ru = load(src, fds, lim)
        for fd in fds:
            os.close(fd)
        sock.sendall(b'exit %d %d %d %d %d\n' % (status, int(utime * 1000), int(stime * 1000),
                                                ru.ru_maxrss, loaded))
        continue
    # A compile of our own leaves the allocator's free lists as a compile needs them: the
    # child's compile of src then writes ~30 pages instead of ~210.
    compile(b'pass\n', '/code/main.py', 'exec')
    pid = os.fork()
    if pid == 0:
        child(src, fds, lim)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([pidfd, sock], [], [])
        if pidfd in ready:
            break
        if not sock.recv(16):
            sweep()
            sys.exit(0)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    os.close(pidfd)
    _, status, ru = os.wait4(pid, 0)
    sweep()
    sock.sendall(b'exit %d %d %d %d\n' % (status, int(ru.ru_utime * 1000),
                                         int(ru.ru_stime * 1000), ru.ru_maxrss))
)PY";

}  // namespace codesweep
