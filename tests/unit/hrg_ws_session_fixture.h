/*  hrg_ws_session_fixture: WebSocket sessions driven from the client's end
    (test_hrg_ws_session.c).

    The worker is the catch-up fixture's (a hand-built worker whose hrg_link
    talks to a fake broker over inproc://); each client is a socketpair
    opened through hrg_ws_open. The test writes masked client frames to its
    end, tells the connection its socket is readable, runs the worker's
    turn, and reads back the server's bytes: the 101 head, then frames,
    each checked whole (FIN, unmasked, shortest length) and decoded (JSON
    with jansson; MessagePack through its JSON rendering, the raw payload
    kept for byte checks).  */
#ifndef HRG_WS_SESSION_FIXTURE_H
#define HRG_WS_SESSION_FIXTURE_H

//  Both fixtures name a helper s_feed: the socket fixture's is not used here
#define s_feed s_sock_feed_unused
#include "hrg_ws_sock_fixture.h"
#undef s_feed
#include "hrg_catchup_fixture.h"
#include "hrg_ws.h"
#include "hrg_ws_conn.h"
#include "hr_json.h"

#include <jansson.h>

#define S_MSGS_MAX 8192

//  One message the server sent: decoded, and where its frame's payload is.
typedef struct {
    json_t *value;
    size_t off, len;            //  the frame's payload in got
} s_msg_t;

//  One WebSocket client: the connection and the far end of its socket.
typedef struct {
    hrg_conn_t *conn;           //  NULL once it is gone (reaped)
    hrg_ws_format_t format;
    int peer;
    hr_buf_t got;               //  every byte read so far
    size_t pos;                 //  frames parsed up to here (after the head)
    bool head;                  //  the 101 head was read
    bool eof;                   //  the server closed the socket
    int close_code;             //  of the close frame read, or 0
    hr_buf_t pongs;             //  the payloads of the pong frames read, in order
    s_msg_t *msgs;              //  S_MSGS_MAX, in the order sent
    size_t count, taken;
} s_ws_t;

static TU_UNUSED const hrg_ws_format_t s_formats [] = { HRG_WS_JSON, HRG_WS_MSGPACK };

//  True while conn is one of the worker's connections (not freed).
static TU_UNUSED bool
s_alive (s_fx_t *fx, const hrg_conn_t *conn)
{
    hrg_worker_t *w = &fx->worker;
    for (hr_list_t *node = hr_list_first (&w->conns); node; node = hr_list_next (&w->conns, node))
        if (hr_list_entry (node, hrg_conn_t, node) == conn)
            return true;
    for (hr_list_t *node = hr_list_first (&w->reaped); node;
         node = hr_list_next (&w->reaped, node))
        if (hr_list_entry (node, hrg_conn_t, node) == conn)
            return true;
    return false;
}

//  The worker's turn: groups and connections write what is due, the link
//  delivers the broker's answers, closed connections are freed.
static TU_UNUSED void
s_ws_turn (s_fx_t *fx)
{
    hrg_group_flush_dirty (&fx->worker, hr_mono_ms ());
    s_turn (fx);
}

//  The frame at got [*pos]: whole (else false, nothing moves), FIN, no
//  reserved bits, unmasked, the shortest length form.
static TU_UNUSED bool
s_ws_unframe (const hr_buf_t *got, size_t *pos, int *opcode, size_t *off, size_t *len)
{
    const uint8_t *p = (const uint8_t *) got->data + *pos;
    size_t left = got->size - *pos, head = 2, n;
    if (left < 2)
        return false;
    assert_int_equal (p [0] & 0xf0, 0x80);
    assert_int_equal (p [1] & 0x80, 0);
    n = p [1] & 0x7f;
    if (n == 126) {
        if (left < 4)
            return false;
        n = (size_t) p [2] << 8 | p [3];
        head = 4;
        assert_true (n > 125);
    }
    else
    if (n == 127) {
        if (left < 10)
            return false;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | p [2 + i];
        head = 10;
        assert_true (n > 0xffff);
    }
    if (left < head + n)
        return false;
    *opcode = p [0] & 0x0f;
    *off = *pos + head;
    *len = n;
    *pos += head + n;
    return true;
}

