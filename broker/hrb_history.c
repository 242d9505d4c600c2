/*  hrb_history: answers one history query (see the header).  */
#include "hrb_history.h"
#include "hr_mpack.h"

#include <string.h>
#include <zmq.h>

//  The message of a reply refused for the client's reply memory.
#define S_REPLY_FULL "this client has --reply-memory of replies unread; read them, then retry"

//  A reply being sent on ROUTER: its peer and the frames still to come.
typedef struct {
    void *router;
    hrb_peer_t *peer;
    uint64_t left;              //  frames still to send after this one
} s_reply_t;

static void
s_send_history_event (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_reply_t *reply = arg;
    reply->left--;
    hrb_peer_send (reply->peer, reply->router, bytes, size, reply->left? ZMQ_SNDMORE: 0);
}

//  Sizes a history reply: events are taken while the bytes so far (as
//  hrb_peers counts them) are under room, so a reply holds at least one
//  event and ends at most one event past room.
typedef struct {
    size_t room;
    size_t bytes;
    uint64_t count;
} s_plan_t;

static void
s_plan_visit (void *arg, uint64_t seq, const void *bytes, size_t size)
{
    s_plan_t *plan = arg;
    if (plan->bytes < plan->room) {
        plan->bytes += size + HRB_PEER_FRAME_CHARGE;
        plan->count++;
    }
}

//  The client's queued bytes are bounded by --reply-memory: a reply is cut
//  to what fits (the client asks again from its last seq), and a client
//  with nothing left gets overloaded until it reads.
hrb_history_result_t
hrb_history_answer (hrb_streams_t *streams, hrb_store_t *store, void *router,
                    hrb_peer_t *peer, size_t reply_memory, const hr_request_t *req,
                    const uint64_t *rid, hr_buf_t *buf)
{
    const hr_event_t *in = &req->event;
    char ch [HR_CHANNEL_MAX + 1];
    memcpy (ch, in->ch, in->ch_len);
    ch [in->ch_len] = 0;
    hrb_stream_t *stream = hrb_streams_find (streams, in->ch, in->ch_len);
    uint64_t head = stream? stream->seq: 0;
    uint64_t first = stream? hrb_streams_first (streams, stream): 1;
    hr_reset_t reset = HR_RESET_NONE;
    if (in->epoch && !stream)
        reset = HR_RESET_UNKNOWN_CHANNEL;
    else
    if (in->epoch && !hr_mp_str_eq (in->epoch, in->epoch_len, stream->epoch))
        reset = HR_RESET_EPOCH_CHANGED;
    else
    if (req->since > head)
        reset = HR_RESET_CURSOR_AHEAD;
    else
    if (req->since + 1 < first)
        reset = HR_RESET_EXPIRED;
    uint64_t count = 0;
    if (reset == HR_RESET_NONE && head > req->since) {
        count = head - req->since;
        if (count > req->limit)
            count = req->limit;
    }
    hrb_history_result_t result = HRB_HISTORY_WHOLE;
    hr_buf_reset (buf);
    if (count) {
        size_t queued = hrb_peer_queued (peer);
        s_plan_t plan = { queued < reply_memory? reply_memory - queued: 0, 0, 0 };
        if (plan.room)
            store->ops->read (store, stream->history, req->since, count, s_plan_visit, &plan);
        if (plan.count < count)
            result = HRB_HISTORY_CUT;
        if (plan.count == 0) {
            hr_reply_encode_error_message (buf, rid, HR_E_OVERLOADED, S_REPLY_FULL);
            hrb_peer_send (peer, router, buf->data, buf->size, 0);
            return HRB_HISTORY_REFUSED;
        }
        count = plan.count;
    }
    hr_reply_encode_history (buf, rid, ch, stream? stream->epoch: NULL, first, head, count,
                             reset);
    hrb_peer_send (peer, router, buf->data, buf->size, count? ZMQ_SNDMORE: 0);
    if (count) {
        s_reply_t sender = { router, peer, count };
        store->ops->read (store, stream->history, req->since, count, s_send_history_event,
                          &sender);
    }
    return result;
}
