#!/bin/sh
# evtchn-sim as the test suite runs it.
#
#   sim_test.sh SIM ok [OPTIONS...]    exit 0, "lost: 0", "result: OK";
#                                      unless --msi 0, MSIs sent and
#                                      delivered on each PIRQ, none lost
#   sim_test.sh SIM lost [OPTIONS...]  --inject-loss drops one notification:
#                                      exit 1, "lost: 1" (a ring kick)
#   sim_test.sh SIM lost-msi [OPT...]  --inject-loss=msi: the device drops
#                                      its first MSI: exit 1, "lost: 1" (an
#                                      MSI), the vector's completions stuck
#   sim_test.sh SIM backend-dies       the backend kills itself 0.2 s into a
#                                      30 s run: exit 3, reported at once
#   sim_test.sh SIM chaos [OPT...]     --chaos: exit 0, "lost: 0", no
#                                      late-binding hit, the fd counts equal,
#                                      every kind of chaos action done
#   sim_test.sh SIM chaos-late [OPT...]   --chaos --inject-late: an event
#                                      on a binding nothing was sent to must
#                                      be seen: exit 1, a late-binding hit
#   sim_test.sh SIM chaos-leak [OPT...]   --chaos --inject-fd-leak: one
#                                      eventfd never closed: exit 1, the fd
#                                      counts differ
#   sim_test.sh SIM chaos-lost [OPT...]   --chaos --inject-loss: a send
#                                      counted and never made: exit 1,
#                                      "lost: 1"
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

# The summary's MSI row: sent and delivered above 0, lost $1.
expect_msi_row() {
	awk -v lost="$1" '
		/^  MSI \(device to PIRQ\) / { n++; ok = $5 > 0 && $6 > 0 && $8 == lost }
		END { exit !(n == 1 && ok) }' "$out" ||
		fail "no MSI row with MSIs sent, delivered and $1 lost"
}

# The chaos summary's descriptor counts: at the start and after the
# teardown, and while running and at the end of the run, equal.
fds_equal() {
	awk '/^fds: / { gsub(/[;,]/, ""); n++; ok = $2 == $6 && $10 == $12 }
		END { exit !(n == 1 && ok) }' "$out"
}

expect_fds_equal() {
	fds_equal || fail "descriptor counts differ (a leak)"
}

# Each "pirq N msi" port row: MSIs delivered, none lost.
expect_pirq_rows() {
	awk '
		$2 == "pirq" && $4 == "msi" { n++; if (!($9 > 0 && $11 == 0)) bad++ }
		END { exit !(n > 0 && !bad) }' "$out" ||
		fail "a pirq port row without deliveries, or with a loss"
}

case $mode in
ok)
	run "$@"
	expect_rc 0
	expect '^lost: 0$'
	expect '^unanswered requests: 0$'
	expect '^result: OK$'
	case " $* " in
	*" --msi 0 "*)
		! grep -q 'MSI (device' "$out" || fail "MSI rows without a device"
		;;
	*)
		expect_msi_row 0
		expect_pirq_rows
		expect '^device completions not taken: 0$'
		# the first PIRQ an MSI mapped needs an EOI, and had them
		awk '$NF == "needs_eoi" && $8 > 0 { f = 1 } END { exit !f }' \
			"$out" || fail "no vector with needs_eoi and EOIs"
		;;
	esac
	;;
lost)
	run --inject-loss --drain-timeout 1 "$@"
	expect_rc 1
	expect '^lost: 1$'
	expect 'ring kicks 1,'
	expect '^result: FAILED$'
	;;
lost-msi)
	run --inject-loss=msi --drain-timeout 1 "$@"
	expect_rc 1
	expect '^lost: 1$'
	expect 'ring kicks 0, .*MSIs 1$'
	expect_msi_row 1
	expect 'pirq [0-9]* msi (vector 0) .* 1$'
	expect '^device completions not taken: [1-9]'
	expect '^result: FAILED$'
	;;
chaos)
	run --chaos "$@"
	expect_rc 0
	expect '^lost: 0$'
	expect '^late-binding hits: 0$'
	expect_fds_equal
	expect '^result: OK$'
	# each kind of action at least once (the first seven are one of each)
	for what in 'ports closed and bound again' \
		'backend unbinds and rebinds' \
		'backend handles closed and reopened' 'vCPU moves' \
		'route table swaps' 'guest resets' 'domain 0 resets'; do
		grep -q "^  $what: [1-9]" "$out" || fail "no '$what'"
	done
	# every row of the event table had sends and deliveries
	awk '/^  (IPI|PORT_TO_PORT|guest to|handle to|PORT_TO_FD|FD_TO_PORT) / {
		n++; if (!($(NF-6) > 0 && $(NF-5) > 0)) bad++ }
		END { exit !(n == 6 && !bad) }' "$out" ||
		fail "an event row without sends or deliveries"
	;;
chaos-late)
	run --chaos --inject-late "$@"
	expect_rc 1
	expect '^late-binding hits: [1-9]'
	expect 'evtchn-sim: late-binding hit: '
	expect '^result: FAILED$'
	;;
chaos-leak)
	run --chaos --inject-fd-leak "$@"
	expect_rc 1
	expect '^late-binding hits: 0$'
	expect '^lost: 0$'
	expect '^fds: '
	! fds_equal || fail "the leaked eventfd went unseen"
	expect '^result: FAILED$'
	;;
chaos-lost)
	run --chaos --inject-loss "$@"
	expect_rc 1
	expect '^lost: 1$'
	expect 'never delivered'
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
		"--dump=yes" "--vcpus" "stray" "--msi 65" "--msi -1" \
		"--msi one" "--inject-loss=both" "--inject-loss=msi --msi 0" \
		"--inject-loss msi" "--chaos --msi 2" "--chaos --vcpus 64" \
		"--chaos --sends 0" "--chaos --seed -1" "--sends 5" \
		"--inject-late" "--chaos --backend-die-after 1"; do
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
