/*  repl_sim_int: the simulator's state, shared by repl_sim.c (events,
    network, the view oracle), repl_sim_faults.c (faults, chaos and quiet
    periods), repl_sim_glue.c (each broker's glue around hrb_sync and
    hrb_backup) and repl_sim_check.c (the records the invariants are
    checked against, the gateway and the publishers). Private to those
    files.  */
#ifndef REPL_SIM_INT_H
#define REPL_SIM_INT_H

#include "repl_sim.h"

#include "hrb_backup.h"
#include "hrb_sync.h"
#include "hr_buf.h"
#include "hr_cluster.h"
#include "sim_common.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RS_B 3                  //  brokers
#define RS_C 5                  //  channels
#define RS_VIEWS_MAX 4096
#define RS_EVENTS_MAX 1000000
#define RS_PUBS_MAX 4           //  unacknowledged publishes per channel at once

typedef enum {
    EV_TICK, EV_DELIVER, EV_INSTALL, EV_PUBLISH, EV_RESUME, EV_RESTART,
    EV_HEAL, EV_ORACLE, EV_FAULT, EV_PHASE, EV_NEWPUB
} ev_kind_t;

typedef enum { MSG_REPL, MSG_RSNAP, MSG_RACK } msg_kind_t;

//  The envelope an owner hands to hrb_sync: what the event is.
typedef struct {
    uint64_t epoch, seq, key;
} rs_env_t;

typedef struct {
    int ch;
    rs_env_t env;
} rs_item_t;

typedef struct {
    msg_kind_t kind;
    int from, to;
    uint32_t link_gen, to_gen;  //  lost if the link reconnected or the receiver restarted
    uint64_t n, r, echo;
    bool first;
    rs_item_t *items;           //  repl: the items; rsnap: the events (seq 1.. of epoch)
    size_t count;
    //  rsnap
    int ch;
    uint64_t epoch, head, part;
    bool last;
    //  rack
    bool fence, gap;
    uint64_t installed, stamp;
    int miss_ch [HRB_BACKUP_MISSES_MAX];
    uint64_t miss_r [HRB_BACKUP_MISSES_MAX];
    size_t misses;
} rs_msg_t;

typedef struct {
    uint64_t at, seq;           //  sim_when_t's: time, then order of scheduling
    ev_kind_t kind;
    int broker;
    uint32_t gen;
    uint64_t arg;
    rs_msg_t *msg;
} rs_event_t;

//  A channel's stream on a broker: an owner's store (events 1..count
//  released, head the last sequenced) or a replica (head, and the keys it
//  holds of 1..head; 0: a hole).
typedef struct {
    uint64_t epoch;             //  0: none
    uint64_t head;
    uint64_t *keys;             //  keys [seq - 1]
    size_t count, cap;
} rs_stream_t;

typedef struct {
    bool up, paused, in_cut, out_cut;   //  running; SIGSTOPped; every link into / out of it cut
    uint32_t gen;               //  incarnation
    uint32_t pause_gen;
    uint64_t offset;            //  its clock = simulated time + offset
    hrb_sync_t *sync;
    hrb_backup_t *backup;
    uint64_t view, prev;        //  installed, and the one before it in this incarnation
    uint64_t view_at;           //  when (simulated time)
    bool restored;              //  restarted owning channels: sequences nothing in that view
    uint64_t fenced_by;         //  the newest view a fence it got named
    rs_stream_t own [RS_C];
    uint64_t fence [RS_C];      //  may sequence ch from (simulated time)
    rs_stream_t rep [RS_C];
    uint64_t evicted [RS_C];    //  when its replica last lost the channel (a fault)
    uint64_t full_until [RS_C]; //  its replica refuses the channel's items until then
    uint64_t seen_since;        //  oracle: heard since (0: unseen), and unseen since
    uint64_t unseen_since;
    bool step_lease;            //  the lease given to the step under way
    rs_msg_t **inbox;           //  arrived while paused, in order
    size_t inbox_size, inbox_cap;
    uint64_t started;           //  when this incarnation started
    //  Its durable store (repl_sim_durable.c): what it committed of each
    //  channel it owns (every event it sequenced: committed before sent),
    //  the store's view mark, the view its state file saved
    rs_stream_t dur [RS_C];
    uint64_t mark, saved;
    bool durable_crash;         //  this crash keeps the store (else lost, as without one)
    uint32_t crash_in_install;  //  the phase + 1 in which its next install crashes midway
    bool kept [RS_C];           //  kept at its restart, not yet continued nor dropped
    struct _repl_sim_t *sim;    //  the callbacks' argument: this broker
    int index;
} rs_broker_t;

