#!/usr/bin/env bash
# An unmodified Debian Linux as a Xen HVM guest of evtchn-vmm, on a real
# KVM nested in QEMU (scripts/l1.sh): Debian 12's linux-image-6.1.0-*-amd64
# boots with an initramfs of busybox, Linux's own xen-evtchn module and
# three programs (tools/vmm/linux-guest/): a load that makes the CPUs wake
# each other, checked in /proc/interrupts; a program written against
# <xenevtchn.h> and linked with Debian's libxenevtchn.a, on
# /dev/xen/evtchn; and vmm-exit, which hands the verdict to the VMM.
#
#   scripts/linux.sh        boot it in each mode (FIFO, 2-level, 2-level
#                           with the KVM back end), print the checks and a
#                           table, and the VMM's exit counts
#
# Exit status: 0 every check passed, 1 a failure, 77 skipped (packages or
# QEMU unavailable).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
WORK=${EVTCHN_LINUX_WORK:-$TOP/build-linux-run}
CACHE=${EVTCHN_LINUX_CACHE:-$TOP/build-kvm-run/cache}
SMP=${SMP:-2}
L1_MEMORY=3072
GUEST_MEMORY=384
GUEST_VCPUS=${LINUX_VCPUS:-$SMP}

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
echo "@@GUEST-UP@@ $($bb uname -r) on $($bb nproc) CPUs"
$bb dmesg | $bb grep -E 'Hypervisor detected|Xen version|xen:events|Xen HVM callback|clocksource: Switched|installing Xen timer|Using .* ABI' |
	$bb sed 's/^\[[^]]*\] /dmesg: /'
fails=0
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
$bb dmesg | $bb grep -E 'WARNING:|BUG:|Oops|Kernel panic|xen.*(fail|error)' |
	$bb sed 's/^/dmesg-problem: /'
echo "@@GUEST-DONE@@ failures=$fails"
/bin/vmm-exit $fails
INIT
chmod +x "$G/init"
echo "${LINUX_LOAD:-3}" >"$G/load-secs"
(cd "$G" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$INITRD/guest-initrd.gz")
cp "$GROOT/boot/vmlinuz-$gver" "$INITRD/bzImage"

CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr no5lvl panic=-1 reboot=t xen_emul_unplug=never acpi=off"
# LINUX_MODES picks some of them; LINUX_OFFLOAD the back end's classes
# (e.g. --kvm-offload=ipi,loopback); LINUX_LOAD the seconds of ipi-load;
# LINUX_VCPUS the guest's vCPUs (the L1 has SMP).
MODES=${LINUX_MODES:-"fifo 2level 2level-offload migrate"}
OFFLOAD=${LINUX_OFFLOAD:---kvm-offload}
{
l1_init_head
cat <<INIT
for mode in $MODES; do
	cmd="$CMDLINE"
	args=
	case \$mode in
	2level*) cmd="\$cmd xen.fifo_events=0" ;;
	esac
	case \$mode in
	*offload) args=$OFFLOAD ;;
	migrate) cmd="\$cmd xen.fifo_events=0"; args="$OFFLOAD --save /snap" ;;
	esac
	vmm="/bin/evtchn-vmm --memory $GUEST_MEMORY --vcpus $GUEST_VCPUS --timeout 400"
	echo "@@EVTCHN-LINUX-BEGIN \$mode@@"
	\$vmm --kernel /bzImage --initrd /guest-initrd.gz --cmdline "\$cmd" \$args
	rc=\$?
	# the 2-level guest with the back end, saved at its checkpoint and
	# carried on by a new process
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
	echo "@@EVTCHN-LINUX-END \$mode rc=\$rc@@"
done
\$bb poweroff -f
INIT
} >"$INITRD/init"

L1_TIMEOUT=1500
l1_boot
if ! grep -q '@@EVTCHN-LINUX-BEGIN' "$LOG"; then
	echo "linux: the L1 kernel did not reach the VMM; console in $LOG"
	exit 1
fi
rc=0
for mode in $MODES; do
	echo "== $mode"
	sed -n "/@@EVTCHN-LINUX-BEGIN $mode@@/,/@@EVTCHN-LINUX-END $mode/p" "$LOG" |
		sed '1d;$d' >"$WORK/$mode.out"
	grep -E '^(ok|FAIL)|^dmesg|^@@GUEST|^ipi-load|^exits|^  ' "$WORK/$mode.out" || true
	grep -q "@@EVTCHN-LINUX-END $mode rc=0@@" "$LOG" || {
		echo "linux: $mode: $(grep -o "@@EVTCHN-LINUX-END $mode rc=[0-9]*" "$LOG" |
			sed 's/.*rc=/exit status /') (console: $WORK/$mode.out)"
		rc=1
	}
done
# Exits that reached the VMM at idle and under the IPI load, per second
# and per 1,000 IPIs / timer ticks (the "load exits:" line the VMM prints
# at each mark, the "load:" line the guest prints after it).
echo "== exits reaching userspace (3 s idle, then 3 s of ipi-load)"
printf '%-16s %12s %14s %16s %16s\n' mode "idle exits/s" "load exits/s" "per 1k IPIs" "per 1k ticks"
for mode in $MODES; do
	awk -v mode="$mode" '
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
		END { printf "%-16s %12.1f %14.1f %16.1f %16.1f\n", mode, idle, load, pi, pt }
	' "$WORK/$mode.out"
done
exit $rc
