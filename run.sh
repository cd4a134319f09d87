#!/usr/bin/env bash
# evtchn: set up a Debian 12 machine (as root) and build, demo or test.
#
#   ./run.sh demo [OPT]  install what is needed, build, run the demo
#                        (evtchn-sim, 5 s; OPT go to it: --help lists them)
#   ./run.sh test        install what is needed, run every test: the suite,
#                        the suite under ASan+UBSan, the threaded tests
#                        under TSan, the Xen oracle, the nested-KVM run,
#                        the Linux guest on it, and 30 s of each fuzz
#                        target beside the Xen oracle's run
#   ./run.sh asan|tsan   one sanitizer run only
#   ./run.sh oracle      compare with a real Xen 4.17 booted under QEMU
#   ./run.sh kvm         evtchn-vmm and its test guest on a real KVM (nested
#                        in QEMU: Debian's 6.12 kernel with kvm-amd)
#   ./run.sh linux       Debian's 6.1 Linux as a Xen HVM guest of evtchn-vmm
#                        on the same nested KVM (FIFO, 2-level, back end,
#                        saved and restored; 2 and 4 vCPUs)
#   ./run.sh fuzz [SEC] [ARG]  run the libFuzzer target fuzz-hypercall
#                        (clang, the library under UBSan) for SEC seconds
#                        from its corpus (tests/corpus/hypercall; new
#                        inputs go to build-fuzz-undefined/corpus-hypercall);
#                        ARG go to libFuzzer; FUZZ_SANITIZE=address,undefined:
#                        under ASan too (build-fuzz)
#   ./run.sh fuzz-restore [SEC] [ARG]  the same for hostile snapshot
#                        images (fuzz-restore, tests/corpus/restore)
#   ./run.sh bench [ARG] install gnuplot, build optimised (build-bench), run
#                        evtchn-bench --plot docs/bench/ [ARG...]: the
#                        figures of docs/benchmarks.md
#   ./run.sh soak [release|tsan] [OPT]  evtchn-sim --chaos: release build
#                        (build-release) until 10^8 sends, or TSan build
#                        (build-tsan) for 10 minutes; OPT go to it
#                        (--sends N, --duration SEC, --seed N, --vcpus N...)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(gcc clang libclang-rt-14-dev meson ninja-build pkg-config
	  libxen-dev liburcu-dev libcmocka-dev python3 systemtap-sdt-dev)
JOBS=${JOBS:-2}

install_deps() {
	local missing=()
	for p in "${PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "run.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [meson options...]
build() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" -j "$JOBS" >/dev/null
}

PASSED=0
FAILED=0
SKIPPED=0

# suite DIR [meson test options...]: run and count
suite() {
	local dir=$1
	shift
	local rc=0
	meson test -C "$dir" --num-processes "$JOBS" --print-errorlogs "$@" || rc=$?
	local counts
	counts=$(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, re, sys
# cmocka cases where the log names them, else the test program as one
p = f = s = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    r = t.get("result")
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    ok = re.findall(r"\[  PASSED  \] (\d+) test", out)
    bad = re.findall(r"\[  FAILED  \] (\d+) test", out)
    if ok or bad:
        p += sum(map(int, ok))
        f += sum(map(int, bad))
        if r not in ("OK", "EXPECTEDFAIL") and not bad:
            f += 1
    elif r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)

	read -r p f s <<<"$counts"
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || FAILED=$((FAILED + 1))
}

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

run_plain() { build build; suite build; }
run_asan() {
	build build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=undefined
	suite build-asan
}
run_tsan() {
	CC=clang build build-tsan -Db_sanitize=thread -Db_lundef=false
	suite build-tsan --suite threaded
}

# Installed as a user gets it: meson install into a staging root, then the
# API example built from the installed headers with pkg-config alone.
# What an installed copy must hold.
installed_files() {
	local f
	for f in bin/evtchn-sim bin/evtchn-bench bin/evtchn-dump bin/evtchn-demo \
		include/evtchn/evtchn.h include/evtchn/backend.h \
		include/evtchn/route.h include/evtchn/xenevtchn_compat.h \
		include/evtchn/kvm.h \
		share/man/man3/evtchn.3 share/man/man1/evtchn-sim.1 \
		share/man/man1/evtchn-bench.1 share/man/man1/evtchn-dump.1 \
		share/man/man1/evtchn-demo.1 share/doc/evtchn/api.md \
		share/doc/evtchn/conformance.md share/doc/evtchn/tracing.md \
		share/doc/evtchn/reliability.md \
		share/doc/evtchn/snapshot-format.md; do
		[ -e "$1/$f" ] || { echo "install: $f missing"; return 1; }
	done
}