typedef struct {
    uint64_t number, at;        //  at: first install
    uint32_t members, owners;
} rs_view_t;

//  One epoch of one channel: what was assigned to each seq, what the
//  gateway got, and who holds it now.
typedef struct {
    int ch;
    uint64_t epoch;
    uint64_t *key;              //  key [seq - 1]: assigned (0: none)
    uint64_t *tentative;        //  the key an owner sequenced there last
    uint8_t *pub;               //  published (the gateway got it)
    size_t cap;
    uint64_t published_max;
    int holder;                 //  the broker continuing it last, and its incarnation
    uint32_t holder_gen;
    uint64_t cont_head;         //  the head it continued at
    uint64_t cont_view;         //  in that view (an install's: the newest)
} rs_epoch_t;

//  A publisher's event (the key is its index + 1).
typedef struct {
    int ch;
    uint32_t attempt;
    int at;                     //  broker of the attempt waiting (-1: none)
    bool acked;
    uint64_t ep, seq;           //  where it was delivered first (0: not yet)
    bool assigned;              //  ever given a seq (else no store can hold it)
} rs_pub_t;

//  What the owner gives hrb_sync as an item's reply context.
typedef struct {
    uint64_t key;
    uint32_t attempt;
    uint64_t added;             //  when (a backup started later never acked it)
} rs_reply_t;

struct _repl_sim_t {
    repl_sim_opts_t opts;
    uint64_t rng, now;
    uint64_t H, L, T, validity, hold_down, max_delay;
    bool backup_among_members;  //  the backup is the second of the members (else of owners)
    uint64_t drng;              //  the durable faults' own generator: seeds without
    bool durable;               //  durable stores (--data-dir) draw as they did before
    sim_heap_t queue;           //  of rs_event_t
    rs_broker_t b [RS_B];
    uint32_t link_gen [RS_B][RS_B];
    bool cut [RS_B][RS_B];
    uint64_t refuse_until [RS_B][RS_B];     //  after a reconnect: queuing may fail
    uint64_t link_last [RS_B][RS_B];        //  FIFO: the last arrival scheduled
    uint64_t slow_until [RS_B][RS_B];       //  a congested link: delays of heartbeats
    rs_view_t views [RS_VIEWS_MAX];
    size_t nviews;              //  views [i].number = i + 1
    bool restarted [RS_B];      //  oracle: a restarted broker is no owner until its hold-down
    uint64_t next_epoch;
    rs_epoch_t *epochs;
    size_t nepochs, epochs_cap;
    uint64_t gw_epoch [RS_C];   //  the gateway's newest epoch per channel
    rs_pub_t *pubs;
    size_t npubs, pubs_cap;
    size_t open [RS_C];         //  unacknowledged publishes per channel
    uint64_t last_ack [RS_C];
    bool quiet;
    uint64_t quiet_start, quiet_counted;
    uint32_t phase;
    int faults;                 //  brokers faulty now
    repl_sim_stats_t stats;
    hr_buf_t failure;
};

//  repl_sim.c
uint64_t rs_rnd (repl_sim_t *self);
uint64_t rs_range (repl_sim_t *self, uint64_t lo, uint64_t hi);
bool rs_chance (repl_sim_t *self, unsigned pct);
void rs_trace (repl_sim_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
void rs_fail (repl_sim_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));
rs_event_t *rs_schedule (repl_sim_t *self, uint64_t at, ev_kind_t kind, int broker, uint32_t gen);
//  Queues msg (taken) on its link: 0, or -1 when it could not be queued.
int rs_send (repl_sim_t *self, rs_msg_t *msg);
const char *rs_channel (int ch);
int rs_channel_of (const char *ch, size_t len);
const rs_view_t *rs_view (const repl_sim_t *self, uint64_t number);
int rs_owner (const repl_sim_t *self, uint64_t number, int ch);     //  -1: none
int rs_backup (const repl_sim_t *self, uint64_t number, int ch);    //  -1: none
bool rs_lease (const repl_sim_t *self, int b);
uint64_t rs_local (const repl_sim_t *self, int b);

void rs_link_break (repl_sim_t *self, int from, int to);
//  A message arrives (lost if its link or receiver changed meanwhile).
void rs_deliver (repl_sim_t *self, rs_msg_t *msg);
//  b's reachability changed: the view oracle looks again when it would notice.
void rs_oracle_update (repl_sim_t *self, int b);
void rs_inbox_free (rs_broker_t *br);

