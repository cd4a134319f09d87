#!/usr/bin/env bash
# evtchn-vmm on a real KVM, on a machine without /dev/kvm: QEMU (TCG,
# -cpu max, which emulates AMD SVM) boots Debian's 6.12 kernel (it has
# CONFIG_KVM_XEN), kvm-amd loads inside, and evtchn-vmm runs the
# freestanding test guest on it.  The kernel and busybox are downloaded
# and unpacked (apt-get download, dpkg-deb -x), never installed.
#
#   scripts/kvm.sh          run the test guest three times: with every
#                           event channel hypercall in userspace, with the
#                           KVM back end (--kvm-offload), and with the back
#                           end saved at the guest's checkpoint (--save) and
#                           carried on by a new process (--restore); print
#                           its checks and the VMM's exit counts; the check
#                           lines of the three runs must be the same
#
# Exit status: 0 every check passed, 1 a failure, 77 skipped (packages or
# QEMU unavailable).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
WORK=${EVTCHN_KVM_WORK:-$TOP/build-kvm-run}
CACHE=${EVTCHN_KVM_CACHE:-$WORK/cache}
SMP=${SMP:-2}

NAME=kvm
. scripts/l1.sh
l1_prepare tools/vmm/evtchn-testguest
cp "$BUILD/tools/vmm/evtchn-testguest" "$INITRD/bin/"
{
l1_init_head
cat <<INIT
vmm="/bin/evtchn-vmm --vcpus $SMP --timeout 150 ${VMM_ARGS:-}"
for mode in userspace offload; do
	args=
	[ \$mode = offload ] && args=--kvm-offload
	echo "@@EVTCHN-KVM-BEGIN \$mode@@"
	\$vmm --guest /bin/evtchn-testguest \$args
	echo "@@EVTCHN-KVM-END \$mode rc=\$?@@"
done
# the same with the back end, stopped at the guest's checkpoint, written
# to a file and carried on by a new process
echo "@@EVTCHN-KVM-BEGIN migrate@@"
\$vmm --guest /bin/evtchn-testguest --kvm-offload --save /snap
rc=\$?
if [ \$rc = 75 ]; then
	\$vmm --restore /snap --kvm-offload
	rc=\$?
else
	echo "kvm: --save ended with status \$rc"
	rc=1
fi
\$bb rm -f /snap
echo "@@EVTCHN-KVM-END migrate rc=\$rc@@"
\$bb poweroff -f
INIT
} >"$INITRD/init"

l1_boot
if ! grep -q '@@EVTCHN-KVM-BEGIN' "$LOG"; then
	echo "kvm: the L1 kernel did not reach the VMM; console in $LOG"
	exit 1
fi
rc=0
MODES="userspace offload migrate"
for mode in $MODES; do
	echo "== $mode"
	sed -n "/@@EVTCHN-KVM-BEGIN $mode@@/,/@@EVTCHN-KVM-END $mode/p" "$LOG" |
		sed '1d;$d' | tee "$WORK/$mode.out"
	grep -q "@@EVTCHN-KVM-END $mode rc=0@@" "$LOG" || {
		echo "kvm: $mode: $(grep -o "@@EVTCHN-KVM-END $mode rc=[0-9]*" "$LOG" | sed 's/.*rc=/exit status /')"
		rc=1
	}
	grep -E '^(ok|FAIL) [0-9]+ ' "$WORK/$mode.out" >"$WORK/$mode.checks" || true
done
# Exits that reached the VMM during each measured load of the guest
# (checks 17, 21, 22 and 23: IPIs, loopback sends, timer ticks, backend
# notifications, routed doorbells, MSIs to a PIRQ), per 1,000 events.
echo "== exits reaching userspace per 1,000 events (the loads of checks 17, 21, 22, 23)"
files=()
for mode in $MODES; do files+=("$WORK/$mode.out"); done
# one row per class, one column per mode
awk -v modes="$MODES" '
	FNR == 1 { f++ }
	/^load exits:/ {
		for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "total") total = kv[2] }
		next
	}
	/^load: / {
		if (!($2 in seen)) { seen[$2] = 1; cls[++n] = $2 }
		per[$2, f] = sprintf("%.1f", 1000 * total / $3)
	}
	END {
		nm = split(modes, m, " ")
		printf "%-16s", "class"
		for (j = 1; j <= nm; j++) printf " %10s", m[j]
		printf "\n"
		for (i = 1; i <= n; i++) {
			printf "%-16s", cls[i]
			for (j = 1; j <= nm; j++)
				printf " %10s", ((cls[i], j) in per) ? per[cls[i], j] : "-"
			printf "\n"
		}
	}
' "${files[@]}"
# The guest sees the same with the back end on, and across a save and
# restore: the same check lines.
for mode in offload migrate; do
	if ! cmp -s "$WORK/userspace.checks" "$WORK/$mode.checks"; then
		echo "kvm: the check lines of $mode differ from userspace:"
		diff "$WORK/userspace.checks" "$WORK/$mode.checks" || true
		rc=1
	fi
done
[ -s "$WORK/userspace.checks" ] || rc=1
exit $rc
