#!/bin/bash
# t-files: the file tools end to end through the daemon against the
# harness sshd: Read (cat -n format, offset/limit, binary, empty, errors,
# a 20-line slice of a 100 MB file moving < 64 KiB), Write (atomic, mode
# kept), Edit/MultiEdit (not found, not unique with line numbers, a failed
# MultiEdit leaves the file byte-identical), MultiRead (also of a link to
# a name that is not UTF-8), FileStat, ListDir,
# Glob, Grep, shell quoting of hostile names, the output cap, and
# Upload/Download under `transfer root' (round trip, overwrite refused,
# escapes refused, refused when no transfer root is configured).

. "$(dirname "$0")/lib.sh"

mkdir -p "$TESTDIR/troot/in"
if ! tap_check "bridged starts with a transfer root" \
    bridged_start "transfer root \"$TESTDIR/troot\""; then
	tap_end
fi

export REGRESS_DIR TESTDIR SSHD_PID
tap_run "$PYTHON" - <<'EOF'
import json
import os
import re
import shutil
import stat
import sys
import time

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap

TD = os.environ["TESTDIR"]
BASE = os.path.join(TD, "base")
TROOT = os.path.join(TD, "troot")
SSHD = int(os.environ["SSHD_PID"])
ROOT = os.geteuid() == 0
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()


def call(tool, args, timeout=60):
    r = c.call_tool(tool, args, timeout=timeout)
    text = "".join(b.get("text", "") for b in r.get("content", [])
                   if b.get("type") == "text")
    return r, text


def ok_call(desc, tool, args, want=None, err=False, timeout=60):
    """call; check isError is err and the text matches regex want"""
    try:
        r, text = call(tool, args, timeout)
    except Exception as e:
        t.ok(False, desc, "%s: %s" % (type(e).__name__, e))
        return None, ""
    good = bool(r.get("isError")) == err
    if want is not None and not re.search(want, text, re.S):
        good = False
    t.ok(good, desc, "isError=%r text=%r" % (r.get("isError"), text[:600]))
    return r, text


def p(*parts):
    return os.path.join(BASE, *parts)


def write(path, data, mode=None):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if mode is not None:
        os.chmod(path, mode)


def sshd_wchar():
    """bytes written by sshd and its children (to the client, mostly)"""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    total, todo = 0, [SSHD]
    while todo:
        pid = todo.pop()
        try:
            with open("/proc/%d/io" % pid) as f:
                for line in f:
                    if line.startswith("wchar:"):
                        total += int(line.split()[1])
        except OSError:
            pass
        todo.extend(kids.get(pid, []))
    return total


