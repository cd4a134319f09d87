#!/usr/bin/env bash
# The differential oracle: run tests/oracle/scenarios on a real Xen 4.17
# (Debian's, booted under QEMU/TCG with a PV dom0) and on libevtchn, and
# compare.  See docs/oracle.md.
#
#   scripts/oracle.sh            compare live Xen, the recorded output and libevtchn
#   scripts/oracle.sh --record   boot Xen and store its output in tests/oracle/expected
#
# Exit status: 0 agree, 1 differ, 77 skipped (packages or QEMU unavailable).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
RECORD=0
[ "${1:-}" = "--record" ] && RECORD=1
CACHE=${EVTCHN_ORACLE_CACHE:-$TOP/build-oracle/cache}
WORK=$TOP/build-oracle
SCN_DIR=$TOP/tests/oracle/scenarios
EXPECTED=$TOP/tests/oracle/expected

skip() {
	echo "oracle: SKIPPED: $*"
	exit 77
}

mkdir -p "$CACHE" "$WORK"

# Host tools: QEMU and cpio (installing them touches nothing of the host's boot).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${need[@]}" >/dev/null 2>&1 || skip "cannot install ${need[*]}"
fi

# Guest packages: downloaded and unpacked, never installed on the host.
kver=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kver" ] || skip "no linux-image-amd64 in the package lists (apt-get update?)"
pkgs=(xen-hypervisor-4.17-amd64 "$kver" busybox-static)
(
	cd "$CACHE"
	for p in "${pkgs[@]}"; do
		ls "$p"_*.deb >/dev/null 2>&1 || apt-get download -qq "$p" >/dev/null 2>&1 ||
			exit 1
	done
) || skip "cannot download ${pkgs[*]}"
ROOT=$WORK/root
rm -rf "$ROOT"
for p in "${pkgs[@]}"; do
	dpkg-deb -x "$(ls "$CACHE/$p"_*.deb | head -n1)" "$ROOT"
done
KVER=${kver#linux-image-}
zcat "$ROOT/boot/xen-4.17-amd64.gz" >"$WORK/xen.elf"
XENVER=$(ls "$CACHE"/xen-hypervisor-4.17-amd64_*.deb | sed 's/.*_\(.*\)_amd64.deb/\1/')

# The dom0 runner: static, raw hypercalls through libxencall.
gcc -O2 -static -D__XEN_TOOLS__ -I"$TOP/tests/oracle" \
	-o "$WORK/oracle-xen" tests/oracle/oracle.c tests/oracle/oracle_main.c \
	tests/oracle/oracle_xen.c -l:libxencall.a -l:libxentoolcore.a -l:libxentoollog.a

# boot NAME SCN_DIR DOM0_ARGS: run the scenarios of SCN_DIR in a dom0 of a
# real Xen; their output goes to $WORK/NAME/<scenario>.out.
boot() {
	local name=$1 scn=$2 dom0_args=$3
	local initrd=$WORK/initrd-$name out=$WORK/$name
	local M=$ROOT/lib/modules/$KVER/kernel/drivers/xen

	# The initramfs: busybox, the Xen device modules, the runner, the scenarios.
	rm -rf "$initrd"
	mkdir -p "$initrd"/{bin,mod,scn,proc,sys,dev}
	cp "$ROOT/bin/busybox" "$initrd/bin/"
	cp "$M/xen-evtchn.ko" "$M/xen-privcmd.ko" "$M/xenfs/xenfs.ko" "$initrd/mod/"
	cp "$WORK/oracle-xen" "$initrd/bin/"
	cp "$scn"/*.scn "$initrd/scn/"
	cat >"$initrd/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in xen-evtchn xen-privcmd xenfs; do /bin/busybox insmod /mod/$m.ko; done
/bin/busybox mkdir -p /proc/xen
/bin/busybox mount -t xenfs xenfs /proc/xen
echo "@@ORACLE-BEGIN@@"
/bin/oracle-xen /scn/*.scn
echo "@@ORACLE-END@@ rc=$?"
/bin/busybox poweroff -f
INIT
	chmod +x "$initrd/init"
	(cd "$initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$initrd.gz")

	echo "oracle: booting Xen $XENVER with dom0 $KVER ($name) under QEMU (TCG)"
	timeout 600 qemu-system-x86_64 -machine q35 -accel tcg -cpu max,-smap -m 1024 \
		-smp 2 -nographic -no-reboot -kernel "$WORK/xen.elf" \
		-append "console=com1 dom0_mem=512M,max:512M dom0_max_vcpus=2 bootscrub=false" \
		-initrd "$ROOT/boot/vmlinuz-$KVER console=hvc0 $dom0_args,$initrd.gz" \
		</dev/null >"$WORK/boot-$name.log" 2>&1 || true
	tr -d '\r' <"$WORK/boot-$name.log" |
		sed -n '/@@ORACLE-BEGIN@@/,/@@ORACLE-END@@/p' >"$WORK/$name.raw"
	grep -q "@@ORACLE-END@@ rc=0" "$WORK/$name.raw" || {
		echo "oracle: the dom0 runner did not finish cleanly; see $WORK/boot-$name.log"
		tail -n 20 "$WORK/boot-$name.log"
		exit 1
	}
	# One file a scenario.
	rm -rf "$out"
	mkdir -p "$out"
	awk -v dir="$out" '
		/^@@ORACLE/ { next }
		/^== / { f = dir "/" $2 ".out" }
		f { print > f }
	' "$WORK/$name.raw"
}

# dom0 on the 2-level ABI (xen.fifo_events=0), then on FIFO (its default).
boot 2l "$SCN_DIR" xen.fifo_events=0
boot fifo "$SCN_DIR-fifo" ""

if [ "$RECORD" = 1 ]; then
	mkdir -p "$EXPECTED" "$EXPECTED-fifo"
	cp "$WORK/2l"/*.out "$EXPECTED/"
	cp "$WORK/fifo"/*.out "$EXPECTED-fifo/"
	echo "Xen $XENVER (dom0 $KVER, 2-level)" >"$EXPECTED/XEN_VERSION"
	echo "Xen $XENVER (dom0 $KVER, FIFO)" >"$EXPECTED-fifo/XEN_VERSION"
	echo "oracle: recorded the scenarios from Xen $XENVER"
	exit 0
fi

status=0
for abi in "" -fifo; do
	live=$WORK/${abi:+fifo}
	[ -n "$abi" ] || live=$WORK/2l
	if ! diff -ru -x XEN_VERSION "$EXPECTED$abi" "$live" >"$WORK/recorded$abi.diff"; then
		echo "oracle: live Xen differs from the recorded output:"
		cat "$WORK/recorded$abi.diff"
		status=1
	fi
done
[ -x "$TOP/build/tests/oracle/oracle-lib" ] || {
	meson setup "$TOP/build" >/dev/null 2>&1 || true
	ninja -C "$TOP/build" tests/oracle/oracle-lib >/dev/null
}
LIB=$TOP/build/tests/oracle/oracle-lib
"$LIB" --expect "$WORK/2l" "$SCN_DIR"/*.scn || status=1
"$LIB" --fifo --expect "$WORK/fifo" "$SCN_DIR-fifo"/*.scn || status=1
exit $status
