/*  hrg_worker: one gateway worker: its event loop and everything it owns.

    A worker is shared-nothing: its daemon, sockets, channels, groups and
    connections are touched only by its own thread, so the delivery path
    takes no lock. This header is internal to gateway/: the sibling modules
    (channel, group, stream, conn, transports, link, http, publish, history)
    work on a worker; its loop is hrg_loop.  */
#ifndef HRG_WORKER_H
#define HRG_WORKER_H

#include "hrg_config.h"
#include "hr_buf.h"
#include "hr_error.h"
#include "hr_list.h"
#include "hr_metrics.h"
#include "hr_proto.h"

#include <czmq.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct _hrg_worker_t hrg_worker_t;

//  Slots (one per ms) of the wheel of groups waiting out --write-interval;
//  more than the interval's maximum, 1000 ms.
#define HRG_WHEEL_SLOTS 1024
typedef struct _hrg_channel_t hrg_channel_t;
typedef struct _hrg_group_t hrg_group_t;
typedef struct _hrg_conn_t hrg_conn_t;
typedef struct _hrg_link_t hrg_link_t;
typedef struct _hrg_links_t hrg_links_t;
typedef struct _hrg_follow_t hrg_follow_t;
typedef struct _hrg_slab_t hrg_slab_t;
typedef struct _hrg_frame_pool_t hrg_frame_pool_t;
typedef struct _hrg_auth_t hrg_auth_t;
typedef struct _hrg_limit_t hrg_limit_t;

//  Metric ids, registered once per gateway; each worker has its own shard.
typedef struct {
    int http_connections;           //  hrg_http: connections libmicrohttpd holds
    int connections, subscriptions, channels, groups, requests,
        events_received, events_delivered, writes, replayed, resumes, gap_fills,
        slow_consumers, errors, resets, log_suppressed,
        channels_unconfirmed, subscription_retries, subscription_timeouts, held_bytes,
        catchup_bytes, catchup_waiting, catchup_fetches, catchup_shared, history_retries,
        ws_connections, ws_messages, ws_closes, ws_errors, ws_inbound_bytes,
        revocations, revocation_bytes, token_cache_bytes, frame_pool_bytes,
        stale_epochs;               //  hrg_channel, hrg_fetch: older-epoch items ignored
    int cluster_view, brokers_connected, view_bad, view_changes;   //  hrg_links (--cluster)
} hrg_metric_ids_t;

struct _hrg_worker_t {
    int index;
    const hrg_config_t *config;
    hr_metrics_t *metrics;          //  the registry, for /metrics
    const hrg_metric_ids_t *m;
    hr_metrics_shard_t *shard;
    const char *const *cors;        //  allowed origins (NULL-terminated), gateway's
    const char *const *ws_origins;  //  --ws-origins (NULL-terminated or NULL), gateway's
    hrg_auth_t *auth;               //  token decisions, the gateway's (thread-safe)
    hrg_limit_t *limit;             //  limits per client, the gateway's (thread-safe)
    uint64_t revoke_seen;           //  the revocation generation last acted on
    uint64_t ws_sessions;           //  WebSocket sessions opened, for their ids
    uint64_t rng;                   //  hrg_worker_random's state, seeded at start
    struct MHD_Daemon *daemon;
    int listen_fd;
    int epoll_fd;
    int stop_fd;                    //  eventfd: the gateway asks the loop to stop
    void *sub;                      //  SUB socket to the broker's XPUB
    void *sub_monitor;              //  PAIR: the SUB's connection events
    hrg_links_t *links;             //  DEALERs to every broker's ROUTER (hrg_links)
    hrg_link_t *link;               //  the first of them (the only one without a cluster)
    hrg_follow_t *follow;           //  the gateway's view of its cluster; NULL without one
    zhashx_t *channels;             //  name -> hrg_channel_t (not owning)
    zhashx_t *groups;               //  channel-set key -> hrg_group_t (not owning)
    hr_list_t dirty_groups;         //  hrg_group: groups with frames to write now,
                                    //  in the order they became due
    hr_list_t wheel [HRG_WHEEL_SLOTS];      //  groups with frames, written recently
    uint64_t wheel_ms;              //  the wheel has been advanced to this ms
    size_t wheel_count;
    hr_list_t dirty_conns;          //  hrg_conn: connections with frames of their own to write
    hr_list_t conns;                //  hrg_conn: every open connection (SSE, WebSocket)
    hr_list_t reaped;               //  hrg_conn: closed this turn, freed at its end
    hr_list_t again_conns;          //  hrg_conn: input left unread last turn
    hrg_slab_t *conn_slabs [4];     //  hrg_conn: connection structs, one slab per size
    bool conn_slabs_on;             //  else (a unit test's worker) the heap
    int64_t conn_count;
    bool stopping;
    bool linked;                    //  a DEALER is connected to a broker
    bool no_pwait2;                 //  epoll_pwait2 said ENOSYS: use epoll_wait
    _Atomic int *linked_workers;    //  the gateway's count, for /readyz
    int worker_count;
    pthread_t thread;
    hr_buf_t scratch;               //  reusable render buffers
    hr_buf_t cursor;
    hrg_frame_pool_t *frames;       //  hrg_group: frames rendered for groups, while it has any
    uint64_t next_heartbeat_check;
    uint64_t next_sweep;
    uint64_t flush_due_us;          //  monotonic µs before which not to flush again
    uint64_t recent_bytes;          //  events held in channels' recent rings
    zhashx_t *pages;                //  hrg_fetch: history pages in flight or held
    uint64_t catchup_bytes;         //  hrg_fetch: memory held for catch-up
    hr_list_t waiting;              //  hrg_fetch: catch-ups waiting for memory, FIFO
    uint64_t held_bytes;            //  events channels hold while syncing or filling
    uint64_t link_retries;          //  hrg_link_retries already counted
};

//  Makes the worker's lists empty: hrg_loop_new, and a worker a unit test
//  builds by hand.
static inline void
hrg_worker_lists_init (hrg_worker_t *self)
{
    hr_list_init (&self->dirty_groups);
    for (size_t i = 0; i < HRG_WHEEL_SLOTS; i++)
        hr_list_init (&self->wheel [i]);
    hr_list_init (&self->dirty_conns);
    hr_list_init (&self->conns);
    hr_list_init (&self->reaped);
    hr_list_init (&self->again_conns);
    hr_list_init (&self->waiting);
}

//  A pseudo-random number (splitmix64): session ids, reconnect delays.
//  Not for secrets.
static inline uint64_t
hrg_worker_random (hrg_worker_t *self)
{
    uint64_t z = (self->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  True when every worker of the gateway is connected to the broker.
bool hrg_worker_ready (hrg_worker_t *self);

//  Counts an error by code (and logs it at info or warn).
void hrg_worker_count_error (hrg_worker_t *self, hr_error_t error, const char *detail);

#endif
