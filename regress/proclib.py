"""proclib: what the tests that count a host's SFTP work share (t-hotpath,
t-readq): the processes under our sshd, seen through /proc."""

import os


def ancestors(pid):
    """pid's parent, its parent, and so on up to init"""
    seen = []
    while pid > 1 and len(seen) < 64:
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        seen.append(pid)
    return seen


def sftp_pids(sshd):
    """the internal-sftp processes under the sshd of pid sshd"""
    found = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if b"internal-sftp" in f.read() and \
                        sshd in ancestors(int(d)):
                    found.append(int(d))
        except (OSError, ValueError):
            continue
    return found


def io(pid):
    """/proc/PID/io as numbers (syscr: its read(2)s and the like)"""
    with open("/proc/%d/io" % pid) as f:
        return dict((k, int(v)) for k, v in
                    (ln.split(": ") for ln in f.read().splitlines()))
