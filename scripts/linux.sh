#!/usr/bin/env bash
# An unmodified Debian Linux as a Xen HVM guest of evtchn-vmm, on a real
# KVM nested in QEMU (scripts/l1.sh): Debian 12's linux-image-6.1.0-*-amd64
# boots with an initramfs of busybox, Linux's own xen-evtchn module and
# three programs (tools/vmm/linux-guest/): a load that makes the CPUs wake
# each other, checked in /proc/interrupts; a program written against
# <xenevtchn.h> and linked with Debian's libxenevtchn.a, on
# /dev/xen/evtchn; and vmm-exit, which hands the verdict to the VMM.
#
#   scripts/linux.sh        boot it in each run (mode:vCPUs: FIFO,
#                           2-level, 2-level with the KVM back end, that
#                           one saved and restored mid-run; on 2 and on 4
#                           vCPUs), print the checks, the table of checks
#                           by run, and the VMM's exit counts
#
# LINUX_RUNS, LINUX_OFFLOAD, LINUX_LOAD, LINUX_RETRIES and
# LINUX_EXTRA_CMDLINE (below) change what runs.  A guest that died of the
# nested platform's own crash (an interrupt delivered again at the first
# instruction of its handler, seen with no event channel in use) or that stopped making progress (the VMM's
# --timeout, its vCPUs and ports dumped) is run again, at most
# LINUX_RETRIES times; the output names each repeated run and why, and
# the failed attempts stay in the console log (docs/vmm.md).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
WORK=${EVTCHN_LINUX_WORK:-$TOP/build-linux-run}
CACHE=${EVTCHN_LINUX_CACHE:-$TOP/build-kvm-run/cache}
SMP=${SMP:-2}
L1_MEMORY=3072
GUEST_MEMORY=384

NAME=linux
. scripts/l1.sh
mkdir -p "$WORK"
l1_prepare

# The guest: the newest linux-image-6.1.0-*-amd64 the package lists know.
gpkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
	awk '{ print $1 }' | sort -V | tail -n1)
