/*  hrb_peer_msg: the frames brokers send each other (docs/cluster.md,
    "Running a cluster").

    Every message between brokers is one frame, a MessagePack map with a
    type "t", the sender's id "from" and "cf", the fingerprint of the
    sender's cluster file (brokers with different files must not agree on
    anything). The view messages of hrb_view ("hb", "hback", "vreq",
    "vote") carry "term", "view" ({"n", "m", "o", "h"}: number and the
    members, owners and handoff bitmasks), "stamp", "leaving", "granted" as
    their type needs; a forwarded publish ("fwd") carries the view number
    "n" the forwarder had installed, the client's publish request "req" as
    it came, and for an acknowledged publish a forward id "fid"; the
    owner's answer ("fwdack") carries "n", that "fid" and the reply frame
    "rep" for the client.

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
    HRB_PEER_FWDACK             //  the owner's reply to a forwarded ROUTER publish
} hrb_peer_kind_t;

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
} hrb_peer_msg_t;

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

//  Decodes a frame from another broker. all: the brokers of the file (a
//  bitmask naming any other is refused); max_body: the largest "req" or
//  "rep". Errors: those of hr_mpack, HR_E_BAD_TYPE (a field of the wrong
//  kind), HR_E_MISSING_FIELD, HR_E_DUPLICATE_FIELD, HR_E_BAD_FIELD (an
//  unknown type or field, a field the type does not carry, a bad value),
//  HR_E_FRAME_TOO_LARGE (a body over max_body). msg is unspecified on an
//  error.
hr_error_t hrb_peer_msg_decode (const void *frame, size_t size, hr_members_t all,
                                size_t max_body, hrb_peer_msg_t *msg);

//  The wire name of a view message type ("hb"...); static string.
const char *hrb_peer_msg_type_name (hrb_view_msg_type_t type);

#endif
