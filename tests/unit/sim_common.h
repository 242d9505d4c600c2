/*  sim_common: what the seeded simulators (view_sim, repl_sim) share: the
    PRNG, the event queue (a binary heap on (at, seq)), the trace and the
    failure text, and the reading of their long-run arguments. The same seed replays the same run only if
    both keep using exactly these.  */
#ifndef SIM_COMMON_H_INCLUDED
#define SIM_COMMON_H_INCLUDED

#include "hr_buf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

//  splitmix64 on *state: the one PRNG; every choice of a run comes from it.
uint64_t sim_rnd (uint64_t *state);

//  Uniform in [lo, hi].
uint64_t sim_range (uint64_t *state, uint64_t lo, uint64_t hi);

//  True pct times in 100 (never for 0, drawing nothing then).
bool sim_chance (uint64_t *state, unsigned pct);

//  Every item of a heap begins with these two fields, in this order: time,
//  then order of scheduling (a total order, so ties replay the same way).
typedef struct {
    uint64_t at, seq;
} sim_when_t;

//  A heap of items of one size; zeroed by sim_heap_init, owned by the
//  simulator that embeds it.
typedef struct {
    char *items;
    size_t count, cap;
    size_t size;                //  of one item
    size_t max;                 //  items in flight at the most
    uint64_t next_seq;
} sim_heap_t;

void sim_heap_init (sim_heap_t *self, size_t size, size_t max);

//  Frees the items (not what they point to).
void sim_heap_free (sim_heap_t *self);

//  Stamps item's seq and copies it in; returns the copy, valid until the
//  next push or pop. NULL when max items are in flight already (nothing
//  stamped): the caller reports the flood.
void *sim_heap_push (sim_heap_t *self, void *item);

//  The earliest item, NULL when empty; valid until the next push or pop.
void *sim_heap_top (const sim_heap_t *self);

//  The i-th item in heap order (i < count), to walk them all.
void *sim_heap_item (const sim_heap_t *self, size_t i);

//  Copies the earliest item into top and removes it; the heap is not empty.
void sim_heap_pop (sim_heap_t *self, void *top);

//  Writes format's text and a newline to out (a run's trace).
void sim_vtrace (FILE *out, const char *format, va_list args);

//  Appends format's text (up to 1023 bytes) to failure, which holds the
//  run's prefix (seed, step, time) already.
void sim_vfail (hr_buf_t *failure, const char *format, va_list args);

//  The arguments of a long run: --seeds FROM:TO, --replay SEED, --steps N.
typedef struct {
    uint64_t from, to, steps;
    bool replay, seeds;
} sim_args_t;

//  Reads one of those (arg with its value) into args; false for any other
//  argument or a bad value.
bool sim_args_read (sim_args_t *args, const char *arg, const char *value);

#endif
