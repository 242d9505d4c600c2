/*  hrg_follow: what a gateway knows of its cluster (docs/cluster.md,
    "Gateways in a cluster"): the cluster file, the view it follows, and
    which brokers its workers reach.

    Every worker's SUB hears every broker's view announcements
    (hr_view_msg); each offers what it decodes, and the highest view
    number wins, so a lagging broker's older view is never followed again.
    Workers read the view on every publish: hrg_follow_generation is a
    relaxed atomic that moves when the view does, and a worker copies the
    view (under the mutex) only then.

    Ready (/readyz) once every worker reaches a majority of the file's
    brokers and a view is known.

    Ownership: the gateway creates and destroys it; workers borrow it.
    Every function is thread-safe.  */
#ifndef HRG_FOLLOW_H
#define HRG_FOLLOW_H

#include "hr_buf.h"
#include "hr_cluster.h"
#include "hr_cluster_status.h"
#include "hr_view_msg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct _hrg_follow_t hrg_follow_t;

//  Follows cluster (taken over) for workers workers.
hrg_follow_t *hrg_follow_new (hr_cluster_t **cluster_p, int workers);

void hrg_follow_destroy (hrg_follow_t **self_p);

//  The cluster file. Borrowed: lives as long as self.
const hr_cluster_t *hrg_follow_cluster (const hrg_follow_t *self);

//  A view heard from a broker: followed when numbered above the one
//  followed. Returns true when it was (the view changed).
bool hrg_follow_offer (hrg_follow_t *self, const hr_view_msg_t *view);

//  Moves each time the followed view changes; 0 before the first.
uint64_t hrg_follow_generation (hrg_follow_t *self);

//  Copies the followed view into view (number 0, no members: none yet)
//  and returns its generation.
uint64_t hrg_follow_view (hrg_follow_t *self, hr_view_msg_t *view);

//  Worker worker's links are connected to the brokers of connected.
void hrg_follow_set_connected (hrg_follow_t *self, int worker, hr_members_t connected);

//  The brokers every worker is connected to.
hr_members_t hrg_follow_connected (hrg_follow_t *self);

//  True once every worker is connected to a majority of the file's
//  brokers and a view is known. Otherwise false, and why (when given)
//  receives a sentence saying which is missing.
bool hrg_follow_ready (hrg_follow_t *self, hr_buf_t *why);

//  The followed view as GET /v1/cluster shows it (self -1; up = the
//  brokers every worker is connected to).
void hrg_follow_status (hrg_follow_t *self, hr_cluster_status_t *status);

#endif
