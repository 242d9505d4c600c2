/*  hrb_peer_msg: the frames brokers send each other (docs/cluster.md,
    "Running a cluster").

    Every message between brokers is one frame, a MessagePack map with a
    type "t", the sender's id "from" and "cf", the fingerprint of the
    sender's cluster file (brokers with different files must not agree on
    anything). The view messages of hrb_view ("hb", "hback", "vreq",
    "vote") carry "term", "view" ({"n", "m", "o", "h", "f"}: number, the
    members, owners and handoff bitmasks, and the number of the view it
    follows or 0), "stamp", "leaving", "granted" and "base" (votes: the
    voter's installed view when it voted in no later term, or 0) as their
    type needs; a forwarded publish ("fwd") carries the view number
    "n" the forwarder had installed, the client's publish request "req" as
    it came, and for an acknowledged publish a forward id "fid"; the
    owner's answer ("fwdack") carries "n", that "fid" and the reply frame
    "rep" for the client. A graceful handoff (hrb_handoff) sends "handoff"
    chunks: the view number "n", the channel "ch", its "epoch" and head
    "seq", the chunk's index "part" (0, 1, ... per channel), "last" on the
    channel's final chunk, "ev" (an array of history envelopes, oldest
    first) and "keys" (a map of idempotency id -> seq); a frame of chunks
    is at most HRB_HANDOFF_FRAME_MAX bytes. "handoff_end" ("n", "count":
    channels sent) closes a sender's handoff to one receiver, and
    "handoff_ack" ("n" and either "ch" or "end": true) confirms a channel
    installed, or the end.

    Synchronous replication (hrb_sync, the owner; hrb_backup, the backup;
    docs/cluster.md, "Zero-reset failover") sends, within a session of the
    pair owner -> backup, frames numbered "r" (1, 2, ...; "first" opens a
    session) that echo the backup's latest stamp "e" (0: none): "repl"
    ("n", "r", "first", "e", and "ev", the events' envelopes as published,
    oldest first; [] is a keepalive) and "rsnap", a snapshot chunk of one
    channel: "n", "r", "first", "e" and the fields of a "handoff" chunk.
    Both are at most HRB_HANDOFF_FRAME_MAX bytes. The backup answers
    "rack": the view "n" of the frames it acknowledges, "r" (every frame up
    to r applied; 0: none in this session), "gap" (it missed one after r),
    its stamp "s", "fence" (it installed a newer view, "inst", its
    installed view, then above n) and "miss", at most HRB_PEER_MISSES_MAX
    pairs [channel, r]: channels it could not apply in frame r.

    Decoding is strict and bounded: every field a type needs, no other,
    each once, of its type; bitmasks only over brokers of the file; ids of
    1 to HR_CLUSTER_ID_MAX characters; "req" and "rep" at most max_body
    bytes. A newer broker adds fields only with a new "t". Nothing is
    copied: decoded strings and bodies are spans into the frame.  */
#ifndef HRB_PEER_MSG_H
#define HRB_PEER_MSG_H

#include "hrb_view.h"
#include "hr_buf.h"
#include "hr_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HRB_PEER_VIEW = 1,          //  a message of hrb_view: msg.view
    HRB_PEER_FWD,               //  a publish forwarded to the channel's owner
    HRB_PEER_FWDACK,            //  the owner's reply to a forwarded ROUTER publish
    HRB_PEER_HANDOFF,           //  a chunk of a channel handed over
    HRB_PEER_HANDOFF_END,       //  every channel for the receiver was sent
    HRB_PEER_HANDOFF_ACK,       //  a channel installed (ch), or the end (end)
    HRB_PEER_REPL,              //  replicated events (ev), or a keepalive
    HRB_PEER_RSNAP,             //  a snapshot chunk of a channel to its backup
    HRB_PEER_RACK               //  the backup's cumulative acknowledgement
} hrb_peer_kind_t;

//  A handoff chunk's events and keys together take at most this many bytes
//  (the sender cuts a channel's history into several chunks); a "handoff"
//  frame at most HRB_HANDOFF_FRAME_MAX.
#define HRB_HANDOFF_CHUNK_MAX (1024 * 1024)
#define HRB_HANDOFF_FRAME_MAX (HRB_HANDOFF_CHUNK_MAX + 1024)

