#!/usr/bin/env bats
# The harness's own process checks, which every crash test relies on: "is
# the killed daemon gone?" must be answered from the state of every thread
# (issue 7: a check that read one status file twice reported daemons
# reaped in between as "still alive 20s after kill -9"). No mount here.

load helpers

setup() {
	HR_TMP=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/hr.XXXXXX")
	HR_BG_PIDS=()
}

teardown() {
	local pid
	for pid in "${HR_BG_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
		wait_exit "$pid" 5 || true
	done
	rm -rf "$HR_TMP"
}

# zombie_leader FIFO — starts a process whose main thread exits at once
# while a second thread waits for a line on FIFO (the shape of a killed
# multithreaded daemon whose last thread is still leaving the kernel); sets
# ZL_PID once the leader is a zombie.
zombie_leader() {
	perl -Mthreads -e 'require "syscall.ph";
		threads->create(sub { my $line = <STDIN>; })->detach;
		syscall(&SYS_exit, 0); # this thread only, not the process' \
		<"$1" 3>&- &
	ZL_PID=$!
	bg_track "$ZL_PID"
	local i line
	for ((i = 0; i < 200; i++)); do
		read -r line <"/proc/$ZL_PID/stat" || return 1
		line=${line##*) }
		[[ ${line%% *} == Z ]] && return 0
		sleep 0.05
	done
	echo "the main thread of $ZL_PID did not exit" >&2
	return 1
}

@test "pid_alive: a process with a zombie leader is alive until its last thread exits" {
	perl -Mthreads -e 'require "syscall.ph"; exit(defined &SYS_exit ? 0 : 1)' 2>/dev/null ||
		skip "perl threads or syscall.ph missing"
	mkfifo "$HR_TMP/fifo"
	exec {fd}<>"$HR_TMP/fifo"
	zombie_leader "$HR_TMP/fifo"
	run cat "/proc/$ZL_PID/task/$ZL_PID/stat"
	assert_output --regexp '\) Z '
	pid_alive "$ZL_PID" || fail "a process with a running thread was reported dead"
	echo go >&"$fd"
	wait_exit "$ZL_PID" 10 || fail "still alive after its last thread was released"
	[[ $HR_EXIT_STATUS == 0 ]] || fail "exit status $HR_EXIT_STATUS"
	exec {fd}>&-
}

@test "pid_alive: a reaped process, a zombie and a missing pid are not alive" {
	sleep 60 &
	local p=$!
	bg_track "$p"
	pid_alive "$p" || fail "a running process was reported dead"
	kill -9 "$p"
	wait_exit "$p" 10 || fail "a killed sleep was reported alive"
	! pid_alive "$p" || fail "a reaped process was reported alive"
	# a zombie that nobody reaps: the child of a parent that never waits.
	# (Not the child of a shell that stops itself: bash reaps a child that
	# exits before the shell's kill -STOP runs, which under load it often
	# does, and then there is no zombie at all.) SIGCHLD is set to default,
	# not inherited, since an ignored SIGCHLD makes the kernel reap at once.
	perl -e '$SIG{CHLD} = "DEFAULT"; defined(my $p = fork) or die "fork: $!";
		if (!$p) { require POSIX; POSIX::_exit(0) }
		$| = 1; print "$p\n"; sleep 1 while 1' >"$HR_TMP/zpid" &
	local parent=$!
	bg_track "$parent"
	local z='' i line=''
	for ((i = 0; i < 200; i++)); do
		[[ -s $HR_TMP/zpid ]] && z=$(<"$HR_TMP/zpid")
		if [[ -n $z ]] && read -r line 2>/dev/null <"/proc/$z/stat"; then
			line=${line##*) }
			[[ ${line%% *} == Z ]] && break
		fi
		sleep 0.05
	done
	[[ ${line%% *} == Z ]] || fail "no zombie to look at"
	! pid_alive "$z" || fail "a zombie was reported alive"
	! pid_alive "" || fail "an empty pid was reported alive"
}
