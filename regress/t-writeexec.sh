#!/bin/bash
# t-writeexec: a write must not become exec (issue 11).  A host with
# "allow read, write" and no exec, whose base dir holds the remote user's
# home: Write, Edit, MultiEdit and Upload to the shell startup files and
# ~/.ssh/ are refused, naming the rule, also through a symbolic link in
# base dir and through a startup file that is itself a link (dotfile
# managers); a canary line written to ~/.bashrc never runs with the next
# Grep.  With an exec allow list, .git/hooks/, .git/config and the files
# a listed program loads (Makefile, *.mk) are refused too; a host that
# allows exec freely may write them; `protect exec' adds paths, per host
# and per listed program.  Ordinary files stay writable.
#
# The test sshd runs as the current user, whose home the test cannot
# change.  Where it can (root, mount namespaces), sshd runs in a mount
# namespace of its own with a scratch directory mounted over the home, so
# the real home is never written even when the protection fails.  Where
# it cannot, the real home is used: every file the test might write there
# is saved first and put back when the test ends, and what it writes is
# the file's own text plus a line that only touches a file in $TESTDIR.

. "$(dirname "$0")/lib.sh"

REAL_HOME=$(getent passwd "$(id -un)" | cut -d: -f6)
FAKE_HOME=$TESTDIR/home
SAVED=$TESTDIR/saved
# the files the test may write in the home (relative to it)
HOME_FILES=".bashrc .profile .ssh/authorized_keys .ssh/rc
.config/fish/config.fish .gitconfig .envrc notes-t-writeexec.txt
notes2-t-writeexec.txt"

if [ -z "$REAL_HOME" ] || [ "$REAL_HOME" = / ] || [ ! -d "$REAL_HOME" ]; then
	tap_skip "write protection of the home" "the user has no home"
	tap_end
fi

mkdir -p "$FAKE_HOME/.ssh" "$FAKE_HOME/.config/fish" \
    "$TESTDIR/base/dotfiles" "$SAVED"
: >"$FAKE_HOME/.t-writeexec"
USE_NS=
# WRITEEXEC_REAL_HOME=1 tries the real-home mode where namespaces work
if [ "${WRITEEXEC_REAL_HOME:-0}" != 1 ] && [ "$(id -u)" = 0 ] &&
    command -v unshare >/dev/null 2>&1 &&
    unshare -m --propagation private /bin/sh -c \
    'mount --bind "$1" "$2" && [ -f "$2/.t-writeexec" ]' sh \
    "$FAKE_HOME" "$REAL_HOME" 2>/dev/null; then
	USE_NS=1
	cat >"$TESTDIR/inhome.sh" <<'EOF'
#!/bin/sh
# inhome.sh FAKE REAL CMD...: CMD with FAKE mounted over REAL (the caller
# made this a mount namespace of its own)
fake=$1 real=$2
shift 2
mount --bind "$fake" "$real" || exit 1
exec "$@"
EOF
	SSHD_WRAP="unshare -m --propagation private /bin/sh $TESTDIR/inhome.sh"
	SSHD_WRAP="$SSHD_WRAP $FAKE_HOME $REAL_HOME"
	HOME_LOCAL=$FAKE_HOME
	printf '# the home of t-writeexec'"'"'s sshd\numask 022\n' \
	    >"$FAKE_HOME/.bashrc"
	printf '# profile\n' >"$FAKE_HOME/.profile"
	printf '# keys\n' >"$FAKE_HOME/.ssh/authorized_keys"
	printf '# fish\n' >"$FAKE_HOME/.config/fish/config.fish"
	printf '# zshrc, kept elsewhere\n' >"$TESTDIR/base/dotfiles/zshrc"
	ln -s "$TESTDIR/base/dotfiles/zshrc" "$FAKE_HOME/.zshrc"
	tap_diag "sshd runs with $FAKE_HOME mounted over $REAL_HOME"
else
	HOME_LOCAL=$REAL_HOME
	tap_diag "no mount namespace: the real $REAL_HOME is used; its files" \
	    "are saved in $SAVED and put back at the end"
	for f in $HOME_FILES; do
		n=$(echo "$f" | tr / _)
		if [ -e "$REAL_HOME/$f" ] || [ -L "$REAL_HOME/$f" ]; then
			cp -a "$REAL_HOME/$f" "$SAVED/$n" || {
				tap_fail "cannot save $REAL_HOME/$f"
				tap_end
			}
		else
			: >"$SAVED/$n.absent"
		fi
	done
