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

skip() {
	echo "kvm: SKIPPED: $*"
	exit 77
}

mkdir -p "$CACHE"
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${need[@]}" >/dev/null 2>&1 || skip "cannot install ${need[*]}"
fi

# The L1 kernel: the newest linux-image-6.12.*+deb12-amd64-unsigned the
# package lists know (bookworm-security carries them).
pick_kernel() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
		awk '{ print $1 }' | sort -V | tail -n1
}
kpkg=$(pick_kernel)
[ -n "$kpkg" ] || { apt-get update -qq >/dev/null 2>&1 || true; kpkg=$(pick_kernel); }
[ -n "$kpkg" ] || skip "no linux-image-6.12.*+deb12-amd64-unsigned in the package lists"
kver=${kpkg#linux-image-}
kver=${kver%-unsigned}
(
	cd "$CACHE"
	for p in "$kpkg" busybox-static; do
		ls "$p"_*.deb >/dev/null 2>&1 || apt-get download -qq "$p" >/dev/null 2>&1 ||
			exit 1
	done
) || skip "cannot download $kpkg busybox-static"
ROOT=$WORK/root
if [ ! -e "$ROOT/boot/vmlinuz-$kver" ] || [ ! -e "$ROOT/bin/busybox" ]; then
	rm -rf "$ROOT"
	for p in "$kpkg" busybox-static; do
		dpkg-deb -x "$(ls "$CACHE/$p"_*.deb | head -n1)" "$ROOT"
	done
fi
grep -q '^CONFIG_KVM_XEN=y' "$ROOT/boot/config-$kver" ||
	skip "$kver has no CONFIG_KVM_XEN"

# evtchn-vmm linked statically (the initramfs has no libc), and the guest.
BUILD=$TOP/build-kvm
[ -f "$BUILD/build.ninja" ] ||
	meson setup "$BUILD" --buildtype=release -Dtests=false -Dstatic_vmm=true \
		-Ddefault_library=static >/dev/null
ninja -C "$BUILD" tools/vmm/evtchn-vmm tools/vmm/evtchn-testguest >/dev/null

# The initramfs: busybox, kvm-amd and what it needs (the package ships
# .ko.xz and no modules.dep: the order is their modinfo depends=), the VMM
# and the guest.
INITRD=$WORK/initrd
rm -rf "$INITRD"
mkdir -p "$INITRD"/{bin,mod,proc,sys,dev}
cp "$ROOT/bin/busybox" "$BUILD/tools/vmm/evtchn-vmm" \
	"$BUILD/tools/vmm/evtchn-testguest" "$INITRD/bin/"
M=$ROOT/lib/modules/$kver/kernel
for m in virt/lib/irqbypass arch/x86/kvm/kvm drivers/crypto/ccp/ccp \
	arch/x86/kvm/kvm-amd; do
	xz -dc "$M/$m.ko.xz" >"$INITRD/mod/$(basename "$m").ko"
	echo "$(basename "$m")" >>"$INITRD/mod/order"
done
cat >"$INITRD/init" <<INIT
#!/bin/busybox sh
bb=/bin/busybox
\$bb mount -t proc proc /proc
\$bb mount -t sysfs sys /sys
\$bb mount -t devtmpfs dev /dev
for m in \$(\$bb cat /mod/order); do \$bb insmod /mod/\$m.ko || echo "insmod \$m failed"; done
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
chmod +x "$INITRD/init"
(cd "$INITRD" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$WORK/initrd.gz")

LOG=$WORK/console.log
boot_l1() {
	echo "kvm: booting $kver under QEMU (TCG, -cpu max, $SMP vCPUs), evtchn-vmm inside"
	timeout 540 qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 1024 \
		-smp "$SMP" -nographic -no-reboot -kernel "$ROOT/boot/vmlinuz-$kver" \
		-initrd "$WORK/initrd.gz" -append "console=ttyS0 panic=-1 loglevel=4" \
		</dev/null 2>&1 | tr -d '\r' >"$LOG" || true
}
boot_l1
# QEMU's TCG now and then runs stale code after the L1 kernel patched its
# own text (an "Oops: int3" while it flips a static key, e.g. KVM's Xen
# key when a VM comes or goes): the L1 kernel itself dies, not the VMM
# or its guest.  Such a run says nothing about libevtchn; it is run once
# more, and said so.
if grep -q 'Kernel panic' "$LOG"; then
	cp "$LOG" "$WORK/console-panic.log"
	echo "kvm: the L1 kernel crashed under QEMU (console in $WORK/console-panic.log:" \
		"$(grep -m1 -o 'Oops: [^[]*\|BUG: .*' "$LOG" || echo panic)); running it again"
	boot_l1
fi
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
