/*  hrb_history: answers one history query (docs/protocol.md §3.2).

    Resolves the query against the streams (reset, first, head), sizes the
    reply to what the client may still have queued (--reply-memory, counted
    by hrb_peers) and sends it on ROUTER. Runs in the broker thread.  */
#ifndef HRB_HISTORY_H
#define HRB_HISTORY_H

#include "hr_buf.h"
#include "hr_proto.h"
#include "hrb_peers.h"
#include "hrb_store.h"
#include "hrb_stream.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    HRB_HISTORY_WHOLE,          //  every event asked for (up to the head) was sent
    HRB_HISTORY_CUT,            //  fewer, to stay within the client's reply memory
    HRB_HISTORY_REFUSED         //  none fit: the client was answered overloaded
} hrb_history_result_t;

//  Answers req (a decoded history request; rid NULL when it had none) to
//  peer on router, whose routing envelope the caller has already sent.
//  reply_memory is the client's bound; buf is the caller's scratch buffer.
//  Nothing is owned or kept.
hrb_history_result_t hrb_history_answer (hrb_streams_t *streams, hrb_store_t *store,
                                         void *router, hrb_peer_t *peer,
                                         size_t reply_memory, const hr_request_t *req,
                                         const uint64_t *rid, hr_buf_t *buf);

#endif