//  A payload of the client's format as a JSON value (new reference).
static TU_UNUSED json_t *
s_ws_decode (hrg_ws_format_t format, const char *payload, size_t len)
{
    json_error_t jerr;
    if (format == HRG_WS_JSON) {
        json_t *value = json_loadb (payload, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!value)
            fail_msg ("server sent invalid JSON: %.*s (%s)", (int) len, payload, jerr.text);
        return value;
    }
    hr_mp_reader_t reader;
    hr_mp_reader_init (&reader, payload, len);
    assert_int_equal (hr_mp_skip (&reader, 64, NULL, NULL), HR_OK);
    assert_int_equal (hr_mp_left (&reader), 0);
    hr_buf_t text = HR_BUF_INIT;
    hr_json_from_mpack (&text, (const uint8_t *) payload, len);
    json_t *value = json_loadb (text.data, text.size, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null (value);
    hr_buf_free (&text);
    return value;
}

static TU_UNUSED void
s_ws_push (s_ws_t *ws, json_t *value, size_t off, size_t len)
{
    assert_true (ws->count < S_MSGS_MAX);
    ws->msgs [ws->count++] = (s_msg_t) { value, off, len };
}

//  Parses what arrived: the head once, then whole frames into messages.
//  Nothing may follow a close frame.
static TU_UNUSED void
s_ws_parse (s_ws_t *ws)
{
    if (!ws->head) {
        hr_buf_putc (&ws->got, 0);
        ws->got.size--;
        const char *end = strstr (ws->got.data, "\r\n\r\n");
        if (!end)
            return;
        ws->head = true;
        ws->pos = (size_t) (end + 4 - ws->got.data);
    }
    int opcode;
    size_t off, len;
    while (s_ws_unframe (&ws->got, &ws->pos, &opcode, &off, &len)) {
        assert_int_equal (ws->close_code, 0);
        const char *payload = ws->got.data + off;
        if (opcode == OP_PONG) {
            hr_buf_put (&ws->pongs, payload, len);
            continue;
        }
        if (opcode == OP_CLOSE) {
            assert_true (len >= 2);
            ws->close_code = (uint8_t) payload [0] << 8 | (uint8_t) payload [1];
            continue;
        }
        assert_int_equal (opcode, ws->format == HRG_WS_JSON? OP_TEXT: OP_BIN);
        json_t *value = s_ws_decode (ws->format, payload, len);
        if (json_is_array (value)) {
            for (size_t i = 0; i < json_array_size (value); i++)
                s_ws_push (ws, json_incref (json_array_get (value, i)), off, len);
            json_decref (value);
        }
        else
            s_ws_push (ws, value, off, len);
    }
}

//  Reads what the client's socket holds (all of it) and parses it.
static TU_UNUSED void
s_ws_read (s_ws_t *ws)
{
    char buffer [65536];
    ssize_t size;
    while ((size = read (ws->peer, buffer, sizeof buffer)) > 0)
        hr_buf_put (&ws->got, buffer, (size_t) size);
    if (size == 0)
        ws->eof = true;
    s_ws_parse (ws);
}

//  Dispatches the readiness the worker's epoll set reports, as its loop
//  does (only client sockets are in it here).
static TU_UNUSED void
s_ws_poll (s_fx_t *fx)
{
    struct epoll_event events [16];
    int count = epoll_wait (fx->worker.epoll_fd, events, 16, 0);
    for (int i = 0; i < count; i++)
        hrg_conn_on_socket (events [i].data.ptr, events [i].events);
}

//  One step: the client reads, the server handles its sockets' readiness
//  (what the client wrote, room to write), the worker turns, the client
//  reads again.
static TU_UNUSED void
s_ws_step (s_fx_t *fx, s_ws_t *ws)
{
    s_ws_read (ws);
    s_ws_poll (fx);
    s_ws_turn (fx);
    if (ws->conn && !s_alive (fx, ws->conn))
        ws->conn = NULL;
    s_ws_read (ws);
}

//  Opens a client speaking format whose upgrade request carried a token
//  with claims (taken over; NULL: none), and reads the 101 head.
static TU_UNUSED void
s_ws_open_claims (s_fx_t *fx, s_ws_t *ws, hrg_ws_format_t format, hr_claims_t *claims)
{
    int sv [2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    memset (ws, 0, sizeof *ws);
    ws->format = format;
    ws->peer = sv [1];
    ws->msgs = calloc (S_MSGS_MAX, sizeof *ws->msgs);
    ws->conn = hrg_ws_open (&fx->worker, sv [0], format, "dGhlIHNhbXBsZSBub25jZQ==", true,
                            claims);
    assert_non_null (ws->conn);
    s_ws_step (fx, ws);
    assert_true (ws->head);
}

//  Opens a client speaking format, and reads the 101 head.
static TU_UNUSED void
s_ws_open (s_fx_t *fx, s_ws_t *ws, hrg_ws_format_t format)
{
    s_ws_open_claims (fx, ws, format, NULL);
}

typedef struct {
    s_fx_t *fx;
    hrg_conn_t *conn;
} s_ws_gone_t;

static TU_UNUSED bool
s_ws_step_until_gone (void *arg)
{
    s_ws_gone_t *gone = arg;
    s_ws_poll (gone->fx);
    s_ws_turn (gone->fx);
    return !s_alive (gone->fx, gone->conn);
}

//  The client closes its socket and frees its state; the server lets the
//  connection go (open, or lingering after its last words) at once.
static TU_UNUSED void
s_ws_close (s_fx_t *fx, s_ws_t *ws)
{
    close (ws->peer);
    if (ws->conn && s_alive (fx, ws->conn)) {
        s_ws_gone_t gone = { fx, ws->conn };
        assert_true (tfb_wait (s_ws_step_until_gone, &gone, S_WAIT_MS));
    }
    for (size_t i = 0; i < ws->count; i++)
        json_decref (ws->msgs [i].value);
    free (ws->msgs);
    hr_buf_free (&ws->got);
    hr_buf_free (&ws->pongs);
    memset (ws, 0, sizeof *ws);
}

//  Writes bytes to the server, which reads them on the step's readiness.
static TU_UNUSED void
s_ws_write (s_fx_t *fx, s_ws_t *ws, const hr_buf_t *bytes)
{
    assert_non_null (ws->conn);
    assert_int_equal (write (ws->peer, bytes->data, bytes->size), (ssize_t) bytes->size);
    s_ws_step (fx, ws);
}

//  Sends one data frame with payload as it is, of the client's format.
static TU_UNUSED void
s_ws_send_raw (s_fx_t *fx, s_ws_t *ws, const void *payload, size_t size)
{
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame (&bytes, FIN | (ws->format == HRG_WS_JSON? OP_TEXT: OP_BIN), payload, size);
    s_ws_write (fx, ws, &bytes);
    hr_buf_free (&bytes);
}

//  Sends text (a JSON value, or a batch) in the client's encoding.
static TU_UNUSED void
s_ws_send (s_fx_t *fx, s_ws_t *ws, const char *text)
{
    if (ws->format == HRG_WS_JSON) {
        s_ws_send_raw (fx, ws, text, strlen (text));
        return;
    }
    json_t *value = json_loads (text, 0, NULL);
    assert_non_null (value);
    hr_buf_t packed = HR_BUF_INIT;
    assert_int_equal (hr_json_to_mpack (&packed, value), HR_OK);
    json_decref (value);
    s_ws_send_raw (fx, ws, packed.data, packed.size);
    hr_buf_free (&packed);
}

typedef struct {
    s_fx_t *fx;
    s_ws_t *ws;
} s_ws_wait_t;

static TU_UNUSED bool
s_ws_step_until_msg (void *arg)
{
    s_ws_wait_t *wait = arg;
    s_ws_step (wait->fx, wait->ws);
    return wait->ws->taken < wait->ws->count;
}

//  The next message (borrowed: the client owns it), waiting for it.
static TU_UNUSED s_msg_t *
s_ws_take (s_fx_t *fx, s_ws_t *ws)
{
    s_ws_wait_t wait = { fx, ws };
    if (!tfb_wait (s_ws_step_until_msg, &wait, S_WAIT_MS))
        fail_msg ("no message from the server (close %d, eof %d)", ws->close_code, ws->eof);
    return &ws->msgs [ws->taken++];
}

//  True when every field of want is in got with an equal value.
static TU_UNUSED bool
s_json_has (const json_t *got, const json_t *want)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) want, key, value)
        if (!json_equal (json_object_get (got, key), value))
            return false;
    return true;
}

