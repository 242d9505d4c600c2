/*  hrb_config: the broker's options (docs/operations.md), apart from the
    server so that the modules it uses (hrb_cluster) can read them without
    depending on the server.  */
#ifndef HRB_CONFIG_H
#define HRB_CONFIG_H

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
    const char *bind_host;      //  bind the entry's tcp:// ports on this host; "" = the entry's own
    int64_t failover_timeout;   //  ms silent before a broker leaves the view
    int64_t lease;              //  ms an owner's majority lease lasts
    int64_t hold_down;          //  ms a returning broker waits before owning again
    int64_t handoff_timeout;    //  ms a new owner waits for a handoff before a new epoch
    const char *replication;    //  "sync": events wait for their backup; "async": they do not
    int64_t min_replicas;       //  1: publish without an in-sync backup; 2: refuse meanwhile
    int64_t sync_memory;        //  bytes of events waiting for their backup
    //  Durable history (docs/operations.md, "Durable history"); data_dir "" = in memory
    const char *data_dir;       //  the LMDB store's directory
    int64_t history_disk;       //  bytes of history kept there, all channels
    const char *fsync;          //  "always", "batch" or "off"
    int64_t fsync_interval;     //  ms: batch's most recent events a power loss may take
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
    .cluster = "", .id = "", .state_dir = ".", .http = "", .bind_host = "", .failover_timeout = 3000, \
    .lease = 2000, .hold_down = 30000, .handoff_timeout = 5000, \
    .replication = "sync", .min_replicas = 1, .sync_memory = 64 << 20, \
    .data_dir = "", .history_disk = 1LL << 30, .fsync = "batch", .fsync_interval = 100 }

#endif