os.makedirs(p("sub", "deep"), exist_ok=True)
write(p("a.txt"), "line one\nline two\nthree\n")
write(p("empty.txt"), "")
write(p("bin.dat"), bytes(range(256)) * 16)
write(p("img.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
write(p("long.txt"), "x" * 5000 + "\nshort\n")

# --- Read -----------------------------------------------------------------
ok_call("Read: cat -n format", "Read", {"file_path": p("a.txt")},
        r"^     1\tline one\n     2\tline two\n     3\tthree\n$")
ok_call("Read: offset/limit", "Read",
        {"file_path": p("a.txt"), "offset": 2, "limit": 1},
        r"^     2\tline two\n$")
ok_call("Read: relative path is under base dir", "Read",
        {"file_path": "a.txt"}, r"line one")
ok_call("Read: missing file is an error", "Read",
        {"file_path": p("nope.txt")}, r"does not exist", err=True)
ok_call("Read: a directory is an error", "Read",
        {"file_path": p("sub")}, r"is a directory", err=True)
ok_call("Read: empty file says so", "Read",
        {"file_path": p("empty.txt")}, r"empty")
ok_call("Read: binary file described, not dumped", "Read",
        {"file_path": p("bin.dat")}, r"binary file, 4096 bytes")
ok_call("Read: binary type recognised", "Read",
        {"file_path": p("img.png")}, r"PNG image")
r, text = ok_call("Read: long lines cut at 2000 characters", "Read",
                  {"file_path": p("long.txt")}, r"^     1\tx{2000}\n     2\tshort")
ok_call("Read: offset past the end", "Read",
        {"file_path": p("a.txt"), "offset": 10}, r"has 3 lines")
ok_call("Read: file_path of the wrong type", "Read",
        {"file_path": 5}, None, err=True)
if ROOT:
    t.skip("Read: permission denied", "running as root")
else:
    write(p("secret.txt"), "s\n", 0)
    ok_call("Read: permission denied", "Read",
            {"file_path": p("secret.txt")}, r"[Pp]ermission denied",
            err=True)
    os.chmod(p("secret.txt"), 0o600)

# 100 MB, 20 lines from the middle
big = p("big.txt")
with open(big, "w") as f:
    line = "x" * 60
    f.writelines("line %d %s\n" % (i, line) for i in range(1, 1400001))
w0 = sshd_wchar()
r, text = ok_call("Read: 20 lines from the middle of a 100 MB file", "Read",
                  {"file_path": big, "offset": 700000, "limit": 20},
                  r"^700000\tline 700000 x+\n.*700019\tline 700019 x+\n$")
moved = sshd_wchar() - w0
t.ok(len(text) < 65536, "Read: the slice result is small (%d bytes)"
     % len(text))
t.ok(0 < moved < 65536, "Read: < 64 KiB left sshd for it (%d bytes)" % moved)
r, text = ok_call("Read: default limit on a huge file stops at the result "
                  "limit", "Read", {"file_path": big},
                  r"\[Read stopped after line (\d+) to fit the result limit "
                  r"\(40000 characters\).*call Read with offset=\d+ and "
                  r"limit=\d+\]\n$")
t.ok(len(text) <= 40000, "Read: within 40000 characters (%d)" % len(text))

# --- Write ----------------------------------------------------------------
ok_call("Write: creates a file", "Write",
        {"file_path": p("w.txt"), "content": "hello\nworld\nhello\n"},
        r"created")
t.ok(open(p("w.txt")).read() == "hello\nworld\nhello\n",
     "Write: content is on disk")
os.chmod(p("w.txt"), 0o751)
ino = os.stat(p("w.txt")).st_ino
ok_call("Write: replaces a file", "Write",
        {"file_path": p("w.txt"), "content": "hello\nworld\nhello again\n"},
        r"updated")
st = os.stat(p("w.txt"))
t.ok(stat.S_IMODE(st.st_mode) == 0o751,
     "Write: keeps the mode of the file it replaces",
     "mode %o" % stat.S_IMODE(st.st_mode))
t.ok(st.st_ino != ino, "Write: replaced by rename (new inode)")
t.ok(not [n for n in os.listdir(BASE) if ".bridged-" in n],
     "Write: no temp file left behind")
ok_call("Write: to a directory is an error", "Write",
        {"file_path": p("sub"), "content": "x"}, r"is a directory",
        err=True)
ok_call("Write: into a missing directory is an error", "Write",
        {"file_path": p("nodir", "x"), "content": "x"},
        r"does not exist", err=True)
ok_call("Write: content missing", "Write", {"file_path": p("w2.txt")},
        r"content", err=True)

# --- Edit / MultiEdit -------------------------------------------------------
ok_call("Edit: not unique names the lines", "Edit",
        {"file_path": p("w.txt"), "old_string": "hello",
         "new_string": "bye"}, r"not unique.*lines 1, 3", err=True)
ok_call("Edit: absent old_string", "Edit",
        {"file_path": p("w.txt"), "old_string": "nope",
         "new_string": "bye"}, r"old_string not found", err=True)
ok_call("Edit: old_string equal to new_string", "Edit",
        {"file_path": p("w.txt"), "old_string": "world",
         "new_string": "world"}, r"same", err=True)
ok_call("Edit: unique match", "Edit",
        {"file_path": p("w.txt"), "old_string": "world",
         "new_string": "earth"}, r"updated")
ok_call("Edit: replace_all", "Edit",
        {"file_path": p("w.txt"), "old_string": "hello",
         "new_string": "bye", "replace_all": True}, r"updated")
t.ok(open(p("w.txt")).read() == "bye\nearth\nbye again\n",
     "Edit: the file has both edits", open(p("w.txt")).read())
t.ok(stat.S_IMODE(os.stat(p("w.txt")).st_mode) == 0o751,
     "Edit: keeps the mode")
# replacing a file is one SFTP request (posix-rename@openssh.com), not a
# mv(1) on an exec channel of its own, a few ms more (sshd logs each)


def execs():
    with open(os.path.join(TD, "sshd.log"), errors="replace") as f:
        return f.read().count("Starting session: command")


n0 = execs()
ok_call("Edit: once more", "Edit",
        {"file_path": p("w.txt"), "old_string": "earth",
         "new_string": "moon"}, r"updated")
moon = "moon" in open(p("w.txt")).read()
ok_call("Edit: and back", "Edit",
        {"file_path": p("w.txt"), "old_string": "moon",
         "new_string": "earth"}, r"updated")
time.sleep(0.2)
t.ok(execs() == n0 and moon and
     open(p("w.txt")).read() == "bye\nearth\nbye again\n" and
     stat.S_IMODE(os.stat(p("w.txt")).st_mode) == 0o751,
     "Edit: the file replaced without a command on the host (%d exec "
     "channels before, %d after)" % (n0, execs()))
# large enough to be written on a channel of its own (FU_MEM_MIN)
bigtext = ("line %06d\n" % 0) + "".join("line %06d\n" % i
                                      for i in range(1, 40000))
with open(p("bigedit.txt"), "w") as f:
    f.write(bigtext)
os.chmod(p("bigedit.txt"), 0o604)
ok_call("Edit: a file of 480 KB", "Edit",
        {"file_path": p("bigedit.txt"), "old_string": "line 031337\n",
         "new_string": "leet\n"}, r"^The file .* has been updated\.$")
t.ok(open(p("bigedit.txt")).read() == bigtext.replace("line 031337\n",
                                                   "leet\n") and
     stat.S_IMODE(os.stat(p("bigedit.txt")).st_mode) == 0o604,
     "Edit: the large file has the edit, and its mode")
ok_call("Write: a new file of 480 KB", "Write",
        {"file_path": p("bignew.txt"), "content": bigtext},
        r"^File created successfully at: .* \(480000 bytes\)$")
t.ok(open(p("bignew.txt")).read() == bigtext and
     not [n for n in os.listdir(BASE) if ".bridged-" in n],
     "Write: the large new file is whole, no temp left")
os.unlink(p("bigedit.txt"))
os.unlink(p("bignew.txt"))
ok_call("Edit: missing file", "Edit",
        {"file_path": p("nope.txt"), "old_string": "a", "new_string": "b"},
        r"does not exist", err=True)
ok_call("Edit: a directory", "Edit",
        {"file_path": p("sub"), "old_string": "a", "new_string": "b"},
        r"directory", err=True)

before = open(p("w.txt"), "rb").read()
st0 = os.stat(p("w.txt"))
ok_call("MultiEdit: a failing second edit fails the call", "MultiEdit",
        {"file_path": p("w.txt"), "edits": [
            {"old_string": "earth", "new_string": "mars"},
            {"old_string": "zzz", "new_string": "q"}]},
        r"edit 2 of 2.*nothing was written", err=True)
st1 = os.stat(p("w.txt"))
t.ok(open(p("w.txt"), "rb").read() == before and st0.st_ino == st1.st_ino
     and st0.st_mtime_ns == st1.st_mtime_ns,
     "MultiEdit: after a failure the file is byte-identical (and untouched)")
ok_call("MultiEdit: a bad edit object", "MultiEdit",
        {"file_path": p("w.txt"), "edits": [{"old_string": "earth"}]},
        r"edit 1 of 1.*new_string", err=True)
ok_call("MultiEdit: edits apply in order", "MultiEdit",
        {"file_path": p("w.txt"), "edits": [
            {"old_string": "earth", "new_string": "mars"},
            {"old_string": "mars", "new_string": "venus"}]}, r"2 edits")
t.ok(open(p("w.txt")).read() == "bye\nvenus\nbye again\n",
     "MultiEdit: result on disk")

# --- MultiRead / FileStat / ListDir ----------------------------------------
ok_call("MultiRead: sections with headers, errors inline", "MultiRead",
        {"files": [p("a.txt"), {"file_path": p("w.txt"), "offset": 2,
                                "limit": 1}, p("nope.txt")]},
        r"==> .*a\.txt <==\n     1\tline one.*==> .*w\.txt <==\n     2\t"
        r"venus\n.*==> .*nope\.txt <==\nerror: File does not exist")
ok_call("MultiRead: files must be an array", "MultiRead",
        {"files": "x"}, None, err=True)
# a link to a name that is not UTF-8: the host's realpath cannot be a JSON
# string, so the path is resolved the slow way, as Read's is (the batched
# resolve took it for out of memory, and the worker died)
with open(os.path.join(BASE.encode(), b"caf\xe9.txt"), "w") as f:
    f.write("latin name\n")
os.symlink(b"caf\xe9.txt", os.path.join(BASE.encode(), b"latin.lnk"))
ok_call("MultiRead: a link to a name that is not UTF-8", "MultiRead",
        {"files": [p("latin.lnk"), p("a.txt")]},
        r"==> .*latin\.lnk <==\n     1\tlatin name\n.*a\.txt <==\n     1\t")
ok_call("FileStat: a path through it", "FileStat",
        {"paths": [p("latin.lnk")]}, r'"type": "symlink"')
os.unlink(p("latin.lnk"))
os.unlink(os.path.join(BASE.encode(), b"caf\xe9.txt"))

os.symlink("a.txt", p("lnk"))
r, text = ok_call("FileStat: several paths", "FileStat",
                  {"paths": [p("a.txt"), p("sub"), p("lnk"), p("nope")]})
files = (r or {}).get("structuredContent", {}).get("files", [])
byp = {f.get("path"): f for f in files}
fa, fs, fl, fn = (byp.get(p(x), {}) for x in ("a.txt", "sub", "lnk", "nope"))
t.ok(fa.get("type") == "file" and fa.get("size") == 24 and
     re.match(r"^0[0-7]{3}$", fa.get("mode", "")) and
     fa.get("uid") == os.getuid() and
     re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", fa.get("mtime", "")),
     "FileStat: a file's type, size, mode, owner, mtime", fa)
t.ok(fs.get("type") == "directory", "FileStat: a directory", fs)
t.ok(fl.get("type") == "symlink" and fl.get("target") == "a.txt",
     "FileStat: a symlink and its target", fl)
t.ok("error" in fn, "FileStat: a missing path has an error", fn)
try:
    t.ok(json.loads(text) == r["structuredContent"],
         "FileStat: the text is the same JSON")
except Exception as e:
    t.ok(False, "FileStat: the text is the same JSON", e)

ok_call("ListDir: sorted, with type markers and sizes", "ListDir",
        {"path": BASE},
        r"\na\.txt\t24\n.*\nlnk@ -> a\.txt\n.*\nsub/\n")
ok_call("ListDir: a file is not a directory", "ListDir",
        {"path": p("a.txt")}, r"not a directory", err=True)
ok_call("ListDir: missing", "ListDir", {"path": p("nope")},
        r"No such file", err=True)

# --- Glob -------------------------------------------------------------------
write(p("sub", "deep", "old.c"), "int x;\n")
write(p("sub", "new.c"), "int y;\n")
write(p("top.c"), "int main;\n")
os.utime(p("sub", "deep", "old.c"), (1000000000, 1000000000))
os.utime(p("top.c"), (1500000000, 1500000000))
ok_call("Glob: ** matches at any depth, newest first", "Glob",
        {"pattern": "**/*.c", "path": BASE},
        "^%s\n%s\n%s\n$" % (re.escape(p("sub", "new.c")),
                            re.escape(p("top.c")),
                            re.escape(p("sub", "deep", "old.c"))))
ok_call("Glob: absolute pattern with braces", "Glob",
        {"pattern": BASE + "/*.{png,dat}"},
        "%s\n" % re.escape(p("bin.dat")))
ok_call("Glob: default path is the base dir", "Glob",
        {"pattern": "*.png"}, "^%s\n$" % re.escape(p("img.png")))
# a tree deeper than the walk goes (64 levels): what it found, and why
# it stopped
deep = p("deep70")
os.makedirs(os.path.join(deep, *(["d"] * 70)))
open(os.path.join(deep, "d", "near.txt"), "w").close()
open(os.path.join(deep, *(["d"] * 70), "far.txt"), "w").close()
r, x = call("Glob", {"pattern": "**/*.txt", "path": deep})
t.ok(not r.get("isError") and x.startswith(os.path.join(deep, "d", "near.txt") + "\n") and
     "far.txt" not in x and "at directories 64 levels deep" in x,
     "Glob: a tree deeper than 64 levels gives what it found and says why "
     "it stopped", x)
shutil.rmtree(deep)
ok_call("Glob: no match", "Glob", {"pattern": "*.zzz", "path": BASE},
        r"No files found")
ok_call("Glob: missing path", "Glob",
        {"pattern": "*", "path": p("nope")}, r"No such file", err=True)

# --- Grep -------------------------------------------------------------------
ok_call("Grep: files_with_matches", "Grep",
        {"pattern": "int [xy]", "path": BASE},
        r"Found 2 files\n.*deep/old\.c\n.*sub/new\.c\n")
ok_call("Grep: content with line numbers", "Grep",
        {"pattern": "venus", "path": BASE, "output_mode": "content"},
        "%s:2:venus" % re.escape(p("w.txt")))
ok_call("Grep: count", "Grep",
        {"pattern": "bye", "path": p("w.txt"), "output_mode": "count"},
        r":2\n")
ok_call("Grep: -i and glob", "Grep",
        {"pattern": "LINE T", "path": BASE, "-i": True, "glob": "a.*",
         "output_mode": "content"}, r"a\.txt:2:line two")
write(p("dash.txt"), "a -v b\n")
ok_call("Grep: a pattern starting with - is not an option", "Grep",
        {"pattern": "-v b", "path": BASE, "output_mode": "content"},
        r"dash\.txt:1:a -v b")
ok_call("Grep: head_limit", "Grep",
        {"pattern": "line", "path": big, "output_mode": "content",
         "head_limit": 3}, r"^[^\n]*:1:line 1 x+\n[^\n]*\n[^\n]*:3:line 3 "
        r"x+\n\[showing entries 1-3")
ok_call("Grep: no match", "Grep", {"pattern": "qqqzzz", "path": BASE},
        r"No files found")
ok_call("Grep: bad regex is an error", "Grep",
        {"pattern": "(", "path": BASE}, None, err=True)
ok_call("Grep: missing path is an error", "Grep",
        {"pattern": "x", "path": p("nope")}, None, err=True)

# --- hostile names: arguments reach the remote shell only quoted -----------
evil = p("q'd $(touch PWNED) `touch PWNED2`;x")
os.makedirs(evil)
with open(os.path.join(evil, "it's.txt"), "w") as f:
    f.writelines("row %d '$(id)'\n" % i for i in range(40000))
ok_call("Read: a quoted hostile name through the remote slicer", "Read",
        {"file_path": os.path.join(evil, "it's.txt"), "offset": 3,
         "limit": 1}, r"^     3\trow 2 '\$\(id\)'\n$")
ok_call("Grep: a hostile path and pattern", "Grep",
        {"pattern": "'\\$\\(id\\)'", "path": evil, "output_mode": "count"},
        r":40000\n")
t.ok(not any(os.path.exists(os.path.join(d, n))
             for d in (BASE, evil, os.path.expanduser("~"))
             for n in ("PWNED", "PWNED2")), "no command ran from a name")

# --- Upload / Download ------------------------------------------------------
data = os.urandom(5 * 1024 * 1024)
write(os.path.join(TROOT, "in", "rand.bin"), data)
ok_call("Upload: 5 MB", "Upload",
        {"local_path": "in/rand.bin", "remote_path": p("up.bin")},
        r"Uploaded 5242880 bytes")
t.ok(os.path.exists(p("up.bin")) and open(p("up.bin"), "rb").read() == data,
     "Upload: the remote copy is identical")
ok_call("Upload: an existing remote file is not overwritten by default",
        "Upload", {"local_path": "in/rand.bin", "remote_path": p("up.bin")},
        r"exists.*overwrite", err=True)
ok_call("Upload: overwrite with a mode", "Upload",
        {"local_path": "in/rand.bin", "remote_path": p("up.bin"),
         "overwrite": True, "mode": "0600"}, r"Uploaded")
t.ok(stat.S_IMODE(os.stat(p("up.bin")).st_mode) == 0o600,
     "Upload: mode applied")
ok_call("Download: a .. inside the path is refused", "Download",
        {"remote_path": p("up.bin"), "local_path": "out/../down.bin"},
        r'"\.\." is not allowed', err=True)
ok_call("Download: into the transfer root", "Download",
        {"remote_path": p("up.bin"), "local_path": "down.bin"},
        r"Downloaded 5242880 bytes")
dl = os.path.join(TROOT, "down.bin")
t.ok(os.path.exists(dl) and open(dl, "rb").read() == data,
     "Download: round trip is identical (cmp)")
# several SFTP reads in flight (Download) and large writes (Upload): a size
# that is no multiple of any request, both ways, byte-identical
odd = os.urandom(3 * 1024 * 1024 + 12345)
write(os.path.join(TROOT, "in", "odd.bin"), odd)
ok_call("Upload: 3 MB + 12345 bytes", "Upload",
        {"local_path": "in/odd.bin", "remote_path": p("odd.bin")},
        r"Uploaded 3158073 bytes")
t.ok(open(p("odd.bin"), "rb").read() == odd,
     "Upload: the odd-sized remote copy is identical")
ok_call("Download: 3 MB + 12345 bytes, reads in flight", "Download",
        {"remote_path": p("odd.bin"), "local_path": "odd.bin"},
        r"Downloaded 3158073 bytes")
t.ok(open(os.path.join(TROOT, "odd.bin"), "rb").read() == odd,
     "Download: the odd-sized local copy is identical")
ok_call("Download: an existing local file is not overwritten by default",
        "Download", {"remote_path": p("a.txt"), "local_path": "down.bin"},
        r"exists.*overwrite", err=True)
t.ok(open(dl, "rb").read() == data, "Download: refused overwrite left it")
ok_call("Download: overwrite", "Download",
        {"remote_path": p("a.txt"), "local_path": "down.bin",
         "overwrite": True}, r"Downloaded 24 bytes")
t.ok(open(dl).read() == "line one\nline two\nthree\n",
     "Download: overwritten")
ok_call("Download: ../ escape refused", "Download",
        {"remote_path": p("a.txt"), "local_path": "../escape.txt"},
        r'"\.\." is not allowed', err=True)
ok_call("Download: absolute path outside the root refused", "Download",
        {"remote_path": p("a.txt"), "local_path": TD + "/escape.txt"},
        r"outside the transfer root", err=True)
t.ok(not os.path.exists(os.path.join(TD, "escape.txt")),
     "Download: nothing written outside the root")
os.symlink(TD, os.path.join(TROOT, "lnk"))
ok_call("Download: a symlinked directory is not followed", "Download",
        {"remote_path": p("a.txt"), "local_path": "lnk/escape.txt"},
        r"symbolic link", err=True)
ok_call("Upload: local file missing", "Upload",
        {"local_path": "nope.bin", "remote_path": p("up2.bin")},
        r"No such file", err=True)
ok_call("Download: remote file missing", "Download",
        {"remote_path": p("nope"), "local_path": "x.bin"},
        r"No such file", err=True)
ok_call("Download: remote directory", "Download",
        {"remote_path": p("sub"), "local_path": "x.bin"},
        r"directory", err=True)
c.close()
sys.exit(1 if t.failed else 0)
EOF

# without a transfer root, Upload/Download are refused
bridged_stop >/dev/null 2>&1
if tap_check "bridged starts without a transfer root" bridged_start; then
	out=$("$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init --allow-errors \
	    --call Download "{\"remote_path\":\"$TESTDIR/base/a.txt\",\"local_path\":\"x\"}" 2>&1)
	case $out in
	*"transfer root"*isError*|*isError*"transfer root"*)
		tap_ok "Download refused without a transfer root" ;;
	*)	tap_fail "Download refused without a transfer root" "$out" ;;
	esac
fi

# as in production: stderr is not a regular file, so the ssh worker's
# sandbox limits are all on; Download must still write the local file
bridged_stop >/dev/null 2>&1
mkdir -p "$TESTDIR/troot2"
if bridged_config "transfer root \"$TESTDIR/troot2\"" &&
    { "$BRIDGED" -d -f "$BRIDGED_CONF" </dev/null >/dev/null 2>&1 &
    BRIDGED_PID=$!; } && sleep 0.2; then
	i=0
	while [ $i -lt 100 ] && ! _sock_ready "$MCP_SOCK" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	out=$("$PYTHON" "$MCPCLIENT" --socket "$MCP_SOCK" --init \
	    --call Download "{\"remote_path\":\"$TESTDIR/base/a.txt\",\"local_path\":\"a.txt\"}" 2>&1)
	if cmp -s "$TESTDIR/base/a.txt" "$TESTDIR/troot2/a.txt"; then
		tap_ok "Download works with the full sandbox (stderr not a file)"
	else
		tap_fail "Download works with the full sandbox (stderr not a file)" \
		    "$out"
	fi
else
	tap_fail "bridged starts with stderr on /dev/null"
fi

tap_end