static TU_UNUSED json_t *
s_ws_check (s_fx_t *fx, s_ws_t *ws, const char *want_text, bool exact)
{
    json_t *got = s_ws_take (fx, ws)->value;
    json_t *want = json_loads (want_text, 0, NULL);
    assert_non_null (want);
    bool same = exact? json_equal (got, want): s_json_has (got, want);
    json_decref (want);
    if (!same) {
        char *text = json_dumps (got, JSON_COMPACT);
        fail_msg ("got %s, want %s %s", text, exact? "exactly": "at least", want_text);
    }
    return got;
}

//  The next message is exactly want (JSON text); returns it, borrowed.
static TU_UNUSED json_t *
s_ws_expect (s_fx_t *fx, s_ws_t *ws, const char *want)
{
    return s_ws_check (fx, ws, want, true);
}

//  The next message has (at least) want's fields.
static TU_UNUSED json_t *
s_ws_expect_has (s_fx_t *fx, s_ws_t *ws, const char *want)
{
    return s_ws_check (fx, ws, want, false);
}

//  Nothing more arrives over a few turns.
static TU_UNUSED void
s_ws_quiet (s_fx_t *fx, s_ws_t *ws)
{
    for (int i = 0; i < 5; i++) {
        s_ws_step (fx, ws);
        zmq_poll (NULL, 0, 1);
    }
    if (ws->taken < ws->count) {
        char *text = json_dumps (ws->msgs [ws->taken].value, JSON_COMPACT);
        fail_msg ("unexpected message %s", text);
    }
    assert_int_equal (ws->close_code, 0);
}

