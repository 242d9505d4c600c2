/*  hr_proto: broker requests and replies over ROUTER (docs/protocol.md §3).

    Requests are one MessagePack map with an `op`: publish (the default),
    history or revoke. Replies are a map, followed for history by one
    envelope frame per event. Revocations also travel on the stream, under
    their own topic (§4.1). Decoded requests and replies are views into
    their frames.  */
#ifndef HR_PROTO_H
#define HR_PROTO_H

#include "hr_event.h"
#include "hr_revoke.h"

#define HR_HISTORY_LIMIT_DEFAULT 100
#define HR_HISTORY_LIMIT_MAX 1000

//  The stream topic of revocations: `|` is outside the channel alphabet, so
//  no channel's topic ("name|") can start with it, nor it with one's.
#define HR_REVOKE_TOPIC "|revoke"
//  Stream topic of the installed view, from every broker of a cluster
//  (docs/cluster.md): {t: "view", from, n, members, owners, handoff}.
#define HR_VIEW_TOPIC "|view"
//  Revocations one stream message carries at most.
#define HR_REVOKE_BATCH 64

typedef enum { HR_OP_PUBLISH, HR_OP_HISTORY, HR_OP_REVOKE } hr_op_t;

//  Why a range of a channel cannot be delivered (docs/protocol.md §3.2, §7).
typedef enum {
    HR_RESET_NONE,
    HR_RESET_EPOCH_CHANGED,
    HR_RESET_UNKNOWN_CHANNEL,
    HR_RESET_EXPIRED,
    HR_RESET_CURSOR_AHEAD,
    HR_RESET_UNAVAILABLE,
    HR_RESET_CURSOR_MISMATCH,   //  gateway only: a cursor made for another channel set
    HR_RESET_COUNT
} hr_reset_t;

//  "epoch-changed" etc.; static string.
const char *hr_reset_name (hr_reset_t reason);

//  Parses a reason name; HR_RESET_NONE when unknown.
hr_reset_t hr_reset_parse (const char *name, size_t len);

typedef struct {
    hr_op_t op;
    bool has_rid;
    uint64_t rid;
    hr_event_t event;           //  publish: ch, type, id, data; history: ch, epoch
    uint64_t since;             //  history
    uint64_t limit;             //  history, clamped to HR_HISTORY_LIMIT_MAX
    hr_revoke_kind_t kind;      //  revoke: sub or jti
    const char *value;          //  revoke: 1-HR_REVOKE_VALUE_MAX bytes
    size_t value_len;
    int64_t until;              //  revoke: Unix seconds
} hr_request_t;

//  Decodes a request frame no larger than max bytes. Publishes without op
//  are accepted (the PULL socket's frames). Errors as docs/protocol.md §2.2,
//  plus HR_E_BAD_REQUEST for an unknown op. On an error, req->has_rid and
//  req->rid still say whether the frame had a readable rid (as with
//  hr_request_find_rid), so that the error reply can carry it; the other
//  fields of req are then unspecified.
hr_error_t hr_request_decode (const void *frame, size_t size, size_t max,
                              hr_request_t *req);

//  Looks for an unsigned integer `rid` among the top-level keys of a frame
//  that is a map, of any size. Finds it when every key and value before it
//  is well-formed MessagePack (what follows it is not read). Returns true
//  and sets rid when found.
bool hr_request_find_rid (const void *frame, size_t size, uint64_t *rid);

//  Appends a publish request for ev (ch, type, id, data) to out.
void hr_request_encode_publish (hr_buf_t *out, const uint64_t *rid,
                                const hr_event_t *ev);

//  Appends a history request to out; epoch may be NULL.
void hr_request_encode_history (hr_buf_t *out, const uint64_t *rid,
                                const char *ch, const char *epoch,
                                uint64_t since, uint64_t limit);

//  Appends a revoke request to out (value: len bytes, until_s >= 0).
void hr_request_encode_revoke (hr_buf_t *out, const uint64_t *rid, hr_revoke_kind_t kind,
                               const char *value, size_t len, int64_t until_s);

//  "sub" or "jti"; static string.
const char *hr_revoke_kind_name (hr_revoke_kind_t kind);

typedef struct {
    bool has_rid;
    uint64_t rid;
    hr_error_t error;           //  HR_OK unless an error reply
    const char *message;        //  error replies
    size_t message_len;
    //  publish acknowledgement
    uint64_t seq;
    bool dup;
    //  history header
    const char *ch;
    size_t ch_len;
    uint64_t first;
    uint64_t head;
    uint64_t count;
    hr_reset_t reset;
    //  both
    const char *epoch;          //  NULL when nil
    size_t epoch_len;
    //  revoke acknowledgement: kind is 0 in any other reply
    hr_revoke_kind_t revoked;
    int64_t until;
} hr_reply_t;

//  Appends a publish acknowledgement.
void hr_reply_encode_ack (hr_buf_t *out, const uint64_t *rid, uint64_t seq,
                          const char *epoch, bool dup);

//  Appends an error reply with the code's default message.
void hr_reply_encode_error (hr_buf_t *out, const uint64_t *rid, hr_error_t error);

//  Appends an error reply with a message of the caller's (a static or
//  caller-owned string, copied).
void hr_reply_encode_error_message (hr_buf_t *out, const uint64_t *rid, hr_error_t error,
                                    const char *message);

//  Appends a history header. epoch may be NULL (no such channel).
void hr_reply_encode_history (hr_buf_t *out, const uint64_t *rid,
                              const char *ch, const char *epoch,
                              uint64_t first, uint64_t head, uint64_t count,
                              hr_reset_t reset);

//  Appends a revoke acknowledgement.
void hr_reply_encode_revoked (hr_buf_t *out, const uint64_t *rid, hr_revoke_kind_t kind,
                              int64_t until_s);

//  Decodes any reply map. Unknown keys are skipped.
hr_error_t hr_reply_decode (const void *frame, size_t size, hr_reply_t *reply);

//  One revocation, a view into the frame it came from.
typedef struct {
    hr_revoke_kind_t kind;
    const char *value;
    size_t len;
    int64_t until;
} hr_revocation_t;

//  Appends the body of a stream message (topic HR_REVOKE_TOPIC) carrying
//  entries [0, count), 1 <= count <= HR_REVOKE_BATCH.
void hr_revocations_encode (hr_buf_t *out, const hr_revocation_t *entries, size_t count);

//  Decodes a revocation stream body into entries (HR_REVOKE_BATCH slots);
//  *count receives how many. All or nothing: any malformed entry fails the
//  message with the error of §2.2.
hr_error_t hr_revocations_decode (const void *frame, size_t size,
                                  hr_revocation_t *entries, size_t *count);

#endif
