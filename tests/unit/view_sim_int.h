/*  view_sim_int: the simulator's state, shared by view_sim.c (brokers,
    network, invariants) and view_sim_faults.c (random faults, quiet periods,
    liveness). Private to those two files.  */
#ifndef VIEW_SIM_INT_H
#define VIEW_SIM_INT_H

#include "view_sim.h"

#include "hr_buf.h"
#include "sim_common.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAXB HR_CLUSTER_MAX
#define PARTITIONS_MAX 32
//  A machine that floods the network is a failure, not an out-of-memory.
#define EVENTS_MAX 2000000
#define INBOX_MAX 200000

typedef enum {
    EV_START,           //  a broker starts (first start or restart with its durable state)
    EV_TICK, EV_DELIVER, EV_RESUME, EV_EXIT,
    EV_HEAL,            //  a partition ends
    EV_FAULT,           //  chaos: the next random fault
    EV_PHASE            //  chaos: quiet -> chaos -> quiet...
} ev_kind_t;

typedef struct {
    uint64_t at, seq;           //  sim_when_t's: time, then order of scheduling
    ev_kind_t kind;
    int broker;
    uint32_t gen;               //  the incarnation (or pause, or partition) it is for
    hrb_view_msg_t msg;
} event_t;

typedef struct {
    hrb_view_sm_t *sm;          //  NULL: down (crashed, exited, not started)
    uint32_t gen;               //  incarnation; events of an older one are void
    uint32_t pause_gen;
    bool paused, tick_pending, leaving, exiting, exited;
    uint64_t offset;            //  its monotonic clock = simulated time + offset
    uint64_t last_installed;    //  across incarnations (invariant 2)
    uint64_t term;              //  highest durable term seen, across incarnations
    int voted_for;              //  its vote in term (-1: none), across incarnations
    uint64_t restored;          //  the view number it restarted with: no sequencing
                                //  under it (it lost its channels' state); 0: none
    hrb_view_durable_t disk;    //  what it persisted last (baseline when !disk_valid)
    bool disk_valid;
    hrb_view_msg_t *inbox;      //  arrived while paused, in order
    size_t inbox_size, inbox_cap;
} broker_t;

typedef struct {
    bool active;
    uint32_t gen;               //  heal events of an earlier use of the slot are void
    hr_members_t links [MAXB];  //  links [from]: the receivers cut from it
    unsigned loss;              //  % of messages lost on those links; 100: cut
} partition_t;

typedef struct {
    uint64_t number;            //  0: free slot
    hrb_view_t view;
    int by;                     //  first broker seen installing it
} record_t;

//  Who owns each test channel under one owners set (VIEW_SIM_CHANNELS is 64:
//  a set of channels is a uint64_t).
typedef struct {
    int owner [VIEW_SIM_CHANNELS];
    uint64_t owned [MAXB];      //  owned [b]: the channels b owns
} vs_ownership_t;

struct _view_sim_t {
    view_sim_opts_t opts;
    hrb_view_config_t config;
    size_t n;
    hr_members_t all;
    hr_cluster_t *cluster;
    uint64_t rng, now;
    sim_heap_t queue;           //  of event_t
    broker_t b [MAXB];
    uint8_t cut [MAXB][MAXB];   //  partitions cutting from -> to
    uint8_t loss [MAXB][MAXB];  //  % lost from -> to: the worst lossy partition
    partition_t parts [PARTITIONS_MAX];
    unsigned drop_pct, dup_pct, long_pct;
    uint64_t max_delay;
    record_t *records;          //  view number -> content (open addressing)
    size_t records_cap;
    vs_ownership_t **ownership; //  by owners set, made when first needed
    int sequencer [VIEW_SIM_CHANNELS];  //  of the channels asked at the last check; -1: none
    bool quiet, converged;      //  chaos mode: in a quiet period; converged in it
    uint64_t quiet_start;
    uint64_t converge_asked;    //  when the channels were last asked for liveness
    uint32_t phase;             //  chaos periods begun; faults of an earlier one are void
    view_sim_stats_t stats;
    hr_buf_t failure;
};

//  view_sim.c
uint64_t vs_rnd (view_sim_t *self);
uint64_t vs_range (view_sim_t *self, uint64_t lo, uint64_t hi);     //  uniform in [lo, hi]
bool vs_chance (view_sim_t *self, unsigned pct);
void vs_trace (view_sim_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
event_t *vs_schedule (view_sim_t *self, uint64_t at, ev_kind_t kind, int broker, uint32_t gen);
void vs_start (view_sim_t *self, int b);
void vs_stop (view_sim_t *self, int b);
//  "0,2,3" or "-".
void vs_members_text (hr_members_t set, char *buf, size_t size);
//  After each call into b's machine: checks its outputs, persists, sends.
void vs_after_call (view_sim_t *self, int b, const hrb_view_out_t *out);
//  Cuts links [from] (receivers) for every from (loss 100), or loses loss %
//  of their messages; returns the partition's slot, or -1 when every slot
//  is taken.
int vs_partition (view_sim_t *self, const hr_members_t links [MAXB], unsigned loss);
void vs_partition_end (view_sim_t *self, int slot, uint32_t gen);

//  view_sim_seq.c: invariant 3. Which channels each broker is asked about:
typedef enum {
    VS_ASK_ALL,         //  every channel
    VS_ASK_OWNED,       //  those it owns in its installed view (may_sequence is false
                        //  for the others), so sequencer [] is exact
    VS_ASK_RISKY        //  those two brokers own in their installed views (the only
                        //  ones two could sequence at once) and one more in turn,
                        //  which catches a machine sequencing what it does not own
} vs_ask_t;
void vs_check_sequencers (view_sim_t *self, vs_ask_t ask);
//  view_sim_converged without the channels (cheap).
bool vs_agreed (const view_sim_t *self);

//  view_sim_faults.c
void vs_chaos_init (view_sim_t *self);
bool vs_chaos_handle (view_sim_t *self, const event_t *ev);
//  After every step's invariants: liveness of the quiet period.
void vs_chaos_check (view_sim_t *self);

#endif
