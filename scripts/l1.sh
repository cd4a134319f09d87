# Shared by scripts/kvm.sh and scripts/linux.sh (sourced, not run): a KVM
# on a machine without /dev/kvm.  QEMU (TCG, -cpu max, which emulates AMD
# SVM) boots Debian's 6.12 kernel (it has CONFIG_KVM_XEN) as L1 and
# kvm-amd loads inside; evtchn-vmm runs there.  The kernel and busybox are
# downloaded and unpacked (apt-get download, dpkg-deb -x), never
# installed.
#
# The caller sets NAME (its messages' prefix), WORK, CACHE and SMP.
#   l1_prepare TARGETS...   install QEMU's package if needed, fetch and
#                           unpack the L1 kernel and busybox into $ROOT,
#                           build evtchn-vmm statically in $BUILD with the
#                           ninja TARGETS, and start $INITRD with busybox,
#                           evtchn-vmm and kvm-amd's modules (the caller
#                           adds its files and /init)
#   l1_boot                 pack $INITRD, boot it; console in $LOG
# Exit status 77 (skipped) when something cannot be fetched.

skip() {
	echo "$NAME: SKIPPED: $*"
	exit 77
}

l1_prepare() {
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

	# evtchn-vmm linked statically (the initramfs has no libc), and what
	# the caller asks for.
	BUILD=$TOP/build-kvm
	[ -f "$BUILD/build.ninja" ] ||
		meson setup "$BUILD" --buildtype=release -Dtests=false -Dstatic_vmm=true \
			-Ddefault_library=static >/dev/null
	ninja -C "$BUILD" tools/vmm/evtchn-vmm "$@" >/dev/null

	# The initramfs: busybox, kvm-amd and what it needs (the package ships
	# .ko.xz and no modules.dep: the order is their modinfo depends=), the
	# VMM.
	INITRD=$WORK/initrd
	rm -rf "$INITRD"
	mkdir -p "$INITRD"/{bin,mod,proc,sys,dev}
	cp "$ROOT/bin/busybox" "$BUILD/tools/vmm/evtchn-vmm" "$INITRD/bin/"
	M=$ROOT/lib/modules/$kver/kernel
	for m in virt/lib/irqbypass arch/x86/kvm/kvm drivers/crypto/ccp/ccp \
		arch/x86/kvm/kvm-amd; do
		xz -dc "$M/$m.ko.xz" >"$INITRD/mod/$(basename "$m").ko"
		echo "$(basename "$m")" >>"$INITRD/mod/order"
	done
}

# The first lines of the L1 /init: busybox, /proc, /sys, /dev, kvm-amd.
l1_init_head() {
	cat <<'HEAD'
#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev
for m in $($bb cat /mod/order); do $bb insmod /mod/$m.ko || echo "insmod $m failed"; done
HEAD
}

# L1_QEMU_ARGS: more QEMU options, for experiments (e.g. "-icount
# shift=auto").  One TCG thread for all of L1's vCPUs (thread=single): with a thread per
# vCPU, QEMU now and then lets one vCPU run code another has just patched
# (the L1 kernel flips static keys with text_poke_bp()), and L1 dies of an
# "Oops: int3".  One thread is not slower here, the host having two cores.
l1_boot_once() {
	echo "$NAME: booting $kver under QEMU (TCG, -cpu max, $SMP vCPUs), evtchn-vmm inside"
	timeout "${L1_TIMEOUT:-540}" qemu-system-x86_64 -machine q35 -accel tcg,thread=single -cpu max ${L1_QEMU_ARGS:-} \
		-m "${L1_MEMORY:-1024}" -smp "$SMP" -nographic -no-reboot \
		-kernel "$ROOT/boot/vmlinuz-$kver" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 panic=-1 loglevel=4" \
		</dev/null 2>&1 | tr -d '\r' >"$LOG" || true
}

l1_boot() {
	chmod +x "$INITRD/init"
	(cd "$INITRD" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$WORK/initrd.gz")
	LOG=$WORK/console.log
	l1_boot_once
	# Should the L1 kernel itself still die under QEMU, the run says
	# nothing about libevtchn: it is run once more, and said so.
	# (the L1 kernel's own panic: its banner names $kver; a guest's panic
	# that the VMM prints is the guest's business)
	if grep -q 'Kernel panic' "$LOG" && grep -qi "tainted.* $kver #" "$LOG"; then
		cp "$LOG" "$WORK/console-panic.log"
		echo "$NAME: the L1 kernel crashed under QEMU (console in" \
			"$WORK/console-panic.log: $(grep -m1 -o 'Oops: [^[]*\|BUG: .*' "$LOG" ||
				echo panic)); running it again"
		l1_boot_once
	fi
}