//  A "rack" lists at most this many misses (HRB_BACKUP_MISSES_MAX, the
//  same number: the backup turns one more into a gap).
#define HRB_PEER_MISSES_MAX 256

typedef struct {
    hrb_peer_kind_t kind;
    const char *from;           //  the sender's id (a span into the frame)
    size_t from_len;
    uint32_t cf;                //  the sender's cluster file fingerprint
    //  HRB_PEER_VIEW: type, term, view, stamp, leaving, granted; from and
    //  to are left -1 for the caller, who knows the indices
    hrb_view_msg_t view;
    //  HRB_PEER_FWD and HRB_PEER_FWDACK
    uint64_t number;            //  the sender's installed view number
    bool has_fid;               //  fwd: false for a PUSH publish (no answer)
    uint64_t fid;
    const uint8_t *body;        //  fwd: the publish request; fwdack: the reply
    size_t body_len;
    //  HRB_PEER_HANDOFF and HRB_PEER_RSNAP (number above too),
    //  HRB_PEER_HANDOFF_ACK (ch or end)
    const char *ch;             //  NULL when absent
    size_t ch_len;
    const char *epoch;          //  HR_EPOCH_LEN lowercase hex digits
    uint64_t seq;               //  the channel's head (last seq assigned)
    uint64_t part;              //  chunk index within the channel, from 0
    bool last;                  //  the channel's final chunk
    bool end;                   //  handoff_ack: the end was received
    uint64_t count;             //  handoff_end: channels sent
    const uint8_t *ev, *keys;   //  the encoded "ev" array (repl too) and "keys" map
    size_t ev_size, keys_size;
    uint32_t ev_count, keys_count;
    //  HRB_PEER_REPL, HRB_PEER_RSNAP and HRB_PEER_RACK (number above too;
    //  a rack's is the view of the frames it acknowledges or fences)
    uint64_t r;                 //  the frame's session seq (rack: every frame up to r applied)
    bool first;                 //  repl, rsnap: the first frame of a new session
    uint64_t echo;              //  repl, rsnap ("e"): the backup's latest stamp (0: none)
    uint64_t stamp;             //  rack ("s"): the backup's stamp, echoed back later
    bool gap;                   //  rack: a frame after r was missed (start a new session)
    bool fence;                 //  rack: frames of view number refused (installed is newer)
    uint64_t installed;         //  rack ("inst"): the backup's installed view
    const uint8_t *miss;        //  rack: the encoded "miss" pairs (hrb_peer_msg_misses)
    size_t miss_size;
    uint32_t miss_count;
} hrb_peer_msg_t;

//  One span of a handoff, rsnap or repl to encode: an envelope, or an
//  idempotency key (id, id_len) with its seq.
typedef struct {
    const void *data;
    size_t len;
    uint64_t seq;               //  keys only
} hrb_peer_span_t;

//  Walks the events or keys of a decoded handoff chunk, repl or rsnap, or
//  the misses of a rack (valid while the frame is).
typedef struct {
    const uint8_t *pos, *end;
    uint32_t left;
} hrb_peer_iter_t;

//  Appends a view message (msg->type, term, view, stamp, leaving, granted
//  as the type needs; from and to are not encoded) from broker id.
void hrb_peer_msg_encode_view (hr_buf_t *out, const char *from, uint32_t cf,
                               const hrb_view_msg_t *msg);

//  Appends a forwarded publish: request (len bytes, as the client sent it);
//  fid NULL for a PUSH publish, which gets no answer.
void hrb_peer_msg_encode_fwd (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                              const uint64_t *fid, const void *request, size_t len);

//  Appends the owner's answer to forward fid: reply (len bytes) is the
//  frame the forwarding broker sends its client.
void hrb_peer_msg_encode_fwdack (hr_buf_t *out, const char *from, uint32_t cf,
                                 uint64_t number, uint64_t fid, const void *reply, size_t len);

//  Appends a handoff chunk of channel ch (len bytes) at epoch/seq: part and
//  last as above, events and keys (the caller kept them within
//  HRB_HANDOFF_CHUNK_MAX).
void hrb_peer_msg_encode_handoff (hr_buf_t *out, const char *from, uint32_t cf,
                                  uint64_t number, const char *ch, size_t len,
                                  const char *epoch, uint64_t seq, uint64_t part, bool last,
                                  const hrb_peer_span_t *events, size_t event_count,
                                  const hrb_peer_span_t *keys, size_t key_count);

