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

#include "hr_buf.h"
#include "hr_metrics.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *pull;           //  endpoints to bind, comma-separated
    const char *router;
    const char *xpub;
    int64_t max_event;          //  bytes per publish frame
    int64_t history_size;       //  events per channel
    int64_t history_age;        //  ms
    int64_t history_memory;     //  bytes, all channels
    int64_t dedupe_window;      //  ms
    int64_t dedupe_max;         //  keys
    int64_t dedupe_memory;      //  bytes of those keys
    int64_t max_channels;       //  streams the broker keeps
    int64_t reply_memory;       //  bytes queued per ROUTER client
    int64_t xpub_hwm;           //  messages queued per subscriber before drops
    const char *curve_secret;   //  the broker's CURVE certificate (secret file); "" = plain
    const char *curve_clients;  //  allowed client public certificates: a directory or one file
    int64_t revoke_max;         //  revocation entries kept (docs/security.md)
    bool insecure;              //  allow non-loopback tcp:// binds without CURVE
    //  Cluster (docs/cluster.md); cluster "" = a single broker, as before
    const char *cluster;        //  the cluster file
    const char *id;             //  this broker's id in it
    const char *state_dir;      //  where the view state is kept (herald-ID.view)
    const char *http;           //  HOST:PORT for /healthz, /readyz, /metrics, /v1/cluster; "" = none
    int64_t failover_timeout;   //  ms silent before a broker leaves the view
    int64_t lease;              //  ms an owner's majority lease lasts
    int64_t hold_down;          //  ms a returning broker waits before owning again
    int64_t handoff_timeout;    //  ms a new owner waits for a handoff before a new epoch
} hrb_config_t;

//  Defaults of docs/protocol.md §10 and docs/operations.md.
#define HRB_CONFIG_DEFAULTS { \
    .pull = "tcp://127.0.0.1:5555", .router = "tcp://127.0.0.1:5556", \
    .xpub = "tcp://127.0.0.1:5557", .max_event = 64 * 1024, \
    .history_size = 1000, .history_age = 3600 * 1000, \
    .history_memory = 256 << 20, .dedupe_window = 300 * 1000, \
    .dedupe_max = 1000000, .dedupe_memory = 64 << 20, \
    .max_channels = 100000, .reply_memory = 16 << 20, .xpub_hwm = 100000, \
    .curve_secret = "", .curve_clients = "", .revoke_max = 100000, .insecure = false, \
    .cluster = "", .id = "", .state_dir = ".", .http = "", .failover_timeout = 3000, \
    .lease = 2000, .hold_down = 30000, .handoff_timeout = 5000 }

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

//  The endpoints actually bound (wildcard ports resolved), comma-separated.
//  Strings owned by the server.
const char *hrb_server_pull_endpoints (hrb_server_t *self);
const char *hrb_server_router_endpoints (hrb_server_t *self);
const char *hrb_server_xpub_endpoints (hrb_server_t *self);

void hrb_server_destroy (hrb_server_t **self_p);

#endif
