/*  hr_bench.h - Herald's load generator

    SSE subscribers by the thousand, a publisher at a fixed rate (ZeroMQ
    PUSH for Herald, HTTP POST for nchan), and a report of latency, fan-out
    time, loss and the server's CPU and memory. `hr-bench --help` lists the
    options; bench/README.md explains the modes and how runs were made.
*/
#ifndef HR_BENCH_H_INCLUDED
#define HR_BENCH_H_INCLUDED

//  Runs the generator with command-line arguments (argv[0] is the program
//  name; `herald bench ...` passes argv from "bench" on). Returns 0 when
//  the run happened, whatever it measured; 1 when it could not be set up;
//  2 on a bad option. Forks subscriber processes; all are gone when it
//  returns.
int
    hr_bench_main (int argc, char **argv);

#endif