//  Appends a handoff_end (count channels sent).
void hrb_peer_msg_encode_handoff_end (hr_buf_t *out, const char *from, uint32_t cf,
                                      uint64_t number, uint64_t count);

//  Appends a handoff_ack: for channel ch (len bytes), or ch NULL for the end.
void hrb_peer_msg_encode_handoff_ack (hr_buf_t *out, const char *from, uint32_t cf,
                                      uint64_t number, const char *ch, size_t len);

//  Appends a "repl" of view number: session seq r, first, echo, and the
//  envelopes events (count of them, 0 for a keepalive; the caller kept the
//  frame within HRB_HANDOFF_FRAME_MAX).
void hrb_peer_msg_encode_repl (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                               uint64_t r, bool first, uint64_t echo,
                               const hrb_peer_span_t *events, size_t count);

//  Appends an "rsnap": a handoff chunk (as hrb_peer_msg_encode_handoff)
//  sent as frame r of a session (first, echo as for "repl").
void hrb_peer_msg_encode_rsnap (hr_buf_t *out, const char *from, uint32_t cf,
                                uint64_t number, uint64_t r, bool first, uint64_t echo,
                                const char *ch, size_t len, const char *epoch, uint64_t seq,
                                uint64_t part, bool last,
                                const hrb_peer_span_t *events, size_t event_count,
                                const hrb_peer_span_t *keys, size_t key_count);

//  Appends a "rack" (fields above); misses (at most HRB_PEER_MISSES_MAX)
//  pairs of a channel miss_ch [i] (NUL-terminated) and its r miss_r [i].
//  The arrays are borrowed for the call.
void hrb_peer_msg_encode_rack (hr_buf_t *out, const char *from, uint32_t cf, uint64_t number,
                               uint64_t r, bool gap, uint64_t stamp, bool fence,
                               uint64_t installed, const char *const *miss_ch,
                               const uint64_t *miss_r, size_t misses);

//  The events (bin spans) or keys (id span and seq) of a decoded handoff,
//  repl (events) or rsnap; the misses (channel span and r) of a rack.
void hrb_peer_msg_events (const hrb_peer_msg_t *msg, hrb_peer_iter_t *iter);
void hrb_peer_msg_keys (const hrb_peer_msg_t *msg, hrb_peer_iter_t *iter);
void hrb_peer_msg_misses (const hrb_peer_msg_t *msg, hrb_peer_iter_t *iter);
bool hrb_peer_iter_event (hrb_peer_iter_t *iter, const uint8_t **data, size_t *len);
bool hrb_peer_iter_key (hrb_peer_iter_t *iter, const char **id, size_t *len, uint64_t *seq);
bool hrb_peer_iter_miss (hrb_peer_iter_t *iter, const char **ch, size_t *len, uint64_t *r);

//  Decodes a frame from another broker. all: the brokers of the file (a
//  bitmask naming any other is refused); max_body: the largest "req" or
//  "rep". Errors: those of hr_mpack, HR_E_BAD_TYPE (a field of the wrong
//  kind), HR_E_MISSING_FIELD, HR_E_DUPLICATE_FIELD, HR_E_BAD_FIELD (an
//  unknown type or field, a field the type does not carry, a bad value),
//  HR_E_FRAME_TOO_LARGE (a body or an event over max_body, a handoff, repl
//  or rsnap frame over HRB_HANDOFF_FRAME_MAX). A handoff's or rsnap's
//  channel must be valid, its epoch HR_EPOCH_LEN lowercase hex, every
//  key's seq from 1 to its seq; a repl's or rsnap's r at least 1; a rack
//  that fences names an installed view above n, and lists at most
//  HRB_PEER_MISSES_MAX misses, each a [valid channel, uint] array. msg is
//  unspecified on an error.
hr_error_t hrb_peer_msg_decode (const void *frame, size_t size, hr_members_t all,
                                size_t max_body, hrb_peer_msg_t *msg);

//  The wire name of a view message type ("hb"...); static string.
const char *hrb_peer_msg_type_name (hrb_view_msg_type_t type);

#endif
