/*  hrg_ws_msg: the herald.v1 WebSocket messages (docs/protocol.md), in both
    encodings: herald.v1.json (text frames) and herald.v1.msgpack (binary
    frames). Pure functions: no socket, no clock, no framing state.

    Client messages are decoded from one reassembled data message into a
    batch of views. Server messages are rendered as complete, unmasked
    WebSocket frames (RFC 6455 §5.2), so one rendering can be written to
    every socket as is.  */
#ifndef HRG_WS_MSG_H
#define HRG_WS_MSG_H

#include "hr_buf.h"
#include "hr_event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { HRG_WS_JSON, HRG_WS_MSGPACK } hrg_ws_format_t;

typedef enum {
    HRG_WS_T_AUTH = 1, HRG_WS_T_SUB, HRG_WS_T_UNSUB, HRG_WS_T_PUB, HRG_WS_T_PING,
    HRG_WS_T_PONG, HRG_WS_T_REFRESH, HRG_WS_T_UNKNOWN
} hrg_ws_type_t;

//  Messages one frame may carry (an array of more is refused as a whole).
#define HRG_WS_BATCH_MAX 64
//  Nesting a whole frame may have: deeper is not read at all (close 1007),
//  so neither jansson nor the MessagePack reader recurses further. An
//  event's data has its own, lower bound (HR_MPACK_MAX_DEPTH, an err).
#define HRG_WS_MAX_DEPTH 64

//  One client message. Every pointer is a view, valid until the batch that
//  holds it is freed; strings are not NUL-terminated.
typedef struct {
    hrg_ws_type_t type;             //  HRG_WS_T_UNKNOWN when t is missing or unknown
    bool has_id;                    //  "id": a u32; present and valid
    uint32_t id;
    //  NULL, or why this message is refused: answer err{id?, code, msg: error}
    //  and keep the connection. Static text. The other fields are then
    //  unreliable, except has_id/id (echo them when has_id).
    const char *error;
    const char *code;               //  with error: "bad_request", or "limit" (batch too big)
    const char *ch;                 //  sub, unsub, pub: a valid channel (hr_channel_valid)
    size_t ch_len;
    bool resume;                    //  sub with both e and s
    const char *e;                  //  resume epoch; NULL (e_len 0) when e was null
    size_t e_len;
    uint64_t s;                     //  resume after this seq
    const uint8_t *data;            //  pub: exactly one MessagePack value (see decode)
    size_t data_len;
    const char *ptype;              //  pub: optional "type" (hr_token_valid, HR_TYPE_MAX); NULL if absent
    size_t ptype_len;
    const char *key;                //  pub: optional idempotency "key" (hr_id_valid); NULL if absent
    size_t key_len;
    const char *token;              //  auth, refresh: a string (may be empty)
    size_t token_len;
} hrg_ws_msg_t;

//  The messages of one frame. Defined here so that it can live on the
//  caller's stack or in a worker (about 10 KB); its fields are private:
//  use the functions below.
typedef struct hrg_ws_batch_t {
    hrg_ws_msg_t msgs [HRG_WS_BATCH_MAX];
    size_t count;
    json_t *root;                   //  JSON: the parsed frame the views point into
    hr_buf_t data;                  //  JSON: every pub's data, packed as MessagePack
} hrg_ws_batch_t;

//  Decodes one reassembled data message (payload is borrowed: with
//  MessagePack, the views point into it, so it must outlive the batch's use).
//  Initializes *self whatever its state (free the previous decode first).
//  Returns:
//  - 1007 (close the connection with it) when the payload is not exactly one
//    JSON value (jansson, duplicate keys refused anywhere, invalid UTF-8
//    refused) or one MessagePack value (truncated, trailing bytes, a known
//    field given twice in a message), or nests deeper than HRG_WS_MAX_DEPTH.
//    Integers over 2^63-1 in JSON are refused too (jansson cannot read them).
//  - 0 otherwise, with 1 to HRG_WS_BATCH_MAX messages in order: one for a
//    map, one per element for an array. A message whose error is set gets
//    err and the others go on. An array of more than HRG_WS_BATCH_MAX, or
//    none, is one message with code "limit" ("bad_request" for none); a value
//    that is not a map, or an array element that is not one, is a message
//    with code "bad_request".
//  Per message: "t" must be a string; "id" a u32 (required by auth, sub,
//  unsub, pub, refresh; optional for ping, pong); sub/unsub/pub need a valid
//  "ch"; sub may resume with both "e" (epoch or null) and "s" (u64), never
//  one alone; pub needs "data" (any value, null included, at most
//  HR_MPACK_MAX_DEPTH levels) and may have "type" and "key"; auth and
//  refresh need a string "token". Fields a type does not use, and unknown
//  fields, are ignored. pub's data: JSON input is packed with
//  hr_json_to_mpack into the batch; MessagePack input is a view of the
//  publisher's bytes in the payload, never re-encoded.
int hrg_ws_batch_decode (hrg_ws_batch_t *self, hrg_ws_format_t format,
                         const void *payload, size_t size);