run_install() {
	local root=$PWD/build/staging prefix pc
	rm -rf "$root"
	if DESTDIR="$root" meson install -C build --quiet >/dev/null &&
		prefix=$root/usr/local &&
		pc=$(dirname "$(find "$prefix" -name evtchn.pc | head -n1)") &&
		gcc -o build/installed-example docs/examples/api_example.c \
			$(PKG_CONFIG_PATH=$pc pkg-config --define-variable=prefix="$prefix" \
				--cflags --libs evtchn) &&
		LD_LIBRARY_PATH=$(dirname "$pc") ./build/installed-example >/dev/null &&
		installed_files "$prefix" &&
		LD_LIBRARY_PATH=$(dirname "$pc") "$prefix/bin/evtchn-sim" \
			--duration 0.3 >/dev/null &&
		LD_LIBRARY_PATH=$(dirname "$pc") "$prefix/bin/evtchn-dump" \
			--help >/dev/null; then
		echo "install: OK (headers, libraries, pkg-config, tools, man pages, docs)"
		PASSED=$((PASSED + 1))
	else
		echo "install: FAILED"
		FAILED=$((FAILED + 1))
	fi
}

# run_qemu SCRIPT: a check that boots something under QEMU; skipped
# (never passed) when the packages or QEMU cannot be had (exit 77).
run_qemu() {
	local rc=0
	"$1" || rc=$?
	case $rc in
	0) PASSED=$((PASSED + 1)) ;;
	77) SKIPPED=$((SKIPPED + 1)) ;;
	*) FAILED=$((FAILED + 1)) ;;
	esac
}

# The libFuzzer targets (clang), those two only.  fuzz_config SANITIZERS:
# the library under them, in a build directory of their own.  undefined
# (UBSan alone, build-fuzz-undefined) is ./run.sh fuzz's default: about
# 1.6 times the inputs a second of address,undefined (build-fuzz; ASan's
# allocator and shadow checks), and what it keeps is run under ASan by the
# suite's fuzz-corpus test once committed.  The smoke runs of ./run.sh
# test use address,undefined (docs/reliability.md, "Fuzzing").
fuzz_config() {
	FUZZ_SANITIZE=$1
	case $FUZZ_SANITIZE in
	address,undefined) FUZZ_DIR=build-fuzz ;;
	undefined) FUZZ_DIR=build-fuzz-undefined ;;
	*)
		echo "FUZZ_SANITIZE: undefined or address,undefined" >&2
		exit 2
		;;
	esac
}
build_fuzz() {
	if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
		CC=clang meson setup "$FUZZ_DIR" -Dfuzz=true \
			-Db_sanitize="$FUZZ_SANITIZE" -Db_lundef=false >/dev/null
	fi
	ninja -C "$FUZZ_DIR" -j "$JOBS" tests/fuzz-hypercall \
		tests/fuzz-restore >/dev/null
}

# fuzz_run TARGET SECONDS [ARG...]: fuzz-TARGET from its committed corpus,
# new inputs into $FUZZ_DIR/corpus-TARGET, crashes as $FUZZ_DIR/TARGET-*.
# The frequency below which entropic scheduling counts a feature as rare
# is 16 instead of 255: with the default, keeping the rare features'
# counts took up to 70 % of fuzz-restore's time.  Each input's energy is
# scaled by its execution time: the few inputs that bind every port of a
# 2-level table and more (about 1 ms each) were otherwise picked as often
# as the others and took most of fuzz-hypercall's time (docs/reliability.md).
fuzz_run() {
	local t=$1 sec=$2
	shift 2
	mkdir -p "$FUZZ_DIR/corpus-$t"
	"./$FUZZ_DIR/tests/fuzz-$t" -max_total_time="$sec" -rss_limit_mb=2048 \
		-entropic_feature_frequency_threshold=16 \
		-entropic_scale_per_exec_time=1 \
		-artifact_prefix="$FUZZ_DIR/$t-" "$@" \
		"$FUZZ_DIR/corpus-$t" "tests/corpus/$t"
}

