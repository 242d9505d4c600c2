/*  hr_view_msg: the view a broker announces on its stream (docs/cluster.md,
    "Gateways in a cluster").

    Every broker of a cluster publishes under HR_VIEW_TOPIC, when it
    installs a view and every second, one frame: a MessagePack map

        {"t": "view", "from": "b1", "n": 7, "members": ["b1", "b2"],
         "owners": ["b1", "b2"], "handoff": [], "lease": true}

    from: the sender's id; n: its installed view number (0: none yet);
    members, owners, handoff: ids of the cluster file (owners a subset of
    members); lease: whether the sender holds its majority lease. Gateways
    and clients follow the highest n they hear.

    Decoding is strict and bounded: exactly these keys, each once, of their
    types; ids only of the file, none twice in a list; owners within
    members. Ownership: the caller owns every buffer; nothing is kept.  */
#ifndef HR_VIEW_MSG_H
#define HR_VIEW_MSG_H

#include "hr_buf.h"
#include "hr_cluster.h"
#include "hr_error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int from;                   //  the sender's index in the cluster file
    uint64_t number;            //  its installed view; 0 = none yet
    hr_members_t members, owners, handoff;
    bool lease;                 //  the sender holds its majority lease
} hr_view_msg_t;

//  Appends the frame of msg (from, members, owners and handoff are indices
//  and sets of cluster's brokers).
void hr_view_msg_encode (hr_buf_t *out, const hr_cluster_t *cluster, const hr_view_msg_t *msg);

//  Decodes a frame of a broker of cluster into msg. Errors: those of
//  hr_mpack, HR_E_BAD_TYPE (a field of the wrong kind), HR_E_MISSING_FIELD,
//  HR_E_DUPLICATE_FIELD, HR_E_BAD_FIELD (an unknown key, t not "view", an
//  id not in the file or twice in a list, owners outside members). msg is
//  unspecified on an error.
hr_error_t hr_view_msg_decode (const hr_cluster_t *cluster, const void *frame, size_t size,
                               hr_view_msg_t *msg);

#endif
