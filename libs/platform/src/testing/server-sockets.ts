import { execFileSync } from 'node:child_process';

/** One TCP socket as `ss` lists it, with its owning process (ss -p) and timer (ss -o). */
export interface SsSocket {
  readonly state: string;
  readonly local: string;
  readonly peer: string;
  readonly pids: number[];
  readonly fd: number | undefined;
  /** e.g. `keepalive,59sec,0`, or undefined when no timer runs. */
  readonly timer: string | undefined;
}

/** The TCP sockets on local port `port` (listening and connected), read from the kernel through iproute2's ss. */
export function socketsOnPort(port: number): SsSocket[] {
  const out = execFileSync('ss', ['-tanpoH', `( sport = :${port} )`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [state = '', , , local = '', peer = ''] = line.trim().split(/\s+/);
      return {
        state,
        local,
        peer,
        pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])),
        fd: /fd=(\d+)/.exec(line)?.[1] === undefined ? undefined : Number(/fd=(\d+)/.exec(line)?.[1]),
        timer: /timer:\(([^)]*)\)/.exec(line)?.[1],
      };
    });
}

export interface SocketOptions {
  readonly noDelay: boolean;
  readonly keepAlive: boolean;
  /** TCP_KEEPIDLE in seconds. */
  readonly keepIdleS: number;
}

/**
 * Reads TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE of a socket another process holds: Node has no getsockopt, so a
 * few lines of Python duplicate the descriptor with pidfd_getfd(2) (Linux ≥ 5.6, root or ptrace rights over the
 * process) and ask the kernel. The duplicate is closed again; the owner's socket is untouched.
 */
export function socketOptionsOf(pid: number, fd: number): SocketOptions {
  const script = `
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
pidfd = libc.syscall(434, int(sys.argv[1]), 0)  # pidfd_open
if pidfd < 0: raise OSError(ctypes.get_errno(), 'pidfd_open')
local = libc.syscall(438, pidfd, int(sys.argv[2]), 0)  # pidfd_getfd
if local < 0: raise OSError(ctypes.get_errno(), 'pidfd_getfd')
s = socket.socket(fileno=local)
print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
s.close(); os.close(pidfd)
`;
  const [noDelay, keepAlive, keepIdle] = execFileSync('python3', ['-c', script, String(pid), String(fd)], {
    encoding: 'utf8',
  })
    .trim()
    .split(/\s+/)
    .map(Number);
  return { noDelay: noDelay !== 0, keepAlive: keepAlive !== 0, keepIdleS: keepIdle ?? Number.NaN };
}
