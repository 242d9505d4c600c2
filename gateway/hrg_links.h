/*  hrg_links: a worker's request links, one DEALER (hrg_link) per broker,
    and which one a request takes (docs/cluster.md, "Gateways in a
    cluster").

    Without a cluster file a worker has one link, to --broker's ROUTER.
    With one, a link to every broker's router endpoint: a publish or a
    history query goes to its channel's owner in the followed view when
    that link is connected, else to the next broker of the channel's
    rendezvous order that is connected, else to any connected broker
    (brokers forward publishes to the owner and answer history from what
    they hold); never to a broker known to be away. A request is never
    sent twice: an `unavailable` answer goes back to the client, who
    retries with its idempotency key.

    The links number their requests apart (hrg_link_number_rids), so a
    rid alone says which link to cancel it on.

    Ownership: the worker owns its links (worker->links) and borrows the
    gateway's hrg_follow. worker->link is the first link, for modules that
    send on one link and cancel on it.  */
#ifndef HRG_LINKS_H
#define HRG_LINKS_H

#include "hrg_follow.h"
#include "hrg_link.h"
#include "hrg_worker.h"

//  Links for worker index: to every broker of follow's cluster, or (follow
//  NULL) to config->broker_req. NULL with a reason in err. Caller owns it.
hrg_links_t *hrg_links_new (void *zmq_ctx, const hrg_config_t *config, hrg_follow_t *follow,
                            int index, hr_buf_t *err);

//  Destroys every link: their pending callbacks are called with NULL.
void hrg_links_destroy (hrg_links_t **self_p);

//  Links (1 .. HR_CLUSTER_MAX), and link i (broker i of the file). Borrowed.
size_t hrg_links_count (const hrg_links_t *self);
hrg_link_t *hrg_links_at (const hrg_links_t *self, size_t i);

//  Reads every link of worker's connection events: the set of connected
//  links (bit i = link i). In a cluster, each broker connected or lost is
//  logged, the set becomes the worker's in the gateway's hrg_follow, and
//  worker 0 sets the cluster gauges.
hr_members_t hrg_links_update (hrg_worker_t *worker);

//  As hrg_link_process, expire, next_deadline, readable, retries: over
//  every link (deadline: the earliest; retries: the sum).
void hrg_links_process (hrg_links_t *self);
void hrg_links_expire (hrg_links_t *self, uint64_t now_ms);
uint64_t hrg_links_next_deadline (hrg_links_t *self);
bool hrg_links_readable (hrg_links_t *self);
uint64_t hrg_links_retries (hrg_links_t *self);

//  The link a publish or history query on channel ch (len bytes) takes,
//  as above. A worker without links (a unit test's, or stopping) answers
//  worker->link, which may be NULL (the hrg_link calls accept it).
hrg_link_t *hrg_links_pick (hrg_worker_t *worker, const char *ch, size_t len);

//  The link a request of no channel (a revocation) takes: a connected one
//  when there is one.
hrg_link_t *hrg_links_any (hrg_worker_t *worker);

//  Cancels request rid on whichever link it was sent.
void hrg_links_cancel (hrg_worker_t *worker, uint64_t rid);

//  A view announcement from the stream (topic HR_VIEW_TOPIC): offered to
//  the gateway's hrg_follow. A malformed one is counted and logged
//  (rate-limited); without a cluster file, it is ignored.
void hrg_links_on_view (hrg_worker_t *worker, const void *body, size_t size);

#endif
