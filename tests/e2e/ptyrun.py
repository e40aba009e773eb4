#!/usr/bin/env python3
"""ptyrun.py — runs a command on a pseudo-terminal as a terminal user would,
then presses Ctrl-C.

    ptyrun.py OUTDIR READY_REGEX READY_TIMEOUT STOP_TIMEOUT CHECK -- CMD...

CMD runs as the session leader of a new pseudo-terminal (its controlling
terminal, as a shell's job).  Once its output matches READY_REGEX (within
READY_TIMEOUT seconds), the shell command CHECK runs (its output and status
go to OUTDIR/check.out and OUTDIR/check.rc; OUTDIR/start.out is written
first and holds the output so far).  Then Ctrl-C is typed: the byte 0x03 is
written to the terminal, whose line discipline echoes "^C" and sends SIGINT
to its foreground process group, whatever that is.  When CMD has not ended
STOP_TIMEOUT seconds later, its process group gets SIGKILL.

Written: OUTDIR/start.out (before Ctrl-C), OUTDIR/stop.out (after it),
OUTDIR/rc (CMD's exit status, 128+N when killed by signal N),
OUTDIR/ready ("yes" or "no"), OUTDIR/times (seconds to ready and to stop).  Exits 0 unless the harness itself failed.
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time


def read_until(fd, buf, done, timeout):
    """Appends what fd gives to buf until done(buf) or EOF or timeout;
    returns (buf, reason) with reason in "done", "eof", "timeout"."""
    end = time.monotonic() + timeout
    while True:
        if done(buf):
            return buf, "done"
        left = end - time.monotonic()
        if left <= 0:
            return buf, "timeout"
        r, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every slave side is closed
            return buf, "eof"
        if not data:
            return buf, "eof"
        buf += data


def main():
    if len(sys.argv) < 8 or sys.argv[6] != "--":
        sys.exit(__doc__)
    outdir, ready_re = sys.argv[1], re.compile(sys.argv[2].encode())
    ready_timeout, stop_timeout = float(sys.argv[3]), float(sys.argv[4])
    check, cmd = sys.argv[5], sys.argv[7:]

    t0 = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    start, why = read_until(fd, b"", lambda b: ready_re.search(b.replace(b"\r", b"")), ready_timeout)
    with open(os.path.join(outdir, "start.out"), "wb") as f:
        f.write(start)
    with open(os.path.join(outdir, "ready"), "w") as f:
        f.write("yes\n" if why == "done" else "no\n")
    if why == "done":
        with open(os.path.join(outdir, "check.out"), "wb") as f:
            rc = subprocess.call(["bash", "-c", check], stdout=f, stderr=subprocess.STDOUT)
        with open(os.path.join(outdir, "check.rc"), "w") as f:
            f.write("%d\n" % rc)
    t1 = time.monotonic()
    if why != "eof":
        os.write(fd, b"\x03")  # Ctrl-C, typed
    stop, why = read_until(fd, b"", lambda b: False, stop_timeout)
    if why == "timeout":
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        stop, _ = read_until(fd, stop, lambda b: False, 5)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    with open(os.path.join(outdir, "stop.out"), "wb") as f:
        f.write(stop)
    with open(os.path.join(outdir, "rc"), "w") as f:
        f.write("%d\n" % (rc if rc >= 0 else 128 - rc))
    with open(os.path.join(outdir, "times"), "w") as f:
        f.write("start %.1fs stop %.1fs\n" % (t1 - t0, time.monotonic() - t1))


if __name__ == "__main__":
    main()