[ -n "$gpkg" ] || skip "no linux-image-6.1.0-*-amd64 in the package lists"
gver=${gpkg#linux-image-}
(cd "$CACHE" && { ls "$gpkg"_*.deb >/dev/null 2>&1 ||
	apt-get download -qq "$gpkg" >/dev/null 2>&1; }) ||
	skip "cannot download $gpkg"
GROOT=$WORK/guest-root
if [ ! -e "$GROOT/boot/vmlinuz-$gver" ]; then
	rm -rf "$GROOT"
	dpkg-deb -x "$(ls "$CACHE/$gpkg"_*.deb | head -n1)" "$GROOT"
fi
for lib in libxenevtchn.a libxentoolcore.a libxentoollog.a; do
	[ -e "/usr/lib/x86_64-linux-gnu/$lib" ] || skip "no $lib (libxen-dev)"
done

# The guest's initramfs.
G=$WORK/guest-initrd
rm -rf "$G"
mkdir -p "$G"/{bin,proc,sys,dev}
cp "$ROOT/bin/busybox" "$G/bin/"
cp "$GROOT/lib/modules/$gver/kernel/drivers/xen/xen-evtchn.ko" "$G/"
SRC=$TOP/tools/vmm/linux-guest
cc="gcc -static -O2 -Wall -Wextra"
$cc -o "$G/bin/evtchn-check" "$SRC/evtchn-check.c" \
	-lxenevtchn -lxentoolcore -lxentoollog 2>/dev/null
$cc -pthread -o "$G/bin/ipi-load" "$SRC/ipi-load.c" 2>/dev/null
$cc -o "$G/bin/vmm-exit" "$SRC/vmm-exit.c" 2>/dev/null
cat >"$G/init" <<'INIT'
#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev
ncpu=$($bb nproc)
echo "@@GUEST-UP@@ $($bb uname -r) on $ncpu CPUs"
$bb dmesg | $bb sed 's/^\[[^]]*\] //' >/dmesg.txt
$bb grep -E 'Hypervisor detected|Xen version|xen:events|Xen HVM callback|clocksource: Switched|installing Xen timer|Using .* ABI' /dmesg.txt |
	$bb sed 's/^/dmesg: /'
fails=0
# check NAME PATTERN: a line of the boot log must match
check() {
	if $bb grep -qE "$2" /dmesg.txt; then
		echo "ok - boot: $1"
	else
		echo "FAIL - boot: $1"
		fails=$((fails + 1))
	fi
}
check "Xen HVM detected" '^Hypervisor detected: Xen HVM'
check "the callback vector delivers events" 'Xen HVM callback vector for event delivery is enabled'
if $bb grep -q 'fifo_events=0' /proc/cmdline; then
	check "2-level ABI" 'xen:events: Using 2-level ABI'
else
	check "FIFO ABI" 'xen:events: Using FIFO-based ABI'
fi
cpu=0
while [ $cpu -lt $ncpu ]; do
	check "Xen timer on CPU $cpu" "installing Xen timer for CPU $cpu\$"
	cpu=$((cpu + 1))
done
check "xen clocksource" 'clocksource: Switched to clocksource xen$'
$bb insmod /xen-evtchn.ko || { echo "FAIL - insmod xen-evtchn"; fails=$((fails + 1)); }
/bin/ipi-load 3 0x511 idle
/bin/ipi-load $($bb cat /load-secs) 0x511 || fails=$((fails + $?))
ports=0
$bb grep -q 'fifo_events=0' /proc/cmdline || ports=5000
# the checkpoint: evtchn-vmm --save stops the guest there, --restore
# carries on in a new process (nothing happens without --save); after it
# the load runs again
/bin/evtchn-check --ports $ports --virq-port 0x514 --checkpoint-port 0x513 ||
	fails=$((fails + $?))
echo "after the checkpoint:"
/bin/ipi-load 2 || fails=$((fails + $?))
# the guest's log: no warning, bug, oops, and nothing about Xen failing
# (grant tables, xenstore and PV devices are absent: Linux must be quiet)
$bb dmesg >/dmesg.txt
{
	$bb grep -E 'WARNING:|BUG:|Oops|Kernel panic' /dmesg.txt
	$bb grep -iE 'xen.*(fail|error)' /dmesg.txt
} >/problems.txt
$bb sed 's/^/dmesg-problem: /' /problems.txt
problems=$($bb wc -l </problems.txt)
if [ "$problems" = 0 ]; then
	echo "ok - log: no warning, bug, oops or Xen error"
else
	echo "FAIL - log: $problems lines of warnings, bugs or Xen errors"
	fails=$((fails + 1))
fi
echo "@@GUEST-DONE@@ failures=$fails"
/bin/vmm-exit $fails
INIT
chmod +x "$G/init"
echo "${LINUX_LOAD:-3}" >"$G/load-secs"
(cd "$G" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$INITRD/guest-initrd.gz")
cp "$GROOT/boot/vmlinuz-$gver" "$INITRD/bzImage"

CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 loglevel=5 nokaslr no5lvl panic=-1 reboot=t xen_emul_unplug=never acpi=off pci=off ${LINUX_EXTRA_CMDLINE:-}"
# The runs, MODE:VCPUS each.  LINUX_RUNS picks some; LINUX_OFFLOAD the back
# end's classes (e.g. --kvm-offload=ipi,loopback); LINUX_LOAD the seconds
# of ipi-load; LINUX_RETRIES how often a guest that died of the nested
# platform's crash or hung (below) is run again.
RUNS=${LINUX_RUNS:-"fifo:2 2level:2 2level-offload:2 migrate:2 fifo:4 2level:4 2level-offload:4"}
OFFLOAD=${LINUX_OFFLOAD:---kvm-offload}
RETRIES=${LINUX_RETRIES:-8}
for run in $RUNS; do
	case ${run%:*} in
	fifo | 2level | 2level-offload | migrate) ;;
	*) echo "linux: unknown mode in $run"; exit 1 ;;
	esac
	[ "${run#*:}" -ge 1 ] 2>/dev/null || { echo "linux: no vCPU count in $run"; exit 1; }
done
{
l1_init_head
cat <<INIT
# the platform's crash: an interrupt delivered again at the first
# instruction of its handler (interrupts off, GS still the user's), every
# per-CPU read faulting until the entry stack's guard page; the dump then
# shows GS and knlGS both the kernel's.  Seen with no event channel in use
# (xen_nopv): QEMU's emulated SVM under the nested KVM (docs/vmm.md)
platform_fault() {
	\$bb grep -q 'stack guard page was hit' /out &&
	\$bb sed -n 's/.* GS:\([0-9a-f]*\)(0000) knlGS:\([0-9a-f]*\).*/\1 \2/p' /out |
		\$bb awk '\$1 == \$2 { f = 1 } END { exit !f }'
}
for run in $RUNS; do
	mode=\${run%:*}
	vcpus=\${run#*:}
	cmd="$CMDLINE"
	args=
	case \$mode in
	2level-offload) cmd="\$cmd xen.fifo_events=0"; args=$OFFLOAD ;;
	2level) cmd="\$cmd xen.fifo_events=0" ;;
	migrate) cmd="\$cmd xen.fifo_events=0"; args="$OFFLOAD --save /snap" ;;
	esac
	vmm="/bin/evtchn-vmm --memory $GUEST_MEMORY --vcpus \$vcpus --timeout 70"
	tries=0
	while :; do
		echo "@@EVTCHN-LINUX-BEGIN \$run@@"
		{
			\$vmm --kernel /bzImage --initrd /guest-initrd.gz --cmdline "\$cmd" \$args
			rc=\$?
			# the 2-level guest with the back end, saved at its
			# checkpoint and carried on by a new process
			if [ \$mode = migrate ]; then
				if [ \$rc = 75 ]; then
					\$vmm --restore /snap $OFFLOAD
					rc=\$?
				else
					echo "linux: --save ended with status \$rc"
					rc=1
				fi
				\$bb rm -f /snap
			fi
			echo \$rc >/rc
		} 2>&1 | \$bb tee /out
		rc=\$(\$bb cat /rc)
		why=
		if [ \$rc = 66 ]; then
			why=hang
		elif [ \$rc != 0 ] && platform_fault; then
			why=crash
		fi
		if [ -n "\$why" ] && [ \$tries -lt $RETRIES ]; then
			tries=\$((tries + 1))
			echo "@@EVTCHN-LINUX-RETRY \$run \$why@@"
			continue
		fi
		break
	done
	echo "@@EVTCHN-LINUX-END \$run rc=\$rc retries=\$tries@@"