fi
rm -f "$FAKE_HOME/.t-writeexec"

# put the real home back as it was, whatever happened
_wx_restore()
{
	local f n

	[ -n "$USE_NS" ] && return 0
	for f in $HOME_FILES; do
		n=$(echo "$f" | tr / _)
		if [ -e "$SAVED/$n.absent" ]; then
			rm -f "$REAL_HOME/$f"
		elif [ -e "$SAVED/$n" ] || [ -L "$SAVED/$n" ]; then
			if [ -L "$SAVED/$n" ] || [ -L "$REAL_HOME/$f" ] ||
			    ! cmp -s "$SAVED/$n" "$REAL_HOME/$f"; then
				rm -f "$REAL_HOME/$f"
				cp -a "$SAVED/$n" "$REAL_HOME/$f"
			else
				# rewritten with its own text: its time back
				touch -r "$SAVED/$n" "$REAL_HOME/$f"
			fi
		fi
		# temp files of a write that failed half-way
		rm -f "$(dirname "$REAL_HOME/$f")/.$(basename "$f").bridged-"*
	done
}
trap '_wx_rc=$?; _wx_restore; (exit $_wx_rc); _regress_cleanup' EXIT

export SSHD_WRAP
if ! tap_check "sshd starts" sshd_start; then
	tap_end
fi

mkdir -p "$TESTDIR/troot" "$TESTDIR/base/repo/.git/hooks" \
    "$TESTDIR/base/sub"
printf '[core]\n\tbare = false\n' >"$TESTDIR/base/repo/.git/config"
ln -s "$REAL_HOME/.bashrc" "$TESTDIR/base/lnk"
ln -s "$REAL_HOME" "$TESTDIR/base/hd"

hostblock()
{
	cat <<EOF
host "$1" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir "$2"
	allow $3
$4
}
EOF
}

