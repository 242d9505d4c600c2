/*  view_sim: a seeded deterministic simulator of brokers running the view
    state machine (broker/hrb_view.h), written from that header's spec
    (docs/cluster.md, "Simulation").

    One simulated clock in ms; each broker has its own monotonic clock (an
    offset from it) and ticks every heartbeat with jitter. Messages travel
    with random delays, and may be dropped, duplicated or held for long
    (TCP buffering) so that they arrive out of order. Partitions cut
    directed links (symmetric, one-way, any set). A paused broker (SIGSTOP)
    acts on nothing; what arrives for it waits until it resumes. A crash
    loses everything but the last durable state the broker was told to
    persist. Every choice comes from one PRNG seeded by the seed, so a seed
    replays exactly, step by step.

    After every step the invariants are checked: one content per view
    number, installs in increasing order per broker, at most one running
    broker may sequence each channel, owners within members and members a
    majority, and (in chaos mode) liveness after each quiet period.

    Ownership: the caller owns the simulator; it owns its machines, its
    cluster and its messages.  */
#ifndef VIEW_SIM_H
#define VIEW_SIM_H

#include "hrb_view.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _view_sim_t view_sim_t;

typedef struct {
    uint64_t seed;
    size_t brokers;                 //  1..HR_CLUSTER_MAX
    bool chaos;                     //  random faults and quiet periods; false: the caller drives
    const hrb_view_config_t *config;    //  timing (self, size, seed ignored); NULL: drawn from the seed
    bool full;                      //  invariant 3 asks every broker about every channel
                                    //  at every step (slow); else view_sim_seq.c
    FILE *trace;                    //  one line per step and per action; NULL: none
    uint64_t trace_from;            //  first step traced
} view_sim_opts_t;

//  Counters over a run.
typedef struct {
    uint64_t steps;
    uint64_t delivered, dropped, duplicated;
    uint64_t installs;              //  views installed, summed over brokers
    uint64_t numbers;               //  distinct view numbers installed
    uint64_t elections;             //  vote requests sent
    uint64_t partitions, pauses, crashes, leaves, lefts;
    uint64_t quiet_checked;         //  quiet periods whose liveness was checked
    uint64_t converge_max;          //  longest quiet start -> converged, ms
    uint64_t asked;                 //  may_sequence questions
    uint64_t sequence_true;         //  answers that were true
} view_sim_stats_t;

view_sim_t *view_sim_new (const view_sim_opts_t *opts);
void view_sim_destroy (view_sim_t **self_p);

//  Runs one step (one event). False once an invariant failed.
bool view_sim_step (view_sim_t *self);

//  Runs until steps steps have run in all, or a failure. False on failure.
bool view_sim_run_steps (view_sim_t *self, uint64_t steps);

//  Runs every event up to simulated time t (ms). False on failure.
bool view_sim_run_until (view_sim_t *self, uint64_t t);

//  What failed (with seed, step and time), or NULL.
const char *view_sim_failure (const view_sim_t *self);

//  Reports a failure found by the caller (a scenario check).
void view_sim_fail (view_sim_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

uint64_t view_sim_now (const view_sim_t *self);     //  simulated ms
const view_sim_stats_t *view_sim_stats (const view_sim_t *self);
const hrb_view_config_t *view_sim_config (const view_sim_t *self);
const hr_cluster_t *view_sim_cluster (const view_sim_t *self);
//  The brokers' liveness bound after a quiet period starts, ms.
uint64_t view_sim_bound (const view_sim_t *self);

//  Scenario controls (with chaos off). Each acts at the current time.
void view_sim_crash (view_sim_t *self, int b);
void view_sim_restart (view_sim_t *self, int b);      //  with its durable state
void view_sim_pause (view_sim_t *self, int b);
void view_sim_resume (view_sim_t *self, int b);
void view_sim_cut (view_sim_t *self, int from, int to);   //  one direction
void view_sim_lossy (view_sim_t *self, int from, int to, unsigned pct);  //  pct % lost
void view_sim_heal (view_sim_t *self);                     //  every link
void view_sim_leave (view_sim_t *self, int b);

//  A running broker's machine (paused or not), or NULL when it is down.
//  Borrowed, valid until it crashes or exits.
const hrb_view_sm_t *view_sim_machine (const view_sim_t *self, int b);
//  A broker's own clock now.
uint64_t view_sim_local (const view_sim_t *self, int b);
//  Has broker b exited after a graceful leave (and not restarted)?
bool view_sim_exited (const view_sim_t *self, int b);

//  Test channels (64 fixed names).
#define VIEW_SIM_CHANNELS 64
const char *view_sim_channel (size_t i);

//  Which running, unpaused broker may sequence channel i now: its index,
//  -1 for none (two at once is a failure caught after each step).
int view_sim_sequencer (view_sim_t *self, size_t i);

//  The liveness condition now: every broker runs, none is paused, all
//  installed the same view, every broker is in it, and each channel has a
//  broker that may sequence it.
bool view_sim_converged (view_sim_t *self);

//  Brief text of a view, for messages: "v7{m=0,1,2 o=0,1 h=-}". Into buf.
const char *view_sim_view_text (const hrb_view_t *view, char *buf, size_t size);

#endif