static TU_UNUSED bool
s_ws_step_until_eof (void *arg)
{
    s_ws_wait_t *wait = arg;
    s_ws_step (wait->fx, wait->ws);
    return wait->ws->eof;
}

//  The server closes: bye{code, why} (returned, borrowed), then a close
//  frame with code and nothing after it, then the socket.
static TU_UNUSED json_t *
s_ws_expect_bye (s_fx_t *fx, s_ws_t *ws, int code)
{
    json_t *bye = s_ws_take (fx, ws)->value;
    assert_string_equal (json_string_value (json_object_get (bye, "t")), "bye");
    assert_int_equal (json_integer_value (json_object_get (bye, "code")), code);
    assert_true (json_is_string (json_object_get (bye, "why")));
    s_ws_wait_t wait = { fx, ws };
    assert_true (tfb_wait (s_ws_step_until_eof, &wait, S_WAIT_MS));
    assert_int_equal (ws->close_code, code);
    assert_int_equal (ws->taken, ws->count);
    assert_int_equal (ws->pos, ws->got.size);   //  whole frames only
    assert_true (!ws->conn || ws->conn->closing);
    return bye;
}

//  The raw payload of message m's frame (MessagePack: the exact bytes).
static TU_UNUSED const uint8_t *
s_ws_payload (const s_ws_t *ws, const s_msg_t *m, size_t *len)
{
    *len = m->len;
    return (const uint8_t *) ws->got.data + m->off;
}

//  Feeds the head marker of channel ch (epoch NULL for a channel with no
//  history), then turns.
static TU_UNUSED void
s_ws_live (s_fx_t *fx, const char *ch, const char *epoch, uint64_t head)
{
    s_feed (fx, tfb_head_marker (ch, epoch, head));
    s_ws_turn (fx);
}

//  Feeds events first..last of channel ch in epoch, as the broker stream.
static TU_UNUSED void
s_ws_events (s_fx_t *fx, const char *ch, const char *epoch, uint64_t first, uint64_t last)
{
    for (uint64_t seq = first; seq <= last; seq++)
        s_feed (fx, tfb_event (ch, epoch, seq));
    s_ws_turn (fx);
}

//  Expects evs first..last of ch in epoch (data: tfb_event's fixint).
static TU_UNUSED void
s_ws_expect_evs (s_fx_t *fx, s_ws_t *ws, const char *ch, const char *epoch, uint64_t first,
                 uint64_t last)
{
    for (uint64_t seq = first; seq <= last; seq++) {
        char want [160];
        snprintf (want, sizeof want,
                  "{\"t\":\"ev\",\"ch\":\"%s\",\"e\":\"%s\",\"s\":%llu,\"ts\":1,\"data\":%llu}",
                  ch, epoch, (unsigned long long) seq, (unsigned long long) (seq % 128));
        s_ws_expect (fx, ws, want);
    }
}

//  Takes the next publish request (failing without one).
static TU_UNUSED void
s_ws_take_pub (s_fx_t *fx, tfb_request_t *request)
{
    assert_true (tfb_recv (&fx->broker, request, S_WAIT_MS));
    assert_int_equal (request->error, HR_OK);
    assert_int_equal (request->req.op, HR_OP_PUBLISH);
}

//  The catch-up fixture's worker, writing group frames at once.
static TU_UNUSED int
s_ws_setup (void **state)
{
    s_setup (state);
    s_fx_t *fx = *state;
    fx->config.write_interval = 0;
    return 0;
}

//  The catch-up fixture's teardown, after checking what WebSockets hold:
//  no group, no WebSocket counted, no inbound bytes.
static TU_UNUSED int
s_ws_teardown (void **state)
{
    s_fx_t *fx = *state;
    hrg_worker_t *w = &fx->worker;
    hrg_conn_close_all (w, HRG_CLOSE_SHUTDOWN);
    hrg_conn_reap (w);
    assert_int_equal (zhashx_size (w->groups), 0);
    assert_int_equal (w->conn_count, 0);
    assert_int_equal (tw_metric (fx, fx->ids.ws_connections), 0);
    assert_int_equal (tw_metric (fx, fx->ids.ws_inbound_bytes), 0);
    assert_int_equal (tw_metric (fx, fx->ids.connections), 0);
    return s_teardown (state);
}

#endif
