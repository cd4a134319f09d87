#!/usr/bin/env bash
# USDT trace points (src/trace.h).
#   usdt.sh notes LIB        every probe is in LIB's .note.stapsdt
#   usdt.sh trace LIB DEMO   bpftrace attached to LIB sees what DEMO does;
#                            skipped (77) where bpftrace cannot attach
set -euo pipefail
mode=$1 lib=$(readlink -f "$2")
probes=(send deliver upcall bind close)

if [ "$mode" = notes ]; then
	notes=$(readelf -n "$lib")
	for p in "${probes[@]}"; do
		grep -q "Name: $p\$" <<<"$notes" || { echo "probe evtchn:$p missing"; exit 1; }
	done
	echo "all ${#probes[@]} probes present"
	exit 0
fi

demo=$3
command -v bpftrace >/dev/null || { echo "SKIP: no bpftrace"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The program counts each probe by its arguments; BEGIN fires once every
# probe is attached, so the demo starts after "ready".
# Probes attach to the library file: only the demo's own hits count (a
# test running at the same time uses the same file).
only="/comm == \"$(basename "$demo" | cut -c1-15)\"/"
bpftrace -e "
BEGIN { printf(\"ready\n\"); }
usdt:$lib:evtchn:send $only { @send[arg0, arg1, arg2] = count(); }
usdt:$lib:evtchn:bind $only { @bind[arg0, arg1, arg2] = count(); }
usdt:$lib:evtchn:deliver $only { @deliver[arg0, arg1, arg2] = count(); }
usdt:$lib:evtchn:upcall $only { @upcall[arg0, arg1] = count(); }
usdt:$lib:evtchn:close $only { @close[arg0, arg1] = count(); }
" >"$out" 2>&1 &
bt=$!
for _ in $(seq 100); do
	grep -q '^ready' "$out" && break
	kill -0 $bt 2>/dev/null || break
	sleep 0.2
done
if ! grep -q '^ready' "$out"; then
	kill $bt 2>/dev/null || true
	echo "SKIP: bpftrace cannot attach here:"; cat "$out"
	exit 77
fi
"$demo" >/dev/null
kill -INT $bt
wait $bt || true
cat "$out"
# What the demo does in domain 1 (tools/evtchn-demo.c): IPI port 1 bound
# (ECS_IPI 6), ports 2 and 3 an interdomain loopback (ECS_INTERDOMAIN 3),
# a send on 1 and on 3 (rc 0), events on 1 (vCPU 1) and 2 (vCPU 0),
# upcalls on both vCPUs, and ports 1-3 closed when the domain goes.
expect() {
	grep -qF "$1" "$out" || { echo "expected: $1"; exit 1; }
}
expect "@bind[1, 1, 6]: 1"
expect "@bind[1, 3, 3]: 1"
expect "@send[1, 1, 0]: 1"
expect "@send[1, 3, 0]: 1"
expect "@deliver[1, 1, 1]: 1"
expect "@deliver[1, 0, 2]:"
expect "@upcall[1, 1]:"
expect "@close[1, 1]: 1"
expect "@close[1, 3]: 1"
echo "probes fired as expected"
