/*  repl_sim: a seeded deterministic simulator of synchronous replication
    and fencing (docs/cluster.md, "Zero-reset failover"), driving the real
    owner machine (broker/hrb_sync.h) and backup machine
    (broker/hrb_backup.h), written from those headers.

    Three brokers and a few channels. Views come from an oracle, not from
    hrb_view (its own simulator tests it): each view follows the one
    before (number + 1), is installed on each broker at its own time, and
    leases and fences are exactly what docs/cluster.md ("Why it is safe")
    proves and no more: an owner the next view drops keeps its lease until
    that view's first install, any other until a lease after it; a new
    owner sequences a moved channel a lease after its install, or (the
    certificate: its previous owner dropped) a lease after its install of
    the view before. Each broker runs a small glue like the real one:
    publishes are sequenced and handed to hrb_sync, frames travel over a
    per-pair FIFO network (random delays; losses only at reconnects and
    partitions, where queuing may also fail), releases are published to a
    gateway model or answered `unavailable` (the publisher retries with its
    key), the backup applies items and snapshots into its replica and
    answers racks, and at install a new owner keeps the epoch only when the
    view follows, it was the backup and hrb_backup_keeps says so.

    Faults: crashes (state lost, back later empty), pauses (SIGSTOP), one
    way and two way partitions, reconnects. Chaos periods alternate with
    quiet ones, in which liveness is checked. On most seeds the brokers
    have durable stores: a crash (of one broker, of the whole cluster, or
    inside an install) may keep the store, and a restart whose store is in
    step with its saved view keeps the channels it owned there
    (repl_sim_durable.c).

    Invariants, checked as each step happens (a failure names the seed and
    the step):
    1. no (channel, epoch, seq) is ever given two payloads by a replica,
       an owner's store, a release or a publish; nor does an owner
       sequence a seq that a replica or a publish already gave another;
    2. a broker continuing an epoch at takeover holds every event of it
       published so far (same payloads: no silent gap, no reuse), and
       nobody publishes in that epoch past its head afterwards; an event
       released REPLICATED is in its backup's replica (unless it
       restarted), ALONE only with --min-replicas 1 and the lease;
    3. in a quiet period nothing waits for long and every channel's
       publishes are acknowledged;
    4. an acknowledged publish was delivered to the gateway model, and no
       key is delivered twice in one epoch (keys move with snapshots and
       takeovers).

    Ownership: the caller owns the simulator; it owns everything in it.  */
#ifndef REPL_SIM_H
#define REPL_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _repl_sim_t repl_sim_t;

typedef struct {
    uint64_t seed;
    int min_replicas;               //  1 or 2
    bool scripted;                  //  no random faults, no quiet periods: the caller's
    FILE *trace;                    //  one line per step and action; NULL: none
    uint64_t trace_from;            //  first step traced
} repl_sim_opts_t;

typedef struct {
    uint64_t steps;
    uint64_t views, installs;
    uint64_t publishes, sequenced, acked, dups, unavailable;
    uint64_t replicated, alone, dropped;    //  releases by outcome
    uint64_t frames, snapshots, racks, lost, refused;   //  network
    uint64_t fences, gaps, misses;
    uint64_t kept, new_epochs, resets;      //  takeovers keeping the epoch; epochs begun
    uint64_t resequenced;           //  seqs sequenced again after a deposed owner's
    uint64_t crashes, pauses, partitions, cuts, reconnects, evictions;
    uint64_t quiet_checked;
    //  Durable stores: crashes that kept the store (and of the whole
    //  cluster at once), installs cut by a crash, restarts keeping their
    //  channels or out of step (mark != saved view); kept channels that
    //  went on in their epoch, that a later view dropped, and kept
    //  streams holding a seq the epoch's continuation published otherwise
    uint64_t durable_crashes, whole_crashes, install_crashes;
    uint64_t durable_keeps, out_of_step;
    uint64_t durable_kept, durable_dropped, durable_stale;
} repl_sim_stats_t;

repl_sim_t *repl_sim_new (const repl_sim_opts_t *opts);
void repl_sim_destroy (repl_sim_t **self_p);

//  Runs until steps steps have run in all, or a failure. False on failure.
bool repl_sim_run_steps (repl_sim_t *self, uint64_t steps);

//  What failed (with seed, step and time), or NULL.
const char *repl_sim_failure (const repl_sim_t *self);

const repl_sim_stats_t *repl_sim_stats (const repl_sim_t *self);

//  Scenarios (scripted): runs every event up to simulated time t (ms);
//  false on failure.
bool repl_sim_run_until (repl_sim_t *self, uint64_t t);
uint64_t repl_sim_now (const repl_sim_t *self);
//  Timing drawn from the seed, ms.
uint64_t repl_sim_validity (const repl_sim_t *self);
uint64_t repl_sim_timeout (const repl_sim_t *self);
uint64_t repl_sim_lease (const repl_sim_t *self);
//  Whether a channel's backup is the second of the view's members (else
//  of its owners), drawn from the seed.
bool repl_sim_backup_among_members (const repl_sim_t *self);
//  When the view oracle makes b an owner again after its hold-down (the
//  time it looks; 0: b is not heard now).
uint64_t repl_sim_promotion (const repl_sim_t *self, int b);
//  Channel ch's owner and backup in the newest view (-1: none).
int repl_sim_owner (const repl_sim_t *self, int ch);
int repl_sim_backup (const repl_sim_t *self, int ch);
//  The newest epoch of ch the gateway model got (0: none yet).
uint64_t repl_sim_epoch (const repl_sim_t *self, int ch);
//  Faults: a crash (the broker restarts by itself later), a link cut or
//  healed (one direction).
void repl_sim_crash (repl_sim_t *self, int b);
void repl_sim_cut (repl_sim_t *self, int from, int to, bool cut);
void repl_sim_pause (repl_sim_t *self, int b, uint64_t ms);
//  The link from -> to breaks (what is in flight is lost, queuing fails a
//  moment: a new session) and then crawls (heartbeat-long delays).
void repl_sim_flap (repl_sim_t *self, int from, int to);
//  b's replica refuses ch's items for ms (its memory is full: misses).
void repl_sim_full (repl_sim_t *self, int b, int ch, uint64_t ms);
//  Channel ch's state towards its backup on owner b (0: unknown, or b down).
int repl_sim_state (const repl_sim_t *self, int b, int ch);

#endif
