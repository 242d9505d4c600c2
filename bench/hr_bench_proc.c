/*  hr_bench_proc.c - CPU time and memory of the server under test

    /proc/PID/stat's second field is the command name in parentheses and
    may itself hold spaces or parentheses, so fields are counted from the
    last ')'.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hr_bench_proc.h"

static int
s_read_file (const char *path, char *buf, size_t size)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t len = fread (buf, 1, size - 1, file);
    fclose (file);
    buf [len] = '\0';
    return 0;
}

static int
s_cpu (int pid, double *cpu_s)
{
    char path [64], buf [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    if (s_read_file (path, buf, sizeof buf) != 0)
        return -1;
    char *cursor = strrchr (buf, ')');
    if (!cursor)
        return -1;
    //  After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt
    //  cminflt majflt cmajflt utime(14) stime(15).
    unsigned long long utime, stime;
    if (sscanf (cursor + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                &utime, &stime) != 2)
        return -1;
    *cpu_s = (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
    return 0;
}

static int
s_rss (int pid, uint64_t *rss_kb)
{
    char path [64], buf [4096];
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    if (s_read_file (path, buf, sizeof buf) != 0)
        return -1;
    char *line = strstr (buf, "\nVmRSS:");
    if (!line)
        return -1;
    *rss_kb = strtoull (line + 7, NULL, 10);
    return 0;
}

hr_bench_proc_sample_t
hr_bench_proc_sample (const int *pids, int count)
{
    hr_bench_proc_sample_t sample = { .ok = true };
    for (int at = 0; at < count; at++) {
        double cpu_s = 0;
        uint64_t rss_kb = 0;
        if (s_cpu (pids [at], &cpu_s) != 0 || s_rss (pids [at], &rss_kb) != 0)
            sample.ok = false;
        sample.cpu_s += cpu_s;
        sample.rss_kb += rss_kb;
    }
    return sample;
}
