/*  hrb_repl: synchronous replication on the wire (docs/cluster.md,
    "Zero-reset failover"), with --replication sync.

    The glue between the two pure machines and the broker: hrb_sync (this
    broker as the owner of its channels: every event it sequences waits
    there until the channel's backup holds it) and hrb_backup (this broker
    as the backup of other brokers' channels: what their owners send is
    kept in the replica, hrb_replica, and acknowledged). Frames go on the
    cluster's peer sockets ("repl", "rsnap", "rack", hrb_peer_msg); a
    snapshot carries a channel's epoch, head, history and the events still
    waiting, cut as a handoff is (hrb_handoff_cut). At each view install
    the channels this broker takes over from an owner the view dropped
    keep their epoch when hrb_backup_keeps says so: their replica becomes
    the broker's own stream, with its history and keys.

    Runs in the broker thread. Ownership: the caller owns it; config,
    cluster, replica, streams, store, dedupe and metrics are borrowed and
    must outlive it.  */
#ifndef HRB_REPL_H
#define HRB_REPL_H

#include "hrb_backup.h"
#include "hrb_cluster.h"
#include "hrb_config.h"
#include "hrb_dedupe.h"
#include "hrb_replica.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hrb_sync.h"
#include "hr_metrics.h"

#include <stdbool.h>

typedef struct _hrb_repl_t hrb_repl_t;

typedef struct {
    //  Takes (true) or lets go of (false) the lock over streams and store
    //  (the broker's history reader's).
    void (*lock) (void *arg, bool take);
    //  An event (or a waiter) is done: publish and acknowledge it, or
    //  answer `unavailable` (hrb_sync_ops_t.release).
    void (*release) (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome);
    //  stream was just taken over with its epoch: announce its head (the
    //  backup may hold events its old owner never published).
    void (*taken) (void *arg, hrb_stream_t *stream);
} hrb_repl_ops_t;

//  Makes the glue and its machines; takes the cluster's replication
//  messages from now on (hrb_cluster_hooks_t.repl is the caller's to set
//  to hrb_repl_message). ops copied, arg borrowed.
hrb_repl_t *hrb_repl_new (const hrb_config_t *config, hrb_cluster_t *cluster,
                          hrb_replica_t *replica, hrb_streams_t *streams, hrb_store_t *store,
                          hrb_dedupe_t *dedupe, hr_metrics_t *metrics,
                          const hrb_repl_ops_t *ops, void *arg);
void hrb_repl_destroy (hrb_repl_t **self_p);

//  The owner's machine (publishes hand their events to it). Borrowed.
hrb_sync_t *hrb_repl_sync (hrb_repl_t *self);

//  ch's backup in the view the machines last learned (hrb_repl_installing:
//  during an install, the view before, in which the batch being handed
//  over was sequenced): the second of the view's owners in its rendezvous
//  order; -1 when there is none.
int hrb_repl_backup_of (hrb_repl_t *self, const char *ch, size_t len);

//  A "repl", "rsnap" or "rack" from broker from (hrb_cluster_hooks_t.repl).
void hrb_repl_message (void *arg, int from, const hrb_peer_msg_t *msg);

//  view was installed after previous; the caller holds the lock. First
//  (before hrb_cluster_retain): events still waiting in channels handed
//  over (departing) are published, and the owner's machine learns the
//  view (waiting events of channels not owned on are dropped).
void hrb_repl_installing (hrb_repl_t *self, const hrb_view_t *view, const hrb_view_t *previous,
                          bool (*departing) (void *arg, const hrb_stream_t *stream),
                          void *darg);

//  Then (after hrb_cluster_retain): channels taken over from an owner the
//  view dropped keep their epoch when their backup was this broker and in
//  sync (their replica becomes the broker's stream); the backup's machine
//  learns the view; every channel owned here is tracked for a snapshot.
void hrb_repl_installed (hrb_repl_t *self, const hrb_view_t *view, const hrb_view_t *previous);

//  Once per loop turn, after the turn's publishes: racks owed, then the
//  owner's machine's step (frames, snapshots, keepalives, releases).
void hrb_repl_step (hrb_repl_t *self);

#endif
