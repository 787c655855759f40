// The Python side of fork-server mode, embedded as source. It runs inside the tier-A sandbox,
// preloads modules (argv), and per request on fd 3 (a 64-byte header with two fds for
// stdout/stderr, then the code) runs the code in a child forked for that run alone: new session,
// rlimits, reseeded random/numpy, a fresh __main__ (or a copy-on-write one of the warm module).
// The child is forked ahead: right after a reply the server forks the next run's child, which
// does its set-up and waits on a socketpair of its own for the request the server relays to it
// (the limits are applied once it has it). Replies:
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
import gc
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

# n bytes from s (after `first`); None at its end of file.
def recv_exact(s, n, first=b''):
    buf = bytearray(first)
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)

def sweep():
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        return  # no other process, not even a zombie to reap
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

def new_main():
    main = types.ModuleType('__main__')
    main.__file__ = '/code/main.py'
    sys.modules['__main__'] = main
    sys.argv = ['/code/main.py']
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
    main = new_main()
    cache_lines(src, '/code/main.py')
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

# The size and the limits in a request's header (its first word, "warm", already taken off).
def parse(words):
    return int(words[0]), [int(x) for x in words[1:5]]

# A run's child, forked before its request: the set-up that does not depend on the run first,
# then the request (header, code, and the run's stdout and stderr) from the server on `ours`,
# one byte back to say the run starts, and the run itself under the limits the request gives.
def child(ours):
    os.setsid()
    fd = ours.fileno()
    os.closerange(3, fd)
    os.closerange(fd + 1, 4096)
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    if 'random' in sys.modules:
        sys.modules['random'].seed()
    if 'numpy' in sys.modules:
        sys.modules['numpy'].random.seed()
    if warm is None:
        main, name = new_main(), '/code/main.py'
    else:
        main, name = warm, '/code/call.py'
        sys.modules['__main__'] = main
    # Once, while it waits, what a run's own machinery does (a compile; json's parse and dump,
    # as a Python scorer's call does): the pages that writes are copied now, not during the run.
    # Nothing of it is kept, and none of the run's code runs.
    # Skipped when the request is already there (runs back to back): the run would wait for it.
    if not select.select([ours], [], [], 0)[0]:
        compile(b'_x = f(a, b["c"], [1, 2.5, "d"])\nif _x:\n    print(_x)\n', name, 'exec')
        json.dumps(json.loads('{"a": [1, 2.5, "b", null, true], "c": {"d": "e"}}'),
                   allow_nan=False)
    msg, fds, _, _ = socket.recv_fds(ours, 64, 2)
    header = recv_exact(ours, 64, msg) if msg else None
    if header is None or len(fds) != 2:
        os._exit(0)
    size, lim = parse(header.split())
    src = recv_exact(ours, size)
    if src is None:
        os._exit(0)
    ours.send(b'r')
    ours.close()
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    os.close(fds[0])
    os.close(fds[1])
    cpu, mem, fsize, nofile = lim
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cache_lines(src, name)
    code, _ = run_code(src, main, name)
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code & 0xff)

# Forks the next run's child: (its pid, the server's end of its socketpair).
def spawn():
    # A compile of our own leaves the allocator's free lists as a compile needs them: the
    # child's compile of the run's code then writes ~30 pages instead of ~210. Freezing every
    # object the server holds keeps the child's garbage collections off them (a collection
    # writes to each object it visits: a copy of its page).
    compile(b'pass\n', '/code/main.py', 'exec')
    gc.freeze()
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.detach()
        child(theirs)
    theirs.close()
    return pid, ours

# A forked-ahead child not to be used (a prelude is loaded next, or the server ends).
def drop(next_child):
    pid, ours = next_child
    ours.close()
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)

# Relays a run to its child and waits for the child's end, killing it (and its session) on
# "kill". Returns the wait status, its rusage, and whether the child took the request (a child
# killed while it waited for one never ran the code; the run is then given to a new one).
def run(next_child, header, src, fds):
    pid, ours = next_child
    try:
        socket.send_fds(ours, [header], fds)
        ours.sendall(src)
    except OSError:
        pass
    pidfd = os.pidfd_open(pid)
    stopped = False
    while True:
        ready, _, _ = select.select([pidfd, sock], [], [])
        if pidfd in ready:
            break
        if not sock.recv(16):
            drop(next_child)
            sweep()
            sys.exit(0)
        stopped = True
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    os.close(pidfd)
    _, status, ru = os.wait4(pid, 0)
    try:
        took = ours.recv(1, socket.MSG_DONTWAIT) == b'r'
    except OSError:
        took = False
    ours.close()
    return status, ru, took or stopped

gc.collect()
next_child = None
while True:
    if next_child is None:
        next_child = spawn()
    msg, fds, _, _ = socket.recv_fds(sock, 64, 2)
    header = recv_exact(sock, 64, msg) if msg else None
    words = header.split() if header else []
    is_warm = words[:1] == [b'warm']
    src = recv_exact(sock, parse(words[is_warm:])[0]) if words else None
    if src is None:
        drop(next_child)
        break
    if is_warm:
        drop(next_child)
        next_child = None
        status, loaded, utime, stime, ru = load(src, fds, parse(words[1:])[1])
        for fd in fds:
            os.close(fd)
        sock.sendall(b'exit %d %d %d %d %d\n' % (status, int(utime * 1000), int(stime * 1000),
                                                ru.ru_maxrss, loaded))
        continue
    for attempt in range(2):
        if next_child is None:
            next_child = spawn()
        status, ru, took = run(next_child, header, src, fds)
        next_child = None
        if took:
            break
    for fd in fds:
        os.close(fd)
    sweep()
    sock.sendall(b'exit %d %d %d %d\n' % (status, int(ru.ru_utime * 1000),
                                         int(ru.ru_stime * 1000), ru.ru_maxrss))
)PY";

}  // namespace codesweep
