# evtchn-bench figures: run 'gnuplot plot.gp' in this directory.
set terminal svg size 1000,460 dynamic noenhanced font 'Sans,12' background rgb 'white'
set grid
set encoding utf8

set output 'latency-send.svg'
set multiplot layout 1,2 title "send + consume, one event, timed one by one (each time includes one clock_gettime)"
set logscale x
set format x '%.0s%c'
set xlabel "ns per event (log scale)"
set title 'all samples'
set ylabel 'samples at or below'
set yrange [0:100]
set ytics auto
set format y '%g%%'
unset key
plot 'latency-send_lib_2l.dat' using 1:($2*100) with lines lc rgb '#1f77b4' lw 2, \
     'latency-send_raw_2l.dat' using 1:($2*100) with lines lc rgb '#1f77b4' lw 2 dt 2, \
     'latency-send_lib_fifo.dat' using 1:($2*100) with lines lc rgb '#d62728' lw 2, \
     'latency-send_raw_fifo.dat' using 1:($2*100) with lines lc rgb '#d62728' lw 2 dt 2, \
     'latency-timer.dat' using 1:($2*100) with lines lc rgb '#808080' lw 1.5 dt 3
set title 'the tail: 90% and up'
set ylabel ''
set yrange [1:*]
set format y '%g'
set ytics ('90%%' 1, '99%%' 2, '99.9%%' 3, '99.99%%' 4, '99.999%%' 5, '99.9999%%' 6, '99.99999%%' 7, '99.999999%%' 8, '99.9999999%%' 9)
set offsets 0, 0, graph 0.3, 0
set key top left reverse Left opaque font ',10'
plot 'latency-send_lib_2l.dat' using 1:3 with lines lc rgb '#1f77b4' lw 2 title "send, library, 2-level", \
     'latency-send_raw_2l.dat' using 1:3 with lines lc rgb '#1f77b4' lw 2 dt 2 title "send, raw atomics, 2-level", \
     'latency-send_lib_fifo.dat' using 1:3 with lines lc rgb '#d62728' lw 2 title "send, library, FIFO", \
     'latency-send_raw_fifo.dat' using 1:3 with lines lc rgb '#d62728' lw 2 dt 2 title "send, raw atomics, FIFO", \
     'latency-timer.dat' using 1:3 with lines lc rgb '#808080' lw 1.5 dt 3 title "empty timed iteration"
set offsets 0, 0, 0, 0
unset multiplot
unset logscale x
set format x '%g'
set format y '%g'
set ytics auto

set output 'latency-roundtrip.svg'
set multiplot layout 1,2 title "round trip guest -> backend -> guest, timed one by one"
set logscale x
set format x '%.0s%c'
set xlabel "ns per round trip (log scale)"
set title 'all samples'
set ylabel 'samples at or below'
set yrange [0:100]
set ytics auto
set format y '%g%%'
unset key
plot 'latency-roundtrip_lib.dat' using 1:($2*100) with lines lc rgb '#1f77b4' lw 2, \
     'latency-roundtrip_raw.dat' using 1:($2*100) with lines lc rgb '#ff7f0e' lw 2 dt 2
set title 'the tail: 90% and up'
set ylabel ''
set yrange [1:*]
set format y '%g'
set ytics ('90%%' 1, '99%%' 2, '99.9%%' 3, '99.99%%' 4, '99.999%%' 5, '99.9999%%' 6, '99.99999%%' 7, '99.999999%%' 8, '99.9999999%%' 9)
set offsets 0, 0, graph 0.3, 0
set key top left reverse Left opaque font ',10'
plot 'latency-roundtrip_lib.dat' using 1:3 with lines lc rgb '#1f77b4' lw 2 title "round trip, library", \
     'latency-roundtrip_raw.dat' using 1:3 with lines lc rgb '#ff7f0e' lw 2 dt 2 title "round trip, raw eventfd ping-pong"
set offsets 0, 0, 0, 0
unset multiplot
unset logscale x
set format x '%g'
set format y '%g'
set ytics auto

set output 'scaling.svg'
set multiplot layout 1,2 title "T threads, each sending on its own vCPU's IPI port and consuming, 200000 events each (2 CPUs)"
set xrange [0.8:2.2]
set xtics 1
set xlabel 'threads (one vCPU each)'
set title 'aggregate throughput'
set ylabel 'million events/s, all threads'
set yrange [0:*]
set key top left
plot 'scaling-lib_2l.dat' using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 notitle, \
     'scaling-lib_2l.dat' using 1:8 with lines lc rgb '#808080' dt 4 title 'T x one thread', \
     'scaling-lib_2l_apart.dat' using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 1.5 dt 3 pt 6 notitle, \
     'scaling-raw_2l.dat' using 1:2:3:4 with yerrorlines lc rgb '#1f77b4' lw 2 dt 2 pt 5 notitle, \
     'scaling-raw_2l.dat' using 1:8 with lines lc rgb '#808080' dt 4 notitle, \
     'scaling-lib_fifo.dat' using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 pt 7 notitle, \
     'scaling-lib_fifo.dat' using 1:8 with lines lc rgb '#808080' dt 4 notitle, \
     'scaling-lib_fifo_apart.dat' using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 1.5 dt 3 pt 6 notitle, \
     'scaling-raw_fifo.dat' using 1:2:3:4 with yerrorlines lc rgb '#d62728' lw 2 dt 2 pt 5 notitle, \
     'scaling-raw_fifo.dat' using 1:8 with lines lc rgb '#808080' dt 4 notitle
set title 'scaling: throughput(T) / throughput(1)'
set ylabel 'scaling'
set yrange [0:4]
set key top left reverse Left opaque font ',10'
plot x with lines lc rgb '#000000' dt 2 title 'ideal', \
     'scaling-lib_2l.dat' using 1:5:6:7 with yerrorlines lc rgb '#1f77b4' lw 2 pt 7 title "library, 2-level", \
     'scaling-lib_2l_apart.dat' using 1:5:6:7 with yerrorlines lc rgb '#1f77b4' lw 1.5 dt 3 pt 6 title "library, 2-level, ports a line apart", \
     'scaling-raw_2l.dat' using 1:5:6:7 with yerrorlines lc rgb '#1f77b4' lw 2 dt 2 pt 5 title "raw atomics, 2-level", \
     'scaling-lib_fifo.dat' using 1:5:6:7 with yerrorlines lc rgb '#d62728' lw 2 pt 7 title "library, FIFO", \
     'scaling-lib_fifo_apart.dat' using 1:5:6:7 with yerrorlines lc rgb '#d62728' lw 1.5 dt 3 pt 6 title "library, FIFO, ports a line apart", \
     'scaling-raw_fifo.dat' using 1:5:6:7 with yerrorlines lc rgb '#d62728' lw 2 dt 2 pt 5 title "raw atomics, FIFO"
unset multiplot
