/*  hrg_ws_conn: a WebSocket connection's state, shared by the two halves
    of the transport: hrg_ws.c (the socket, heartbeats, closing) and
    hrg_ws_session.c (the messages: subscribe, publish, ping). Internal to
    hrg_ws*.c.  */
#ifndef HRG_WS_CONN_H
#define HRG_WS_CONN_H

#include "hrg_stream.h"
#include "hrg_ws_msg.h"
#include "hrg_ws_sock.h"

typedef struct {
    hrg_conn_t conn;            //  first: the core's part
    hrg_ws_format_t format;
    hrg_ws_sock_t *sock;        //  inbound framing (wslay), owned
    hr_vec_t streams;           //  hrg_stream_t *, one per subscribed channel, owned
    hr_vec_t pubs;              //  publishes awaiting the broker, owned (hrg_ws_session.c)
    hr_vec_t held;              //  answers waiting for an earlier one, owned (hrg_ws_session.c)
    uint32_t order_next;        //  the place the next request's answer takes
    uint32_t order_head;        //  the place of the next answer to send
    uint64_t last_in_ms;        //  monotonic: the last bytes read
    uint64_t last_ping_ms;      //  monotonic: the last ping sent
    size_t inbound_counted;     //  sock memory counted in herald_ws_inbound_bytes
    uint64_t rate_start_ms;     //  the current second of --ws-max-rate
    uint32_t rate_count;        //  messages and control frames in it
    uint64_t controls_counted;  //  control frames already counted
    uint64_t opened_ms;         //  monotonic: the upgrade (for --ws-auth-timeout)
    bool said_bye;
} hrg_ws_conn_t;

//  Queues frame (rendered whole, copied) and marks the connection dirty.
void hrg_ws_conn_send (hrg_ws_conn_t *self, hr_buf_t *frame);

//  Ends the connection for a reason of the server's: bye{code, why} and a
//  close frame (if the socket takes them now), then closes it.
void hrg_ws_conn_end (hrg_ws_conn_t *self, int code, const char *why);

//  Counts an err reply in herald_ws_errors_total.
void hrg_ws_conn_count_error (hrg_ws_conn_t *self, const char *code);

//  hrg_ws_session.c: counts count inbound messages or control frames
//  against --ws-max-rate; false when over it.
bool hrg_ws_session_within_rate (hrg_ws_conn_t *self, size_t count);

//  hrg_ws_session.c: a complete inbound data message of the right kind.
void hrg_ws_session_message (hrg_ws_conn_t *self, const uint8_t *data, size_t size);

//  A stream's channel synced: answer its sub with ok{id, ch, e, s} when
//  every earlier request has its answer; false until then.
bool hrg_ws_session_ready (hrg_stream_t *stream);

//  The connection drained: catching-up streams go on.
void hrg_ws_session_drained (hrg_ws_conn_t *self);

//  Frees the streams and forgets the publishes in flight.
void hrg_ws_session_fini (hrg_ws_conn_t *self);

//  hrg_ws_session.c: the answer in scratch (a rendered frame), sent now if
//  it is the turn of order, else held until it is.
void hrg_ws_session_answer (hrg_ws_conn_t *self, uint32_t order, hr_buf_t *scratch);

//  hrg_ws_session.c: err{id?, code, msg, retry} as the answer of order.
void hrg_ws_session_err (hrg_ws_conn_t *self, uint32_t order, bool has_id, uint32_t id,
                         const char *code, const char *msg);

//  hrg_ws_session.c: ends the subscription to channel (if any) without an
//  answer of its own (a grant withdrawn). True when there was one.
bool hrg_ws_session_drop (hrg_ws_conn_t *self, const char *channel);

//  hrg_ws_auth.c: auth and refresh messages.
void hrg_ws_auth_message (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg);

//  hrg_ws_auth.c: may msg (a sub or a pub) go on? Else answers err
//  (unauthorized before auth, forbidden without the grant) and false.
bool hrg_ws_auth_may (hrg_ws_conn_t *self, uint32_t order, const hrg_ws_msg_t *msg);

//  hrg_ws_auth.c: the auth state welcome announces ("none", "required",
//  "done") and whether the connection must send auth in time (4005).
const char *hrg_ws_auth_state (hrg_ws_conn_t *self);
bool hrg_ws_auth_overdue (hrg_ws_conn_t *self, uint64_t now_ms);

#endif