# the cases, in Python; PHASE 1 or 2 says which hosts are configured
wx_cases()
{
	"$PYTHON" - <<'EOF'
import glob
import os
import re
import sys

sys.path.insert(0, os.environ["REGRESS_DIR"])
from mcpclient import Client, Tap

TD = os.environ["TESTDIR"]
BASE = os.path.join(TD, "base")
HOME = os.environ["REAL_HOME"]          # the home as the host sees it
LOCAL = os.environ["HOME_LOCAL"]        # where this script sees it
NS = os.environ.get("USE_NS") == "1"
PHASE = os.environ["PHASE"]
t = Tap()
c = Client(socket_path=os.environ["MCP_SOCK"], timeout=60)
c.initialize()

STARTUP = r"shell startup file the host runs at login"
RULE = r"protect exec"


def canary(name):
    # what a successful attack would add: it only touches $TESTDIR
    return ("\n# t-writeexec canary: this line must never be written\n"
            "[ -d %s ] && : >%s/ran-%s\n" % (TD, TD, name))


def home(rel):
    return os.path.join(HOME, rel)


def local(rel):
    return os.path.join(LOCAL, rel)


def text_of(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def call(tool, args):
    r = c.call_tool(tool, args, timeout=60)
    text = "".join(b.get("text", "") for b in r.get("content", [])
                   if b.get("type") == "text")
    return r, text


def refused(desc, host, tool, args, want, unchanged=()):
    before = [(p, text_of(p), os.path.islink(p)) for p in unchanged]
    a = dict(args)
    a["host"] = host
    try:
        r, text = call(tool, a)
    except Exception as e:
        t.ok(False, desc, "%s: %s" % (type(e).__name__, e))
        return
    good = bool(r.get("isError")) and re.search(want, text) is not None
    after = [(p, text_of(p), os.path.islink(p)) for p in unchanged]
    t.ok(good and before == after, desc,
         "isError=%r text=%r" % (r.get("isError"), text[:600]),
         "unchanged=%r" % (before == after,))


def allowed(desc, host, tool, args):
    a = dict(args)
    a["host"] = host
    try:
        r, text = call(tool, a)
    except Exception as e:
        t.ok(False, desc, "%s: %s" % (type(e).__name__, e))
        return
    t.ok(not r.get("isError"), desc, "text=%r" % text[:600])


def put(name, data):
    with open(os.path.join(TD, "troot", name), "w") as f:
        f.write(data)


def no_canary_ran(desc):
    # the helpers (grep, awk, mv) start through the user's shell
    call("Grep", {"host": "wo", "pattern": "canary", "path": BASE})
    call("Read", {"host": "wo", "file_path": os.path.join(BASE, "plain.txt"),
                  "offset": 1, "limit": 1})
    ran = glob.glob(os.path.join(TD, "ran-*"))
    t.ok(not ran, desc, "ran: %r" % ran)


bashrc = text_of(local(".bashrc"))
linked = os.path.islink(local(".bashrc"))
orig = (bashrc or b"").decode("utf-8", "replace")
first = orig.splitlines()[0] if orig.strip() else None

if PHASE == "1":
    # --- no exec: the startup files and ~/.ssh/ ---------------------
    W = [local(".bashrc")]
    refused("Write ~/.bashrc refused, naming the rule", "wo", "Write",
            {"file_path": home(".bashrc"), "content": orig + canary("w")},
            STARTUP + r".*\"allow exec\" is not set for host \"wo\".*" +
            RULE, W)
    if first is not None and not linked:
        refused("Edit ~/.bashrc refused", "wo", "Edit",
                {"file_path": home(".bashrc"), "old_string": first,
                 "new_string": first + canary("e")}, STARTUP, W)
        refused("MultiEdit ~/.bashrc refused", "wo", "MultiEdit",
                {"file_path": home(".bashrc"), "edits": [
                    {"old_string": first,
                     "new_string": first + canary("m")}]}, STARTUP, W)
    else:
        t.skip("Edit ~/.bashrc refused", "~/.bashrc is empty or a link")
        t.skip("MultiEdit ~/.bashrc refused", "~/.bashrc is empty or a link")
    put("bashrc", orig + canary("u"))
    refused("Upload onto ~/.bashrc refused", "wo", "Upload",
            {"local_path": "bashrc", "remote_path": home(".bashrc"),
             "overwrite": True}, STARTUP, W)
    refused("Write ~/.profile refused", "wo", "Write",
            {"file_path": home(".profile"), "content": canary("p")},
            STARTUP, [local(".profile")])
    if os.path.isdir(local(".ssh")):
        K = [local(".ssh/authorized_keys"), local(".ssh/rc")]
        refused("Write ~/.ssh/authorized_keys refused", "wo", "Write",
                {"file_path": home(".ssh/authorized_keys"),
                 "content": "ssh-ed25519 AAAA canary\n"}, r"\.ssh/.*" + RULE,
                K)
        refused("Write a new ~/.ssh/rc refused", "wo", "Write",
                {"file_path": home(".ssh/rc"), "content": canary("rc")},
                r"\.ssh/", K)
        put("keys", "ssh-ed25519 AAAA canary\n")
        refused("Upload to ~/.ssh/authorized_keys refused", "wo", "Upload",
                {"local_path": "keys",
                 "remote_path": home(".ssh/authorized_keys"),
                 "overwrite": True}, r"\.ssh/", K)
    else:
        for d in ("Write ~/.ssh/authorized_keys refused",
                  "Write a new ~/.ssh/rc refused",
                  "Upload to ~/.ssh/authorized_keys refused"):
            t.skip(d, "no ~/.ssh")
    if os.path.isdir(local(".config/fish")):
        refused("Write ~/.config/fish/config.fish refused", "wo", "Write",
                {"file_path": home(".config/fish/config.fish"),
                 "content": "echo canary\n"}, r"\.config/fish/",
                [local(".config/fish/config.fish")])
    else:
        t.skip("Write ~/.config/fish/config.fish refused", "no fish dir")
    refused("relative .bashrc in a base dir that is the home refused",
            "homebase", "Write", {"file_path": ".bashrc",
                                  "content": orig + canary("rel")},
            STARTUP, W)

    # --- through symbolic links -------------------------------------
    refused("Write to a link in base dir pointing at ~/.bashrc refused",
            "wo", "Write", {"file_path": os.path.join(BASE, "lnk"),
                            "content": orig + canary("lw")},
            STARTUP, W + [os.path.join(BASE, "lnk")])
    if first is not None and not linked:
        refused("Edit through a link to ~/.bashrc refused", "wo", "Edit",
                {"file_path": os.path.join(BASE, "lnk"), "old_string": first,
                 "new_string": first + canary("le")}, STARTUP, W)
    else:
        t.skip("Edit through a link to ~/.bashrc refused", "no first line")
    refused("Write through a linked home directory refused", "wo", "Write",
            {"file_path": os.path.join(BASE, "hd", ".bashrc"),
             "content": orig + canary("hd")}, STARTUP, W)
    if NS:
        Z = [os.path.join(BASE, "dotfiles", "zshrc")]
        refused("Write to the file ~/.zshrc links to refused", "wo",
                "Write", {"file_path": Z[0], "content": canary("z")},
                r"\.zshrc", Z)
        refused("Edit of the file ~/.zshrc links to refused", "wo", "Edit",
                {"file_path": Z[0], "old_string": "zshrc",
                 "new_string": "zshrc" + canary("ze")}, r"\.zshrc", Z)
    else:
        t.skip("Write to the file ~/.zshrc links to refused", "real home")
        t.skip("Edit of the file ~/.zshrc links to refused", "real home")

    # --- ordinary files stay writable -------------------------------
    allowed("Write an ordinary file in the home", "wo", "Write",
            {"file_path": home("notes-t-writeexec.txt"), "content": "n\n"})
    allowed("Write an ordinary file relative to the home", "homebase",
            "Write", {"file_path": "notes2-t-writeexec.txt",
                      "content": "n\n"})
    allowed("Write an ordinary file in base dir", "wo", "Write",
            {"file_path": os.path.join(BASE, "plain.txt"),
             "content": "plain\n"})
    allowed("Edit an ordinary file", "wo", "Edit",
            {"file_path": os.path.join(BASE, "plain.txt"),
             "old_string": "plain", "new_string": "still plain"})
    put("up.txt", "up\n")
    allowed("Upload an ordinary file", "wo", "Upload",
            {"local_path": "up.txt",
             "remote_path": os.path.join(BASE, "up.txt")})
    t.ok(text_of(local(".bashrc")) == bashrc, "~/.bashrc is unchanged")
    left = glob.glob(local("..bashrc.bridged-*")) + \
        glob.glob(local(".ssh/.*.bridged-*"))
    t.ok(not left, "no temp file left next to a refused target", repr(left))
    no_canary_ran("no canary line ran with the next Grep and Read")

    # --- an exec allow list: git's and make's code files too ---------
    R = os.path.join(BASE, "repo")
    refused("exec allow: Write .git/hooks/pre-commit refused", "gx",
            "Write", {"file_path": os.path.join(R, ".git/hooks/pre-commit"),
                      "content": "#!/bin/sh\n" + canary("hook")},
            r"git.*exec allow.*" + RULE,
            [os.path.join(R, ".git/hooks/pre-commit")])
    refused("exec allow: Edit .git/config refused", "gx", "Edit",
            {"file_path": os.path.join(R, ".git/config"),
             "old_string": "[core]",
             "new_string": "[core]\n\tfsmonitor = touch %s/ran-fsm\n" % TD},
            r"git", [os.path.join(R, ".git/config")])
    refused("exec allow: Write Makefile refused", "gx", "Write",
            {"file_path": os.path.join(BASE, "Makefile"),
             "content": "all:\n\ttouch %s/ran-make\n" % TD}, r"make",
            [os.path.join(BASE, "Makefile")])
    refused("exec allow: Write sub/rules.mk refused", "gx", "Write",
            {"file_path": os.path.join(BASE, "sub", "rules.mk"),
             "content": "x:\n"}, r"make",
            [os.path.join(BASE, "sub", "rules.mk")])
    refused("exec allow: Write ~/.gitconfig refused", "gx", "Write",
            {"file_path": home(".gitconfig"), "content": "[core]\n"},
            r"git", [local(".gitconfig")])
    refused("exec allow: Write ~/.bashrc refused (the list is bypassed "
            "through it)", "gx", "Write",
            {"file_path": home(".bashrc"), "content": orig + canary("gx")},
            STARTUP + r".*exec allow", W)
    allowed("exec allow: Write an ordinary file", "gx", "Write",
            {"file_path": os.path.join(BASE, "readme.txt"), "content": "r\n"})
    allowed("exec allow: package.json is fine without npm listed", "gx",
            "Write", {"file_path": os.path.join(BASE, "package.json"),
                      "content": "{}\n"})

    # --- exec allowed freely: nothing to protect ----------------------
    allowed("allow exec: Write .git/hooks/pre-commit", "fx", "Write",
            {"file_path": os.path.join(R, ".git/hooks/pre-commit"),
             "content": "#!/bin/sh\nexit 0\n"})
    if not linked:
        allowed("allow exec: Write ~/.bashrc (its own text)", "fx", "Write",
                {"file_path": home(".bashrc"), "content": orig})
        t.ok(text_of(local(".bashrc")) == bashrc,
             "allow exec: ~/.bashrc holds its own text")
    else:
        t.skip("allow exec: Write ~/.bashrc (its own text)", "a link")
        t.skip("allow exec: ~/.bashrc holds its own text", "a link")
else:
    # --- protect exec ------------------------------------------------
    refused("protect exec: a listed path refused, naming the line", "px",
            "Write", {"file_path": os.path.join(BASE, "deploy.sh"),
                      "content": "echo canary\n"},
            r"deploy\.sh.*" + RULE + r".*line \d+",
            [os.path.join(BASE, "deploy.sh")])
    refused("protect exec: ~/.envrc refused", "px", "Write",
            {"file_path": home(".envrc"), "content": canary("envrc")},
            r"\.envrc.*" + RULE, [local(".envrc")])
    refused("protect exec: a listed directory covers what is below",
            "px", "Write", {"file_path": os.path.join(BASE, "hooks", "x"),
                            "content": "x\n"}, RULE,
            [os.path.join(BASE, "hooks", "x")])
    refused("protect exec: a name pattern anywhere", "px", "Write",
            {"file_path": os.path.join(BASE, "sub", "app.service"),
             "content": "[Service]\n"}, r"\*\.service",
            [os.path.join(BASE, "sub", "app.service")])
    refused("protect exec: the built-in list stays", "px", "Write",
            {"file_path": home(".bashrc"), "content": orig + canary("px")},
            STARTUP, [local(".bashrc")])
    allowed("protect exec: an unlisted file is writable", "px", "Write",
            {"file_path": os.path.join(BASE, "other.sh"), "content": "x\n"})
    refused("protect exec for a listed program refused", "pj", "Write",
            {"file_path": os.path.join(BASE, "justfile"),
             "content": "x:\n\ttouch ran\n"}, r"just",
            [os.path.join(BASE, "justfile")])
    allowed("protect exec for: names are case-sensitive", "pj", "Write",
            {"file_path": os.path.join(BASE, "Justfile"), "content": "x:\n"})
    allowed("protect exec for: Makefile is fine when make is not listed",
            "pj", "Write", {"file_path": os.path.join(BASE, "Makefile"),
                            "content": "x:\n"})
    allowed("protect exec on a host that allows exec: writable", "px2",
            "Write", {"file_path": os.path.join(BASE, "deploy.sh"),
                      "content": "echo ok\n"})
    no_canary_ran("no canary line ran")
sys.exit(t.done())
EOF
}

# only what the code before issue 11 parses: the same config shows the
# bug on an old build
EXTRA="transfer root \"$TESTDIR/troot\"
$(hostblock wo / "read, write")
$(hostblock homebase "$REAL_HOME" "read, write")
$(hostblock gx / "read, write, exec" '	exec allow { "git", "make" }')
$(hostblock fx / "read, write, exec")"
if ! tap_check "bridged starts" bridged_start "$EXTRA"; then
	tap_end
fi

export REGRESS_DIR TESTDIR REAL_HOME HOME_LOCAL USE_NS
PHASE=1
export PHASE
tap_run wx_cases

# the new keyword: protect exec, for every host and per listed program
bridged_stop
EXTRA="transfer root \"$TESTDIR/troot\"
$(hostblock px / "read, write" "	protect exec { \"$TESTDIR/base/deploy.sh\",
	    \"~/.envrc\", \"$TESTDIR/base/hooks/\", \"*.service\" }")
$(hostblock pj / "read, write, exec" '	exec allow { "just" }
	protect exec for "just" { "justfile" }')
$(hostblock px2 / "read, write, exec" \
    "	protect exec { \"$TESTDIR/base/deploy.sh\" }")"
if tap_check "bridged starts with protect exec" bridged_start "$EXTRA"; then
	PHASE=2
	tap_run wx_cases
fi
tap_end