size_t hrg_ws_batch_count (const hrg_ws_batch_t *self);

//  Message index (< count); borrowed, valid until hrg_ws_batch_free.
const hrg_ws_msg_t *hrg_ws_batch_msg (const hrg_ws_batch_t *self, size_t index);

//  Frees what decode allocated; every view into the batch dies here. Safe
//  after any decode result, and twice.
void hrg_ws_batch_free (hrg_ws_batch_t *self);

//  Server messages. Each APPENDS one complete, unmasked frame to out (FIN,
//  opcode text 0x1 for JSON, binary 0x2 for MessagePack; 7/16/64-bit
//  length), ready to be written to any socket of that format. Strings are
//  borrowed for the call; NUL-terminated unless a length is given.
void hrg_ws_render_welcome (hr_buf_t *out, hrg_ws_format_t f, const char *sid,
                            uint64_t hb_s, uint64_t max, const char *auth);
//  ok{id}: unsub's answer.
void hrg_ws_render_ok (hr_buf_t *out, hrg_ws_format_t f, uint32_t id);
//  ok{id, ch, e, s}: epoch NULL renders null (a channel with no history).
void hrg_ws_render_ok_sub (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *ch,
                           const char *epoch, uint64_t s);
//  ok{id, e, s, dup}.
void hrg_ws_render_ok_pub (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *epoch,
                           size_t epoch_len, uint64_t s, bool dup);
//  err{id?, code, msg, retry}: retry is true for rate_limited, unavailable
//  and internal only.
void hrg_ws_render_err (hr_buf_t *out, hrg_ws_format_t f, bool has_id, uint32_t id,
                        const char *code, const char *msg);
//  ev{ch, e, s, ts, type?, data}: JSON renders data with hr_json_from_mpack;
//  MessagePack copies ev->data verbatim (the publisher's bytes).
void hrg_ws_render_ev (hr_buf_t *out, hrg_ws_format_t f, const hr_event_t *ev);
//  reset{ch, e, s, why}: epoch NULL renders null.
void hrg_ws_render_reset (hr_buf_t *out, hrg_ws_format_t f, const char *ch, const char *epoch,
                          uint64_t s, const char *why);
void hrg_ws_render_ping (hr_buf_t *out, hrg_ws_format_t f);
void hrg_ws_render_pong (hr_buf_t *out, hrg_ws_format_t f, bool has_id, uint32_t id);
//  bye{code, why, retry_after?}: retry_after in ms, absent when negative.
void hrg_ws_render_bye (hr_buf_t *out, hrg_ws_format_t f, int code, const char *why,
                        int64_t retry_after_ms);
//  ok{id, sub?, exp}: the answer to auth (with sub) and refresh (without).
void hrg_ws_render_ok_auth (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *sub,
                            size_t sub_len, int64_t exp);
//  refresh{in}: the token expires in in_s seconds.
void hrg_ws_render_refresh (hr_buf_t *out, hrg_ws_format_t f, int64_t in_s);
//  unsub{ch, why}: the server ended a subscription (why "forbidden").
void hrg_ws_render_unsub (hr_buf_t *out, hrg_ws_format_t f, const char *ch, const char *why);
//  err{id, code, msg, retry, retry_after}: retry_after in ms (a code whose
//  retry is true: rate_limited).
void hrg_ws_render_err_retry (hr_buf_t *out, hrg_ws_format_t f, uint32_t id, const char *code,
                              const char *msg, uint64_t retry_after_ms);
//  A close control frame: code, then reason (NULL: none) cut to 123 bytes
//  at a UTF-8 boundary (control frames carry at most 125 bytes).
void hrg_ws_render_close (hr_buf_t *out, uint16_t code, const char *reason);

#endif