done
\$bb poweroff -f
INIT
} >"$INITRD/init"

L1_TIMEOUT=2700
l1_boot
if ! grep -q '@@EVTCHN-LINUX-BEGIN' "$LOG"; then
	echo "linux: the L1 kernel did not reach the VMM; console in $LOG"
	exit 1
fi
rc=0
for run in $RUNS; do
	echo "== $run (mode:vCPUs)"
	# the last attempt's lines
	awk -v b="@@EVTCHN-LINUX-BEGIN $run@@" -v e="@@EVTCHN-LINUX-END $run " '
		index($0, b) { n = 0; on = 1; next }
		index($0, e) == 1 { on = 0 }
		on { l[n++] = $0 }
		END { for (i = 0; i < n; i++) print l[i] }
	' "$LOG" >"$WORK/$run.out"
	grep -E '^(ok|FAIL)|^dmesg|^@@GUEST|^ipi-load|^exits|^  |^evtchn-vmm:' "$WORK/$run.out" || true
	end=$(grep -o "@@EVTCHN-LINUX-END $run rc=[0-9]* retries=[0-9]*" "$LOG" | tail -n1 || true)
	why=$(grep -o "@@EVTCHN-LINUX-RETRY $run [a-z]*" "$LOG" | awk '{ print $3 }' | paste -sd, || true)
	if [ -n "$why" ]; then
		echo "linux: $run: run again after the nested platform's fault ($why; docs/vmm.md); the failed attempts are in $LOG"
	fi
	case $end in
	*" rc=0 "*) ;;
	"") echo "linux: $run: did not finish (console: $LOG)"; rc=1 ;;
	*) echo "linux: $run: exit status $(echo "$end" | sed 's/.*rc=\([0-9]*\).*/\1/') (console: $WORK/$run.out)"; rc=1 ;;
	esac
done
# The checks, mode:vCPUs x check: ok, FAIL, or - (not made in that run).
echo "== checks"
python3 - "$WORK" $RUNS <<'PY'
import re, sys
work, runs = sys.argv[1], sys.argv[2:]
table, order = {}, []
for run in runs:
    try:
        lines = open(f"{work}/{run}.out", errors="replace").read().splitlines()
    except OSError:
        lines = []
    after = False
    for line in lines:
        if line.startswith("after the checkpoint:"):
            after = True
        m = re.match(r"(ok|FAIL)( \d+)? - (.*)", line)
        if not m:
            continue
        name = re.sub(r"( grew by \d+| did not grow|: none on 2 CPUs.*)$", "", m.group(3))
        name = re.sub(r"^/proc/interrupts ", "", name)
        if m.group(2):
            name = "evtchn-check: " + name
        if after and not name.startswith("log:"):
            name = "after checkpoint: " + name
        name = name[:58]
        if name not in table:
            table[name] = {}
            order.append(name)
        table[name][run] = "ok" if m.group(1) == "ok" else "FAIL"
w = max([len(n) for n in order] + [5])
print("%-*s" % (w, "check"), *("%-16s" % r for r in runs))
for n in order:
    print("%-*s" % (w, n), *("%-16s" % table[n].get(r, "-") for r in runs))
PY
# Exits that reached the VMM at idle and under the IPI load, per second
# and per 1,000 IPIs / timer ticks (the "load exits:" line the VMM prints
# at each mark, the "load:" line the guest prints after it).
echo "== exits reaching userspace (3 s idle, then ${LINUX_LOAD:-3} s of ipi-load)"
printf '%-18s %12s %14s %16s %16s\n' mode:vCPUs "idle exits/s" "load exits/s" "per 1k IPIs" "per 1k ticks"
for run in $RUNS; do
	awk -v run="$run" '
		/^load exits:/ {
			for (i = 3; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[1] == "total") total = kv[2]
				if (kv[1] == "send") send = kv[2]
				if (kv[1] == "timer") timer = kv[2]
			}
			next
		}
		/^after the checkpoint:/ { after = 1 }
		/^load: .*\(idle\)/ && !after { idle = total / $8; next }
		/^load: / && !after {
			load = total / $8; ipis = $2; ticks = $4
			pi = ipis ? 1000 * send / ipis : 0
			pt = ticks ? 1000 * timer / ticks : 0
		}
		END { printf "%-18s %12.1f %14.1f %16.1f %16.1f\n", run, idle, load, pi, pt }
	' "$WORK/$run.out"
done
exit $rc
