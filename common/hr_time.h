/*  hr_time: the two clocks Herald uses. Header-only.
    Wall-clock milliseconds stamp events (ts); monotonic milliseconds drive
    timers and deadlines, which must not jump with the wall clock.  */
#ifndef HR_TIME_H
#define HR_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
hr_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;
}

static inline uint64_t
hr_mono_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;
}

static inline uint64_t
hr_mono_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (uint64_t) now.tv_sec * 1000000 + (uint64_t) now.tv_nsec / 1000;
}

#endif
