#!/bin/sh
# evtchn-sim as the test suite runs it.
#
#   sim_test.sh SIM ok [OPTIONS...]    exit 0, "lost: 0", "result: OK"
#   sim_test.sh SIM lost [OPTIONS...]  --inject-loss drops one notification:
#                                      exit 1, "lost: 1" (a ring kick)
#   sim_test.sh SIM backend-dies       the backend kills itself 0.2 s into a
#                                      30 s run: exit 3, reported at once
#   sim_test.sh SIM usage              nonsense options: exit 2, a message
set -u

sim=$1
mode=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() {
	"$sim" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
}

fail() {
	echo "sim_test: FAIL: $*"
	exit 1
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"
}

expect() {
	grep -q -- "$1" "$out" || fail "no line matching '$1'"
}

case $mode in
ok)
	run "$@"
	expect_rc 0
	expect '^lost: 0$'
	expect '^unanswered requests: 0$'
	expect '^result: OK$'
	;;
lost)
	run --inject-loss --drain-timeout 1 "$@"
	expect_rc 1
	expect '^lost: 1$'
	expect 'ring kicks 1,'
	expect '^result: FAILED$'
	;;
backend-dies)
	start=$(date +%s)
	run --duration 30 --backend-die-after 0.2 "$@"
	took=$(($(date +%s) - start))
	expect_rc 3
	expect 'backend process exited (signal 9'
	[ "$took" -lt 15 ] || fail "took ${took} s: the death was not noticed"
	;;
usage)
	for args in "--vcpus 0" "--vcpus 65" "--vcpus two" "--ports 0" \
		"--ports 129" "--duration 0" "--duration -1" "--duration nan" \
		"--abi 3l" "--interval 0" "--timer-period 0" "--bogus" \
		"--dump=yes" "--vcpus" "stray"; do
		# shellcheck disable=SC2086 # split on purpose
		run $args
		expect_rc 2
		expect '^evtchn-sim: '
		expect "Try 'evtchn-sim --help'"
	done
	run --help
	expect_rc 0
	expect '^Usage: evtchn-sim'
	;;
*)
	fail "unknown mode '$mode'"
	;;
esac
echo "sim_test: $mode: OK"
