/*  hrb_server_impl: the broker server's state, shared by its two files
    only: hrb_server.c (sockets, loop, maintenance, cluster hooks) and
    hrb_ingest.c (requests). Nothing else includes it.  */
#ifndef HRB_SERVER_IMPL_H
#define HRB_SERVER_IMPL_H

#include "hrb_server.h"
#include "hrb_cluster.h"
#include "hrb_dedupe.h"
#include "hrb_defer.h"
#include "hrb_forward.h"
#include "hrb_history.h"
#include "hrb_marker.h"
#include "hrb_metrics.h"
#include "hrb_outbox.h"
#include "hrb_peers.h"
#include "hrb_reader.h"
#include "hrb_replica.h"
#include "hrb_repl.h"
#include "hrb_revoke.h"
#include "hrb_store.h"
#include "hrb_stream.h"
#include "hrb_transfer.h"
#include "hrb_zap.h"
#include "hr_buf.h"
#include "hr_proto.h"

#include <stdbool.h>
#include <stdint.h>

struct _hrb_server_t {
    const hrb_config_t *config;
    void *pull, *router, *xpub;
    int stop_fd;
    int leave_fd;               //  SIGTERM in a cluster: hand over, then stop
    char *pull_endpoints, *router_endpoints, *xpub_endpoints;
    hrb_store_t *store;
    hrb_outbox_t *outbox;       //  with a durable store: what the batch owes
    hrb_store_rc_t commit_rc;   //  the last commit's
    uint64_t batch_ms;          //  when the batch began (monotonic)
    size_t batch_routed;        //  ROUTER requests read since it began
    size_t loaded_kept;         //  channels the store held at start, going on
    size_t loaded_renewed;      //  and those started again in a new epoch
    bool keep;                  //  in a cluster: the store is in step with the saved view
    bool announce;              //  kept channels' heads to go out as markers once they may
                                //  be sequenced (the others' replicas learn them)
    bool diverged;              //  in a cluster: a commit outside the loop's batch failed;
                                //  the view mark stays behind, a restart keeps nothing
    hr_buf_t history;           //  where history lives, for banners
    hrb_streams_t *streams;
    hrb_dedupe_t *dedupe;
    hrb_peers_t *peers;         //  bytes queued per ROUTER client
    hrb_revokes_t *revokes;     //  revoked subjects and token ids (--revoke-max)
    hrb_zap_t *zap;             //  with CURVE: the allow-list's ZAP handler
    hr_buf_t frame;             //  reusable encode buffers
    hr_buf_t topic;
    hr_buf_t reply;
    hr_buf_t held;              //  a publish being held, its bytes
    hrb_markers_t *markers;     //  head markers on XPUB
    hrb_cluster_t *cluster;     //  in a cluster: views, peers, the publish gate
    hrb_forwards_t *forwards;   //  in a cluster: ROUTER publishes forwarded
    hrb_transfer_t *transfer;   //  in a cluster: graceful handoffs, both ways
    hrb_defer_t *defer;         //  in a cluster: publishes waiting for the next view (the
                                //  transfer's)
    bool no_defer;              //  serving one whose wait is over: answer it now
    bool retrying;              //  serving one again: keep it where it waits
    bool deferred;              //  set when a publish served again waits on
    hrb_reader_t *reader;       //  the history reader thread
    hrb_replica_t *replica;     //  in a cluster: other brokers' channels
    hrb_repl_t *repl;           //  in a cluster with --replication sync: backups
    bool installing;            //  in a view install (the reader lock is held)
    uint64_t next_tick;
    hrb_metrics_t *metrics;
};

//  hrb_ingest.c, called by hrb_server.c (the server is the arg of each
//  callback):
//  Sends one message on XPUB: the channel's topic, then body
//  (hrb_markers_send_fn).
void hrb_ingest_stream_send (void *arg, const char *ch, size_t ch_len, const hr_buf_t *body);
//  Sends a revocation stream message (hrb_revokes_send_fn).
void hrb_ingest_revoke_send (void *arg, const hr_buf_t *body);
//  Take one request from PULL or ROUTER and act on it; false when none.
bool hrb_ingest_pull (hrb_server_t *self);
bool hrb_ingest_router (hrb_server_t *self);
//  A "fwd" or "fwdack" from broker from (hrb_cluster_hooks_t.forward).
void hrb_ingest_forwarded (void *arg, int from, const hrb_peer_msg_t *msg);
//  Answers one asker of a finished history read (hrb_reader_fn).
void hrb_ingest_deliver (void *arg, const hrb_asker_t *asker, hrb_history_reply_t *reply);
//  An event done waiting for its backup: published and acknowledged, or
//  answered `unavailable` (hrb_repl_ops_t.release).
void hrb_ingest_release (void *arg, const hrb_sync_item_t *item, hrb_sync_outcome_t outcome);
//  Serves again a publish waiting for the next view (hrb_defer_fn).
bool hrb_ingest_undefer (void *arg, int tag, const void *data, size_t size, bool expired);
//  Makes the server's handoff glue (hrb_transfer) and its deferred list.
void hrb_ingest_transfer_new (hrb_server_t *self, hr_metrics_t *metrics);
//  Sends an acknowledgement (rc HR_OK: seq, epoch, dup) or error to where
//  a publish came from (to: hrb_ingest's address bytes, size 0 or
//  nobody: none).
void hrb_ingest_answer (hrb_server_t *self, const uint8_t *to, size_t size, hr_error_t rc,
                        uint64_t seq, const char *epoch, bool dup);
//  Counts and logs (rate-limited) a refused request from socket.
void hrb_ingest_reject (hrb_server_t *self, const char *socket, hr_error_t error,
                        const char *message);

//  hrb_commit.c, the steps of a durable store:
//  Commits the store's batch, then publishes and acknowledges what it
//  held (hrb_outbox; with --replication sync, hands it to the backups);
//  when the commit fails, rolls the store back and answers each publish of
//  the batch with the error. Once per loop turn, and before a view install
//  or a handoff's confirmation. Returns false when the commit failed.
bool hrb_ingest_commit (hrb_server_t *self);
//  In a cluster, at the end of a view install (reader lock held): the
//  install's changes (streams dropped, taken over) committed with the
//  view's number as the store's view mark. When the commit fails every
//  stream is dropped (their channels start new epochs) and the mark stays
//  behind for good (self->diverged).
void hrb_ingest_commit_view (hrb_server_t *self, uint64_t number);
//  In a cluster, at start-up, after hrb_streams_load (key_wanted filtered
//  the keys): keeps the loaded channels this broker owns in the saved view
//  when the store is in step with it (self->keep), drops the others, and
//  says so. -1 with a reason in err when the drops cannot be stored.
int hrb_ingest_keep_loaded (hrb_server_t *self, hr_buf_t *err);
//  Whether a stored channel is loaded: always on a single broker; in a
//  cluster only when self->keep and this broker owns it in the saved view.
bool hrb_ingest_key_wanted (hrb_server_t *self, const char *ch, size_t len);
//  A stream whose events from seq from on cannot be stored (its later
//  ones were in the lost batch too): back to the seq before, or dropped
//  when that is 0 (made in the lost batch). Those before stay sequenced:
//  with --replication sync they may be stored, waiting for the backup.
//  The reader lock is held.
void hrb_ingest_unsequence (hrb_server_t *self, hrb_stream_t *stream, uint64_t from);
//  The error a publish gets when the store refused its batch.
hr_error_t hrb_ingest_store_error (hrb_store_rc_t rc);

#endif
