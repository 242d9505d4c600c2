/*  hrg_revoke: revocations from the broker's stream into the gateway's
    list (docs/protocol.md §4.1).

    Every worker's SUB subscribes to HR_REVOKE_TOPIC; the broker answers
    with its whole live list and then sends each new entry. Each worker
    adds what it receives to the gateway's shared list (hrg_auth), so the
    same entry arrives once per worker and changes the list once; workers
    close matching connections when its generation moves.  */
#ifndef HRG_REVOKE_H
#define HRG_REVOKE_H

#include "hrg_worker.h"

//  Subscribes the worker's SUB to the revocation topic.
void hrg_revoke_subscribe (hrg_worker_t *self);

//  True when a stream message's topic frame is the revocation topic.
bool hrg_revoke_topic (const void *topic, size_t size);

//  Adds the entries of one revocation message body to the gateway's list
//  (hrg_auth_revocations). A malformed body adds nothing and is logged
//  (rate-limited), as is an entry the list has no room for.
void hrg_revoke_on_stream (hrg_worker_t *self, const void *body, size_t size);

#endif