# The smoke runs of ./run.sh test: 30 s of each target, one after the
# other, in the background while the Xen oracle's run keeps one QEMU
# thread busy (a core is idle then).  Not beside the nested-KVM runs: the
# nested platform's own crash comes more often on a busy host
# (docs/vmm.md).  A line "TARGET RC" each into $FUZZ_STATUS;
# logs in $FUZZ_DIR/smoke-TARGET.log.
fuzz_smoke() {
	local t rc
	if ! build_fuzz >/dev/null 2>&1; then
		echo "build 1"
		return
	fi
	for t in hypercall restore; do
		rc=0
		fuzz_run "$t" 30 >"$FUZZ_DIR/smoke-$t.log" 2>&1 || rc=$?
		echo "$t $rc"
	done
}

fuzz_smoke_start() {
	fuzz_config address,undefined
	FUZZ_STATUS=$(mktemp)
	fuzz_smoke >"$FUZZ_STATUS" &
	FUZZ_PID=$!
}

# Count them: a crash, a sanitizer report, a broken model check or a build
# that fails is a failure; each target that ran 30 s clean a pass.
fuzz_smoke_finish() {
	local name rc runs=0
	wait "$FUZZ_PID" || true
	while read -r name rc; do
		runs=$((runs + 1))
		if [ "$rc" -eq 0 ]; then
			echo "fuzz-$name: OK, 30 s ($(grep -o 'Done [0-9]* runs' \
				"$FUZZ_DIR/smoke-$name.log"))"
			PASSED=$((PASSED + 1))
		else
			echo "fuzz-$name: FAILED (exit $rc; $FUZZ_DIR/smoke-$name.log)"
			FAILED=$((FAILED + 1))
		fi
	done <"$FUZZ_STATUS"
	rm -f "$FUZZ_STATUS"
	[ "$runs" -gt 0 ] || FAILED=$((FAILED + 1))
}

# The live comparison with Xen.
run_oracle() { run_qemu scripts/oracle.sh; }
# evtchn-vmm and its test guest on a nested KVM.
run_kvm() { run_qemu scripts/kvm.sh; }
# Debian's Linux as a Xen HVM guest of evtchn-vmm on a nested KVM.
run_linux() { run_qemu scripts/linux.sh; }

summary() {
	echo "evtchn: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
}

case "${1:-}" in
demo)
	install_deps
	build build
	shift
	./build/evtchn-sim "$@"
	;;
test)
	# bpftrace: the trace-point test attaches to the library; gnuplot: the
	# benchmark smoke test draws its figures
	install_deps bpftrace gnuplot-nox
	run_plain
	run_install
	run_asan
	run_tsan
	fuzz_smoke_start
	run_oracle
	fuzz_smoke_finish
	run_kvm
	run_linux
	summary
	;;
oracle)
	install_deps
	build build
	run_oracle
	summary
	;;
kvm)
	install_deps
	run_kvm
	summary
	;;
linux)
	install_deps
	run_linux
	summary
	;;
asan)
	install_deps
	run_asan
	summary
	;;
tsan)
	install_deps
	run_tsan
	summary
	;;
fuzz | fuzz-restore)
	target=hypercall
	[ "$1" = fuzz ] || target=restore
	shift
	sec=${1:-60}
	[ $# -eq 0 ] || shift
	install_deps
	fuzz_config "${FUZZ_SANITIZE:-undefined}"
	build_fuzz
	fuzz_run "$target" "$sec" "$@"
	;;
bench)
	shift
	install_deps gnuplot-nox
	build build-bench --buildtype=release -Dtests=false
	mkdir -p docs/bench
	./build-bench/evtchn-bench --plot docs/bench/ "$@" |
		tee docs/bench/bench.txt
	;;
soak)
	shift
	kind=${1:-release}
	[ $# -eq 0 ] || shift
	install_deps
	case $kind in
	release)
		build build-release --buildtype=release -Dtests=false
		sim=build-release/evtchn-sim
		defaults=(--sends 100000000 --duration 86400)
		;;
	tsan)
		CC=clang build build-tsan -Db_sanitize=thread -Db_lundef=false
		sim=build-tsan/evtchn-sim
		defaults=(--duration 600)
		;;
	*)
		echo "run.sh: soak wants release or tsan, not '$kind'" >&2
		exit 2
		;;
	esac
	./$sim --chaos --interval 10 "${defaults[@]}" "$@"
	;;
*)
	sed -n '2,29p' "$0"
	exit 2
	;;
esac
