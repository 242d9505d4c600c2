/*  hrb_server: the broker's event loop.

    One thread owns four things: a PULL socket (fire-and-forget publishes),
    a ROUTER socket (acknowledged publishes and history queries), an XPUB
    socket (the event stream, and the subscriptions that trigger head
    markers), and the streams with their history. Nothing here is shared
    with other threads except the stop signal, the metrics shard, and the
    per-client reply counters that ZeroMQ's threads decrement as they let
    go of reply frames (hrb_peers).  */
#ifndef HRB_SERVER_H
#define HRB_SERVER_H

#include "hrb_config.h"
#include "hr_buf.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct _hrb_server_t hrb_server_t;

//  Checks what needs no file: --curve-secret and --curve-clients given
//  together, and no endpoint reachable from other machines without CURVE
//  unless insecure (hr_curve_check_exposure). Returns -1 with what to do
//  in err. hrb_server_new checks it too; commands call it first to exit 2.
int hrb_server_check (const hrb_config_t *config, hr_buf_t *err);

//  Creates the broker and binds its sockets in zmq_ctx (not owned). Returns
//  NULL with a reason in err when a socket cannot be bound. config and its
//  strings must outlive the server. Caller owns the server.
hrb_server_t *hrb_server_new (void *zmq_ctx, const hrb_config_t *config,
                              hr_metrics_t *metrics, hr_buf_t *err);

//  Runs the loop in the calling thread until hrb_server_stop; returns 0.
//  Returns -1, after logging why, when ZeroMQ fails the loop (zmq_poll
//  errs, e.g. its context was terminated): the broker cannot go on and its
//  owner must end the process with a failure status.
int hrb_server_run (hrb_server_t *self);

//  Reloads the CURVE allow-list (--curve-clients) for the handshakes to
//  come (hrb_zap_reload). Safe from any thread. Returns the number of keys,
//  0 without CURVE, or -1 with a reason in err (the old list stays).
int hrb_server_reload (hrb_server_t *self, hr_buf_t *err);

//  Asks the loop to return. Safe from any thread and from signal handlers.
void hrb_server_stop (hrb_server_t *self);

//  Graceful leave (SIGTERM): in a cluster, the loop hands every channel it
//  owns to its successor and then returns 0 (within
//  HRB_TRANSFER_LEAVE_MAX_MS, docs/cluster.md); a single broker stops at
//  once (hrb_server_stop). Safe from any thread.
void hrb_server_leave (hrb_server_t *self);

//  The endpoints actually bound (wildcard ports resolved), comma-separated.
//  Strings owned by the server.
const char *hrb_server_pull_endpoints (hrb_server_t *self);
const char *hrb_server_router_endpoints (hrb_server_t *self);
const char *hrb_server_xpub_endpoints (hrb_server_t *self);

//  In a cluster (config->cluster set), the broker's part in it, for the
//  ops HTTP's status and readiness (hrb_cluster_status, hrb_cluster_ready
//  are safe from any thread); NULL for a single broker. Owned by the
//  server.
typedef struct _hrb_cluster_t hrb_cluster_t;
hrb_cluster_t *hrb_server_cluster (hrb_server_t *self);

//  Where history lives and how much of it there was at start ("in memory",
//  or the data directory, its channels, events and bytes on disk), for
//  start-up banners. Owned by the server.
const char *hrb_server_history (hrb_server_t *self);

void hrb_server_destroy (hrb_server_t **self_p);

#endif
