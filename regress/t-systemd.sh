#!/bin/bash
# t-systemd: etc/bridged.service.  systemd-analyze security rates it at
# most 4.5; then bridged runs under the unit's own restrictions, read
# from the file, with unshare(1) and setpriv(1) standing in for PID 1:
# CapabilityBoundingSet, NoNewPrivileges, UMask, ProtectSystem=strict
# with ReadWritePaths, ProtectHome, PrivateTmp, PrivateDevices,
# ProtectKernelTunables, ProtectProc/ProcSubset and RuntimeDirectory,
# with the unit's default paths (sockets in /run/bridged, database and
# log under /var) in a mount namespace of its own.  It starts, serves a
# Bash call, answers bridgectl, reloads and stops with status 0, and
# /proc says its bounding set, no_new_privs and umask are the unit's.
# The seccomp-based directives (RestrictAddressFamilies, ...) are not
# emulated; systemd-analyze rates them.  Needs root for the namespace.

. "$(dirname "$0")/lib.sh"

UNIT=$TOP_DIR/etc/bridged.service

if command -v systemd-analyze >/dev/null; then
	systemd-analyze security --offline=true "$UNIT" \
	    >"$TESTDIR/analyze.out" 2>&1
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' \
	    "$TESTDIR/analyze.out")
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 4.5) }'
	then
		tap_ok "systemd-analyze security rates the unit $score (<= 4.5)"
	else
		tap_fail "systemd-analyze security rates the unit <= 4.5" \
		    "$(tail -n 3 "$TESTDIR/analyze.out")"
	fi
else
	tap_skip "systemd-analyze security" "systemd-analyze is not installed"
fi

# unit VALUE of the last KEY= line (systemd: later lines win)
unit()
{
	sed -n "s/^$1=//p" "$UNIT" | tail -n 1
}

[ "$(unit RuntimeDirectory)" = bridged ] &&
    tap_ok "RuntimeDirectory=bridged" ||
    tap_fail "RuntimeDirectory=bridged" "$(unit RuntimeDirectory)"
case $(unit ExecStart) in
*" -d "*)	tap_ok "ExecStart runs bridged in the foreground (-d)" ;;
*)		tap_fail "ExecStart runs bridged in the foreground (-d)" ;;
esac
# the daemon's defaults are the unit's directory
strings "$BRIDGED" | grep -qx "/run/bridged/mcp.sock" &&
    strings "$BRIDGED" | grep -qx "/run/bridged/ctl.sock" &&
    tap_ok "both default sockets are in /run/bridged" ||
    tap_fail "both default sockets are in /run/bridged"

# make install: the unit into the systemd unit directory, naming the
# programs where they went, and the example config beside /etc's
dest=$TESTDIR/dest
if make -s -C "$TOP_DIR" install DESTDIR="$dest" PREFIX=/usr \
    SYSTEMDUNITDIR=/lib/systemd/system >"$TESTDIR/install.out" 2>&1 &&
    [ -x "$dest/usr/sbin/bridged" ] && [ -x "$dest/usr/sbin/bridgectl" ] &&
    [ -x "$dest/usr/libexec/bridged-ssh" ] &&
    [ -f "$dest/etc/examples/bridged.conf" ] &&
    [ ! -e "$dest/etc/bridged.conf" ] &&
    grep -qx "ExecStart=/usr/sbin/bridged -d -f /etc/bridged.conf" \
    "$dest/lib/systemd/system/bridged.service"; then
	tap_ok "make install: unit in the unit directory, example config, the ssh workers' program in libexec"
else
	tap_fail "make install: unit in the unit directory, example config" \
	    "$(cat "$TESTDIR/install.out"; find "$dest" -type f)"
fi
rm -rf "$dest"
if make -s -C "$TOP_DIR" install DESTDIR="$dest" SYSTEMDUNITDIR= \
    >"$TESTDIR/install.out" 2>&1 && ! find "$dest" -name bridged.service |
    grep -q . && grep -q "no systemd unit directory" "$TESTDIR/install.out"
then
	tap_ok "make install without a unit directory says so, installs none"
else
	tap_fail "make install without a unit directory" \
	    "$(cat "$TESTDIR/install.out")"
fi
rm -rf "$dest"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null ||
    ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null; then
	tap_skip "bridged under the unit's restrictions" \
	    "needs root, setpriv, unshare and nsenter"
	tap_end
fi
if ! unshare --mount true 2>"$TESTDIR/unshare.err"; then
	tap_skip "bridged under the unit's restrictions" \
	    "unshare --mount: $(cat "$TESTDIR/unshare.err")"
	tap_end
fi

sshd_start || { tap_fail "sshd starts"; tap_end; }

