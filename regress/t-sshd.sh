#!/bin/bash
# t-sshd: the harness itself: a private sshd on 127.0.0.1 with generated
# keys and a strict known_hosts, reachable with ssh_run, stopped by pid.

. "$(dirname "$0")/lib.sh"

if ! tap_check "sshd starts on a free port" sshd_start; then
	tap_end
fi
tap_check "sshd pid $SSHD_PID is alive" kill -0 "$SSHD_PID"
tap_check "sshd listens on 127.0.0.1:$SSHD_PORT" \
    bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSHD_PORT"
tap_check "ssh_run true" ssh_run true

out=$(ssh_run echo hi 2>&1)
if [ "$out" = hi ]; then
	tap_ok "ssh_run echo hi prints hi"
else
	tap_fail "ssh_run echo hi prints hi" "got: $out"
fi

out=$(ssh_run id -un 2>&1)
if [ "$out" = "$SSH_USER" ]; then
	tap_ok "logged in as $SSH_USER"
else
	tap_fail "logged in as $SSH_USER" "got: $out"
fi

# a status travels back
ssh_run 'exit 7' >/dev/null 2>&1
rc=$?
if [ $rc -eq 7 ]; then
	tap_ok "remote exit status comes back"
else
	tap_fail "remote exit status comes back" "got $rc, want 7"
fi

# strict host key checking: a known_hosts with some other key is refused
ssh-keygen -q -t ed25519 -N '' -f "$TESTDIR/other_host" >/dev/null
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$TESTDIR/other_host.pub")" \
    >"$TESTDIR/wrong_known_hosts"
if SSH_KNOWN_HOSTS=$TESTDIR/wrong_known_hosts ssh_run true \
    >"$TESTDIR/wrong.out" 2>&1; then
	tap_fail "a changed host key is refused" "ssh succeeded"
elif grep -q "Host key verification failed" "$TESTDIR/wrong.out"; then
	tap_ok "a changed host key is refused"
else
	tap_fail "a changed host key is refused" "$(cat "$TESTDIR/wrong.out")"
fi

# and an empty known_hosts (unknown host) is refused too
: >"$TESTDIR/empty_known_hosts"
if SSH_KNOWN_HOSTS=$TESTDIR/empty_known_hosts ssh_run true \
    >"$TESTDIR/unknown.out" 2>&1; then
	tap_fail "an unknown host key is refused" "ssh succeeded"
elif grep -q "Host key verification failed" "$TESTDIR/unknown.out"; then
	tap_ok "an unknown host key is refused"
else
	tap_fail "an unknown host key is refused" \
	    "$(cat "$TESTDIR/unknown.out")"
fi

# some other user key is refused
ssh-keygen -q -t ed25519 -N '' -f "$TESTDIR/other_user" >/dev/null
if SSH_USER_KEY=$TESTDIR/other_user ssh_run true \
    >"$TESTDIR/otherkey.out" 2>&1; then
	tap_fail "an unlisted user key is refused" "ssh succeeded"
elif grep -q "Permission denied" "$TESTDIR/otherkey.out"; then
	tap_ok "an unlisted user key is refused"
else
	tap_fail "an unlisted user key is refused" \
	    "$(cat "$TESTDIR/otherkey.out")"
fi

# sftp subsystem answers (bridged's file tools use it)
if echo pwd | sftp -q -b - -F /dev/null -i "$SSH_USER_KEY" \
    -o IdentitiesOnly=yes -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" \
    -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -P "$SSHD_PORT" \
    "$SSH_USER@127.0.0.1" >"$TESTDIR/sftp.out" 2>&1; then
	tap_ok "sftp subsystem works"
else
	tap_fail "sftp subsystem works" "$(cat "$TESTDIR/sftp.out")"
fi

pid=$SSHD_PID
sshd_stop
if kill -0 "$pid" 2>/dev/null; then
	tap_fail "sshd_stop stops sshd" "pid $pid still alive"
else
	tap_ok "sshd_stop stops sshd"
fi
if ssh_run true >/dev/null 2>&1; then
	tap_fail "no ssh after sshd_stop"
else
	tap_ok "no ssh after sshd_stop"
fi

tap_end
