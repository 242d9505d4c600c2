/*  fuzz_peer_msg: libFuzzer target for the frames brokers send each other
    (broker/hrb_peer_msg).

    Every input goes through hrb_peer_msg_decode. One that decodes is
    encoded again and must decode to the same message; bitmasks stay within
    the file's brokers and ids within their bound.  */
#include "hrb_peer_msg.h"

#include "fuzz_support.h"
#include "hr_channel.h"
#include "hr_epoch.h"

#include <stdint.h>
#include <string.h>

#define S_ALL 0x7u
#define S_MAX_BODY 4096

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The same events and keys (not the same bytes: a value may be encoded
//  longer than needed in the input).
static bool
s_same_chunk (const hrb_peer_msg_t *a, const hrb_peer_msg_t *b)
{
    if (a->ev_count != b->ev_count || a->keys_count != b->keys_count)
        return false;
    hrb_peer_iter_t ia, ib;
    const uint8_t *da, *db;
    const char *ka, *kb;
    size_t la, lb;
    uint64_t sa, sb;
    hrb_peer_msg_events (a, &ia);
    hrb_peer_msg_events (b, &ib);
    while (hrb_peer_iter_event (&ia, &da, &la) && hrb_peer_iter_event (&ib, &db, &lb))
        if (la != lb || (la && memcmp (da, db, la)))
            return false;
    hrb_peer_msg_keys (a, &ia);
    hrb_peer_msg_keys (b, &ib);
    while (hrb_peer_iter_key (&ia, &ka, &la, &sa) && hrb_peer_iter_key (&ib, &kb, &lb, &sb))
        if (la != lb || sa != sb || memcmp (ka, kb, la))
            return false;
    if (a->miss_count != b->miss_count)
        return false;
    hrb_peer_msg_misses (a, &ia);
    hrb_peer_msg_misses (b, &ib);
    while (hrb_peer_iter_miss (&ia, &ka, &la, &sa) && hrb_peer_iter_miss (&ib, &kb, &lb, &sb))
        if (la != lb || sa != sb || memcmp (ka, kb, la))
            return false;
    return true;
}

//  A decoded handoff chunk, rsnap or repl encoded again from its iterated
//  events and keys.
static void
s_encode_chunk (hr_buf_t *frame, const char *from, const hrb_peer_msg_t *msg)
{
    hrb_peer_span_t *events = hr_malloc ((msg->ev_count + 1) * sizeof *events);
    hrb_peer_span_t *keys = hr_malloc ((msg->keys_count + 1) * sizeof *keys);
    hrb_peer_iter_t iter;
    size_t n = 0, k = 0;
    const uint8_t *data;
    const char *id;
    size_t len;
    uint64_t seq;
    hrb_peer_msg_events (msg, &iter);
    while (hrb_peer_iter_event (&iter, &data, &len))
        events [n++] = (hrb_peer_span_t) { data, len, 0 };
    hrb_peer_msg_keys (msg, &iter);
    while (hrb_peer_iter_key (&iter, &id, &len, &seq))
        keys [k++] = (hrb_peer_span_t) { id, len, seq };
    if (msg->kind == HRB_PEER_HANDOFF)
        hrb_peer_msg_encode_handoff (frame, from, msg->cf, msg->number, msg->ch, msg->ch_len,
                                     msg->epoch, msg->seq, msg->part, msg->last, events, n,
                                     keys, k);
    else
    if (msg->kind == HRB_PEER_RSNAP)
        hrb_peer_msg_encode_rsnap (frame, from, msg->cf, msg->number, msg->r, msg->first,
                                   msg->echo, msg->ch, msg->ch_len, msg->epoch, msg->seq,
                                   msg->part, msg->last, events, n, keys, k);
    else
        hrb_peer_msg_encode_repl (frame, from, msg->cf, msg->number, msg->r, msg->first,
                                  msg->echo, events, n);
    free (events);
    free (keys);
}

//  A decoded rack encoded again from its iterated misses (names copied to
//  be NUL-terminated; a name with a NUL in it is not a valid channel).
static void
s_encode_rack (hr_buf_t *frame, const char *from, const hrb_peer_msg_t *msg)
{
    char (*names) [HR_CHANNEL_MAX + 1] = hr_malloc ((msg->miss_count + 1) * sizeof *names);
    const char **channels = hr_malloc ((msg->miss_count + 1) * sizeof *channels);
    uint64_t *rs = hr_malloc ((msg->miss_count + 1) * sizeof *rs);
    hrb_peer_iter_t iter;
    const char *ch;
    size_t len, n = 0;
    hrb_peer_msg_misses (msg, &iter);
    while (hrb_peer_iter_miss (&iter, &ch, &len, &rs [n])) {
        fz_check (len <= HR_CHANNEL_MAX, "miss channel over its bound");
        memcpy (names [n], ch, len);
        names [n][len] = 0;
        channels [n] = names [n];
        n++;
    }
    hrb_peer_msg_encode_rack (frame, from, msg->cf, msg->number, msg->r, msg->gap, msg->stamp,
                              msg->fence, msg->installed, channels, rs, n);
    free (names);
    free (channels);
    free (rs);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    hrb_peer_msg_t msg, again;
    if (hrb_peer_msg_decode (data, size, S_ALL, S_MAX_BODY, &msg) != HR_OK)
        return 0;
    fz_check (msg.from_len >= 1 && msg.from_len <= HR_CLUSTER_ID_MAX, "id out of bounds");
    fz_check (msg.body_len <= S_MAX_BODY, "body over its bound");
    const hrb_view_t *v = &msg.view.view;
    fz_check (!((v->members | v->owners | v->handoff) & ~S_ALL)
             && !(v->owners & ~v->members), "view outside the file");
    char from [HR_CLUSTER_ID_MAX + 1];
    memcpy (from, msg.from, msg.from_len);
    from [msg.from_len] = 0;
    hr_buf_t frame = HR_BUF_INIT;
    if (msg.kind == HRB_PEER_VIEW)
        hrb_peer_msg_encode_view (&frame, from, msg.cf, &msg.view);
    else
    if (msg.kind == HRB_PEER_FWD)
        hrb_peer_msg_encode_fwd (&frame, from, msg.cf, msg.number, msg.has_fid? &msg.fid: NULL,
                                 msg.body, msg.body_len);
    else
    if (msg.kind == HRB_PEER_FWDACK)
        hrb_peer_msg_encode_fwdack (&frame, from, msg.cf, msg.number, msg.fid, msg.body,
                                    msg.body_len);
    else
    if (msg.kind == HRB_PEER_HANDOFF || msg.kind == HRB_PEER_RSNAP || msg.kind == HRB_PEER_REPL)
        s_encode_chunk (&frame, from, &msg);
    else
    if (msg.kind == HRB_PEER_RACK)
        s_encode_rack (&frame, from, &msg);
    else
    if (msg.kind == HRB_PEER_HANDOFF_END)
        hrb_peer_msg_encode_handoff_end (&frame, from, msg.cf, msg.number, msg.count);
    else {
        fz_check (msg.kind == HRB_PEER_HANDOFF_ACK, "a kind not re-encoded");
        hrb_peer_msg_encode_handoff_ack (&frame, from, msg.cf, msg.number, msg.ch, msg.ch_len);
    }
    //  An id with a NUL in it encodes shorter: the decoder allows any bytes
    if (strlen (from) == msg.from_len) {
        fz_check (hrb_peer_msg_decode (frame.data, frame.size, S_ALL, S_MAX_BODY, &again)
                  == HR_OK, "re-encoded message does not decode");
        fz_check (again.kind == msg.kind && again.cf == msg.cf
                 && fz_span_eq (again.from, again.from_len, msg.from, msg.from_len),
                 "header differs");
        fz_check (again.view.type == msg.view.type && again.view.term == msg.view.term
                 && !memcmp (&again.view.view, &msg.view.view, sizeof msg.view.view)
                 && again.view.stamp == msg.view.stamp
                 && again.view.leaving == msg.view.leaving
                 && again.view.granted == msg.view.granted, "view message differs");
        fz_check (again.number == msg.number && again.has_fid == msg.has_fid
                 && again.fid == msg.fid && again.body_len == msg.body_len
                 && (!msg.body_len || !memcmp (again.body, msg.body, msg.body_len)),
                 "forward differs");
        fz_check (again.ch_len == msg.ch_len && (!msg.ch || !memcmp (again.ch, msg.ch, msg.ch_len))
                 && again.seq == msg.seq && again.part == msg.part && again.last == msg.last
                 && again.end == msg.end && again.count == msg.count
                 && s_same_chunk (&again, &msg)
                 && (!msg.epoch || !memcmp (again.epoch, msg.epoch, HR_EPOCH_LEN)),
                 "handoff differs");
        fz_check (again.r == msg.r && again.first == msg.first && again.echo == msg.echo
                 && again.stamp == msg.stamp && again.gap == msg.gap
                 && again.fence == msg.fence && again.installed == msg.installed,
                 "replication frame differs");
    }
    hr_buf_free (&frame);
    return 0;
}
