#!/usr/bin/env bats
# Permissions (issue 7): with allow_other the kernel enforces the cells'
# modes (default_permissions is added unless -o no_default_permissions);
# chown and chgrp follow Linux's rules with or without it. The other user
# is nobody (setpriv); these tests need root.

# The tsh snippets are single-quoted on purpose: they expand their own $1...
# shellcheck disable=SC2016
load helpers

# as_nobody CMD... — runs CMD as nobody:nogroup (no other groups)
as_nobody() {
	timeout -k 5 "$HR_TIMEOUT" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}

setup() {
	[[ $(id -u) == 0 ]] || skip "needs root (to act as another user)"
	hr_setup
	# nobody must be able to reach the mountpoint: the test's own
	# directory is private, so mount in a traversable one
	unmount_fs
	HR_PERM_DIR=$(mktemp -d /tmp/hrperm.XXXXXX)
	chmod 0755 "$HR_PERM_DIR"
	HR_MNT=$HR_PERM_DIR/mnt
	M=$HR_MNT
	mkdir "$HR_MNT"
	mount_fs
}

teardown() {
	hr_teardown
	[[ -n ${HR_PERM_DIR:-} ]] && ! is_mounted "$HR_MNT" && rm -rf "$HR_PERM_DIR"
	return 0
}

@test "allow_other turns default_permissions on: the stored modes are enforced" {
	unmount_fs
	start_daemon "$HR_MNT" "data_dir=$HR_DATA,allow_other" "$HR_LOG"
	HR_PID=$HR_LAST_PID
	wait_mounted "$HR_MNT" "$HR_PID"
	grep -E " $HR_MNT fuse" /proc/mounts | grep -q default_permissions ||
		fail "default_permissions not in the mount options: $(grep " $HR_MNT " /proc/mounts)"
	t mkdir -p "$M/t/r/cf"
	tsh 'umask 077; echo secret > "$1"; umask 022; echo public > "$2"' "$M/t/r/cf/private" "$M/t/r/cf/public"
	run as_nobody cat "$M/t/r/cf/public"
	assert_success
	assert_output "public"
	run as_nobody cat "$M/t/r/cf/private"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody sh -c 'echo x >> "$1"' sh "$M/t/r/cf/public"
	assert_failure
	assert_output --partial "Permission denied"
	# directories belong to the mounting user: others cannot create
	run as_nobody sh -c 'echo x > "$1"' sh "$M/t/r/cf/mine"
	assert_failure
	run t chmod 0666 "$M/t/r/cf/public"
	assert_success
	run as_nobody sh -c 'echo appended >> "$1"' sh "$M/t/r/cf/public"
	assert_success
	run as_nobody chmod 0777 "$M/t/r/cf/public"
	assert_failure
	assert_output --partial "Operation not permitted"
	# the modes are stored: after a remount, still enforced
	unmount_fs
	start_daemon "$HR_MNT" "data_dir=$HR_DATA,allow_other" "$HR_LOG"
	HR_PID=$HR_LAST_PID
	wait_mounted "$HR_MNT" "$HR_PID"
	run as_nobody cat "$M/t/r/cf/private"
	assert_failure
	run as_nobody cat "$M/t/r/cf/public"
	assert_output $'public\nappended'
}

@test "allow_other,no_default_permissions leaves checks to the file system" {
	unmount_fs
	start_daemon "$HR_MNT" "data_dir=$HR_DATA,allow_other,no_default_permissions" "$HR_LOG"
	HR_PID=$HR_LAST_PID
	wait_mounted "$HR_MNT" "$HR_PID"
	! grep -E " $HR_MNT fuse" /proc/mounts | grep -q default_permissions ||
		fail "default_permissions is on"
	t mkdir -p "$M/t/r/cf"
	tsh 'umask 077; echo secret > "$1"' "$M/t/r/cf/private"
	run as_nobody cat "$M/t/r/cf/private"
	assert_success
	assert_output "secret"
	# chown is still Linux's: only root gives a file away
	run as_nobody chown nobody "$M/t/r/cf/private"
	assert_failure
	assert_output --partial "Operation not permitted"
}

@test "chown and chgrp follow Linux rules (also without default_permissions)" {
	unmount_fs
	start_daemon "$HR_MNT" "data_dir=$HR_DATA,allow_other,no_default_permissions" "$HR_LOG"
	HR_PID=$HR_LAST_PID
	wait_mounted "$HR_MNT" "$HR_PID"
	t mkdir -p "$M/t/r/cf"
	tsh 'echo v > "$1"' "$M/t/r/cf/q"
	# root gives it to nobody
	run t chown 65534:65534 "$M/t/r/cf/q"
	assert_success
	run t stat -c %u:%g "$M/t/r/cf/q"
	assert_output "65534:65534"
	# the owner may not give it away, nor pick a group it is not in
	run as_nobody chown 0 "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "Operation not permitted"
	run as_nobody chgrp 0 "$M/t/r/cf/q"
	assert_failure
	assert_output --partial "Operation not permitted"
	# its own group is fine, and so are its mode and times
	run as_nobody chgrp 65534 "$M/t/r/cf/q"
	assert_success
	run as_nobody chmod 0600 "$M/t/r/cf/q"
	assert_success
	run as_nobody touch -d '2001-02-03 04:05:06' "$M/t/r/cf/q"
	assert_success
	# another user (not the owner) may not chmod it
	tsh 'echo w > "$1"' "$M/t/r/cf/roots"
	run as_nobody chmod 0777 "$M/t/r/cf/roots"
	assert_failure
	assert_output --partial "Operation not permitted"
	remount_fs
	run t stat -c '%u:%g %a %Y' "$M/t/r/cf/q"
	assert_output "65534:65534 600 $(date -d '2001-02-03 04:05:06' +%s)"
}
