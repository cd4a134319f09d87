#!/usr/bin/env python3
"""evtchn-bench smoke tests: what it prints, never how fast anything was.

  bench_smoke.py json BENCH       --json has every figure, ratios positive
  bench_smoke.py plot BENCH DIR   --plot draws the figures into DIR
                                  (skipped, 77, without gnuplot)
  bench_smoke.py options BENCH    bad options: a message and exit 2

Small counts (--events) keep it quick under the sanitizers.
"""
import json
import os
import shutil
import subprocess
import sys

SMALL = ["--quick", "--runs", "1", "--events", "2000"]
SERIES = ["lib_2l", "lib_2l_apart", "raw_2l",
          "lib_fifo", "lib_fifo_apart", "raw_fifo"]
DISTS = ["timer", "send_lib_2l", "send_raw_2l", "send_lib_fifo",
         "send_raw_fifo", "roundtrip_lib", "roundtrip_raw"]
FIGURES = ["latency-send.svg", "latency-roundtrip.svg", "scaling.svg"]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def run(bench, args):
    return subprocess.run([bench] + args, capture_output=True, text=True,
                          timeout=600)


def check_json(bench):
    p = run(bench, SMALL + ["--json"])
    if p.returncode != 0:
        print(p.stderr)
        return [f"exit {p.returncode}"]
    j = json.loads(p.stdout)
    for k in ["runs", "events", "send_2l", "send_fifo", "ops_at_1024",
              "ops_at_131072", "roundtrip", "routes_4096", "scaling",
              "latency_ns", "bytes_per_port_2l", "bytes_per_port_fifo"]:
        check(k in j, f"key {k} missing")
    check(j.get("runs") == 1 and j.get("events") == 2000,
          "runs/events not as asked")
    for k in ["send_2l", "send_fifo", "roundtrip"]:
        for f in ["lib_ns", "raw_ns", "ratio", "ratio_min", "ratio_max"]:
            check(j[k][f] > 0, f"{k}.{f} not positive")

    sc = j["scaling"]
    threads = sc["threads"]
    check(threads[:2] == [1, 2] and threads == list(range(1, len(threads) + 1))
          and len(threads) <= 4, f"scaling threads {threads}")
    check(sc["cpus"] >= 1 and sc["events_per_thread"] == 2000,
          "scaling cpus/events")
    check(len(sc["pinned"]) == len(threads), "scaling pinned")
    for s in SERIES:
        e = sc.get(s)
        check(e is not None, f"scaling.{s} missing")
        if e is None:
            continue
        fields = ["mev_s", "scaling"] + ([] if s.startswith("raw") else
                                         ["ratio"])
        for f in fields:
            for v in (f, f + "_min", f + "_max"):
                check(len(e.get(v, [])) == len(threads),
                      f"scaling.{s}.{v} length")
                check(all(x > 0 for x in e.get(v, [])),
                      f"scaling.{s}.{v} not positive")
        check(e["scaling"][0] == 1, f"scaling.{s} at one thread is not 1")
        if not s.startswith("raw"):
            check(e.get("raw") in SERIES, f"scaling.{s}.raw")

    lat = j["latency_ns"]
    for d in DISTS:
        e = lat.get(d)
        check(e is not None, f"latency_ns.{d} missing")
        if e is None:
            continue
        check(e["samples"] > 0, f"latency_ns.{d}: no samples")
        check(0 <= e["p50"] <= e["p90"] <= e["p99"] <= e["max"],
              f"latency_ns.{d}: percentiles out of order {e}")
    return failures


def check_plot(bench, out):
    if not shutil.which("gnuplot"):
        print("SKIP: no gnuplot (Debian: gnuplot-nox)")
        sys.exit(77)
    shutil.rmtree(out, ignore_errors=True)
    p = run(bench, SMALL + ["--plot", out + "/"])
    check(p.returncode == 0, f"--plot: exit {p.returncode}: {p.stderr}")
    check("send + consume" in p.stdout, "--plot: no table on stdout")
    for f in FIGURES + ["plot.gp", "scaling-lib_2l.dat",
                        "latency-send_lib_2l.dat"]:
        path = os.path.join(out, f)
        check(os.path.isfile(path) and os.path.getsize(path) > 0,
              f"{f} not written")
    for f in FIGURES:
        path = os.path.join(out, f)
        if os.path.isfile(path):
            with open(path) as fh:
                check("<svg" in fh.read(), f"{f} is not SVG")
    return failures


def check_options(bench):
    bad = [["--bogus"], ["-x"], ["--runs"], ["--runs", "x"],
           ["--runs", "0"], ["--runs", "32"], ["--runs", "3x"],
           ["--events", "5"], ["--events", "-1"], ["--plot", ""],
           ["extra"]]
    for args in bad:
        p = run(bench, args)
        check(p.returncode == 2, f"{args}: exit {p.returncode}, not 2")
        check(p.stderr.strip() != "", f"{args}: no message")
        check(p.stdout == "", f"{args}: measured anyway")
    p = run(bench, ["--help"])
    check(p.returncode == 0 and "--plot" in p.stdout, "--help")
    return failures


def main():
    mode, bench = sys.argv[1], sys.argv[2]
    if mode == "json":
        check_json(bench)
    elif mode == "plot":
        check_plot(bench, sys.argv[3])
    elif mode == "options":
        check_options(bench)
    else:
        sys.exit(f"unknown mode {mode}")
    for f in failures:
        print("FAIL:", f)
    print(f"{mode}: {'FAILED' if failures else 'OK'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