# the config: the example's paths, which the unit's ReadWritePaths name
cat >"$TESTDIR/bridged.conf" <<EOF
user "nobody"
audit database "/var/db/bridged/audit.db"
log file "/var/log/bridged/bridge.log"
host "local" {
	address "127.0.0.1" port $SSHD_PORT
	user "$SSH_USER"
	identity "$SSH_USER_KEY"
	known hosts "$SSH_KNOWN_HOSTS"
	base dir "$TESTDIR/base"
	allow read, write, exec
}
EOF
mkdir -p "$TESTDIR/base"

caps=$(unit CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g')
bset="-all"
for c in $caps; do
	bset="$bset,+$c"
done
nnp=
[ "$(unit NoNewPrivileges)" = yes ] && nnp=--no-new-privs
umask_v=$(unit UMask)
rtmode=$(unit RuntimeDirectoryMode)
rwpaths=$(unit ReadWritePaths)

# what PID 1 would set up, then exec bridged as the unit's ExecStart does
cat >"$TESTDIR/pid1.sh" <<'EOF'
set -e
TD=$1; RW=$2; RTMODE=$3; UMASK=$4; BSET=$5; NNP=$6; BRIDGED=$7; CONF=$8
mount --make-rprivate /
# PrivateTmp, keeping the test's own directory where it was
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/stage
mount --rbind "$TD" /run/stage
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p "$TD"
mount --rbind /run/stage "$TD"
# the run's ssh keys and known hosts live beside the test directory
if [ -n "${REGRESS_SSH:-}" ]; then
	mkdir -p "$REGRESS_SSH"
	mount --rbind /run/stage-ssh "$REGRESS_SSH"
fi
umount -l /run/stage
rmdir /run/stage
[ -d /var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs /var/tmp
# RuntimeDirectory
mkdir -m "$RTMODE" /run/bridged
# /var: the unit's ReadWritePaths exist, the rest of it is not ours
mount -t tmpfs -o mode=0755 tmpfs /var
mkdir -p /var/empty /var/tmp
chmod 1777 /var/tmp
ln -s /run /var/run
for p in $RW; do
	mkdir -p "$p"
done
# PrivateDevices: the pseudo devices only
mount -t tmpfs -o mode=0755,nosuid tmpfs /dev
mknod -m 0666 /dev/null c 1 3
mknod -m 0666 /dev/zero c 1 5
mknod -m 0666 /dev/full c 1 7
mknod -m 0666 /dev/random c 1 8
mknod -m 0666 /dev/urandom c 1 9
mknod -m 0666 /dev/tty c 5 0
mkdir /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# ProtectProc=invisible, ProcSubset=pid
mount -t proc -o hidepid=invisible,subset=pid proc /proc
# ProtectHome
for h in /home /root; do
	[ -d "$h" ] && mount -t tmpfs -o ro,mode=0000 tmpfs "$h"
done
# ProtectSystem=strict (and ProtectKernelTunables): all read-only but
# the ReadWritePaths, the runtime directory, /dev, /tmp and /proc
for p in $RW /run/bridged; do
	mount --bind "$p" "$p"
done
keep=" $RW /run/bridged /dev /dev/shm /dev/pts /tmp /var/tmp /proc $TD "
awk '{ print $5 }' /proc/self/mountinfo | sort -u | while read -r m; do
	case "$keep" in
	*" $m "*)	continue ;;
	esac
	case $m in
	/proc/*|/dev/*)	continue ;;
	esac
	mount -o remount,bind,ro "$m" 2>/dev/null || true
done
umask "$UMASK"
# ExecStartPre, then ExecStart
setpriv $NNP --bounding-set "$BSET" --inh-caps=-all "$BRIDGED" -n -f "$CONF"
exec setpriv $NNP --bounding-set "$BSET" --inh-caps=-all \
    "$BRIDGED" -d -f "$CONF"
EOF

# the ssh directory of the run sits outside $TESTDIR: stage it too
REGRESS_SSH=$(dirname "$SSH_USER_KEY")
export REGRESS_SSH
sed -i 's|^mount --rbind "\$TD" /run/stage$|&\nmkdir /run/stage-ssh; mount --rbind "$REGRESS_SSH" /run/stage-ssh|' \
    "$TESTDIR/pid1.sh"

# the binary as installed would be, where the unit's PrivateTmp and
# ProtectHome do not hide it (a clone under /tmp or /root would be); the
# ssh workers' program in the libexec beside sbin, as make install puts
# it (bridged finds it from its own directory)
mkdir -p "$TESTDIR/sbin" "$TESTDIR/libexec"
cp "$BRIDGED" "$TESTDIR/sbin/bridged"
cp "$(dirname "$BRIDGED")/bridged-ssh" "$TESTDIR/libexec/bridged-ssh"
cp "$BRIDGECTL" "$TESTDIR/sbin/bridgectl"
CTL_IN=$TESTDIR/sbin/bridgectl
cp "$MCPCLIENT" "$TESTDIR/sbin/mcpclient.py"
MCP_IN=$TESTDIR/sbin/mcpclient.py
unshare --mount bash "$TESTDIR/pid1.sh" "$TESTDIR" "$rwpaths" "$rtmode" \
    "$umask_v" "$bset" "$nnp" "$TESTDIR/sbin/bridged" \
    "$TESTDIR/bridged.conf" \
    </dev/null >"$TESTDIR/bridged.log" 2>&1 &
BRIDGED_PID=$!
export BRIDGED_PID

# inside: run a command in the daemon's mount namespace
inside()
{
	nsenter -t "$BRIDGED_PID" -m -- "$@"
}
i=0
up=
while [ $i -lt 300 ] && kill -0 "$BRIDGED_PID" 2>/dev/null; do
	if inside test -S /run/bridged/ctl.sock 2>/dev/null &&
	    inside "$CTL_IN" show hosts >/dev/null 2>&1; then
		up=1
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
if [ -n "$up" ]; then
	tap_ok "bridged starts under the unit's restrictions"
else
	tap_fail "bridged starts under the unit's restrictions" \
	    "$(tail -n 20 "$TESTDIR/bridged.log")"
	tap_end
fi

st=/proc/$BRIDGED_PID/status
want=$(capsh --decode=0 >/dev/null 2>&1 && echo ok)
bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "$st")
if [ -n "$want" ]; then
	got=$(capsh --decode="$bnd" | sed 's/.*=//' | tr ',' '\n' | sort |
	    tr '\n' ' ')
	exp=$(for c in $(unit CapabilityBoundingSet); do echo "$c"; done |
	    tr 'A-Z' 'a-z' | sort | tr '\n' ' ')
	[ "$got" = "$exp" ] &&
	    tap_ok "its bounding set is the unit's: $got" ||
	    tap_fail "its bounding set is the unit's" "got $got, want $exp"
fi
[ "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "$st")" = 1 ] &&
    tap_ok "no_new_privs is set" || tap_fail "no_new_privs is set"
[ "$(sed -n 's/^Umask:[[:space:]]*//p' "$st")" = "$umask_v" ] &&
    tap_ok "umask $umask_v" || tap_fail "umask $umask_v" "$(grep Umask "$st")"

inside /usr/bin/env python3 "$MCP_IN" -s /run/bridged/mcp.sock --init \
    --call Bash '{"command":"echo confined"}' >"$TESTDIR/call.out" 2>&1
grep -q confined "$TESTDIR/call.out" &&
    tap_ok "a Bash call through the default socket /run/bridged/mcp.sock" ||
    tap_fail "a Bash call through /run/bridged/mcp.sock" \
    "$(cat "$TESTDIR/call.out")"
inside "$CTL_IN" verify >"$TESTDIR/verify.out" 2>&1 &&
    grep -q "records verified" "$TESTDIR/verify.out" &&
    tap_ok "the audit database under /var/db/bridged verifies" ||
    tap_fail "the audit database verifies" "$(cat "$TESTDIR/verify.out")"
inside test -s /var/log/bridged/bridge.log &&
    tap_ok "the log file is written under /var/log/bridged" ||
    tap_fail "the log file is written under /var/log/bridged"
mode=$(inside stat -c %a /var/db/bridged/audit.db)
[ "$mode" = 600 ] && tap_ok "the database file is mode 0600 (UMask)" ||
    tap_fail "the database file is mode 0600 (UMask)" "mode $mode"
inside "$CTL_IN" reload >"$TESTDIR/reload.out" 2>&1 &&
    tap_ok "reload" || tap_fail "reload" "$(cat "$TESTDIR/reload.out")"

kill -TERM "$BRIDGED_PID"
i=0
while kill -0 "$BRIDGED_PID" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait "$BRIDGED_PID"
rc=$?
BRIDGED_PID=
[ $rc -eq 0 ] && tap_ok "SIGTERM: exits 0" ||
    tap_fail "SIGTERM: exits 0 (status $rc)" \
    "$(tail -n 20 "$TESTDIR/bridged.log")"
if grep -qi "fatal\|permission denied\|read-only" "$TESTDIR/bridged.log"
then
	tap_fail "nothing was refused it" "$(grep -i "fatal\|denied\|read-only" \
	    "$TESTDIR/bridged.log" | head -5)"
else
	tap_ok "nothing was refused it"
fi
tap_end