//  repl_sim_faults.c
void rs_crash (repl_sim_t *self, int b);
void rs_restart (repl_sim_t *self, int b);
void rs_resume (repl_sim_t *self, int b);
void rs_heal (repl_sim_t *self, int b, uint64_t arg);
void rs_fault (repl_sim_t *self);
void rs_fault_planned (repl_sim_t *self, int b, uint64_t arg);
void rs_phase (repl_sim_t *self);

//  repl_sim_durable.c: durable stores (docs/cluster.md, "Durable history in
//  a cluster")
void rs_durable_new (repl_sim_t *self);
//  b sequenced (ch, epoch, seq) for key: committed before it goes anywhere.
void rs_durable_sequenced (repl_sim_t *self, int b, int ch, uint64_t epoch, uint64_t seq,
                           uint64_t key);
//  b's install of view w: true if it crashed midway instead (its state
//  file saved w, its store's mark did not move).
bool rs_durable_installing (repl_sim_t *self, int b, uint64_t w);
//  b installed view w: its store holds what it owns now, the mark is w.
void rs_durable_installed (repl_sim_t *self, int b, uint64_t w);
//  b crashes: whether its store survives.
void rs_durable_crash (repl_sim_t *self, int b);
//  b restarts: true if it kept its stored channels and came back as their
//  owner in its saved view (else it restarts empty).
bool rs_durable_resume (repl_sim_t *self, int b);
//  A view like the last one, numbered next: what a kept broker asks for
//  (hrb_view_keep).
void rs_view_again (repl_sim_t *self);
//  b, restarted with ch kept, goes on with it (it may sequence it, or an
//  install retained it): it must hold all that was published.
void rs_durable_continue (repl_sim_t *self, int b, int ch);
//  A fault of the chaos period that uses durable stores; false if none.
bool rs_durable_fault (repl_sim_t *self);
void rs_durable_free (repl_sim_t *self);

//  repl_sim_glue.c
void rs_glue_start (repl_sim_t *self, int b);
void rs_glue_stop (repl_sim_t *self, int b);
void rs_glue_install (repl_sim_t *self, int b);     //  the newest view
void rs_glue_publish (repl_sim_t *self, int b, uint64_t key, uint32_t attempt);
void rs_glue_deliver (repl_sim_t *self, rs_msg_t *msg);
void rs_glue_step (repl_sim_t *self, int b);
bool rs_glue_may_sequence (repl_sim_t *self, int b, int ch);

//  repl_sim_check.c
void rs_stream_put (rs_stream_t *s, uint64_t seq, uint64_t key);
uint64_t rs_stream_key (const rs_stream_t *s, uint64_t seq);
void rs_stream_reset (rs_stream_t *s, uint64_t epoch, uint64_t head);
void rs_stream_free (rs_stream_t *s);
rs_epoch_t *rs_epoch (repl_sim_t *self, int ch, uint64_t epoch);
//  A (ch, epoch, seq) held with key by what: invariant 1.
void rs_assign (repl_sim_t *self, int ch, uint64_t epoch, uint64_t seq, uint64_t key,
                const char *what, int b);
//  Broker b may give seq to key: nothing else holds it (1).
void rs_check_sequence (repl_sim_t *self, int b, int ch, uint64_t epoch, uint64_t seq,
                        uint64_t key);
//  The gateway gets an event published by b (invariants 1, 2, 4).
void rs_gateway (repl_sim_t *self, int b, int ch, uint64_t epoch, uint64_t seq, uint64_t key);
//  b continues epoch of ch with stream s: it holds all that was published (2).
void rs_check_takeover (repl_sim_t *self, int b, int ch, const rs_stream_t *s);
//  A publisher's answer: acknowledged at (epoch, seq), or not.
void rs_pub_acked (repl_sim_t *self, uint64_t key, int b, uint64_t epoch, uint64_t seq);
void rs_pub_refused (repl_sim_t *self, uint64_t key, uint32_t attempt);
void rs_pub_new (repl_sim_t *self, int ch);
void rs_pub_send (repl_sim_t *self, uint64_t key);
void rs_pub_broker_lost (repl_sim_t *self, int b);
//  Quiet period: liveness (3).
void rs_check_quiet (repl_sim_t *self);
void rs_check_free (repl_sim_t *self);

#endif
