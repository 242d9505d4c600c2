/*  hrg_ws_sock: the inbound side of one server WebSocket connection, framed
    by libwslay's event API. What was checked in wslay 1.1.1's source, and
    what this file adds:

    - wslay enforces masking in server mode, RSV bits, opcodes, fragment
      order, control frame size and fragmentation, shortest-form lengths,
      close status codes, UTF-8 in text messages (incrementally, across
      fragments) and in close reasons, and max_recv_msg_length over the
      reassembled message (queueing a 1009 close). Its frame layer's errors
      (control frame over 125 bytes or fragmented, length not in shortest
      form) queue a close WITHOUT a status code and fail the whole recv:
      this file sends 1002 itself then.
    - wslay checks a close reason's UTF-8 from byte 2 of every chunk it
      reads, not of the payload: a close frame split across two reads was
      misjudged. So a close frame is held back here until it is whole (at
      most 131 bytes) and handed to wslay in one piece. A 1-byte close
      payload, which wslay takes as "no status", is a protocol error (1002).
    - To know when wslay holds nothing, this file follows the frame headers
      itself: the context is freed when the bytes fed end on a frame
      boundary outside a fragmented message, and every byte handed to wslay
      was reported back in a frame (header bytes at its start, payload in
      chunks). wslay reads its recv callback until it would block, so it
      never keeps fed bytes unparsed.  */
#include "hrg_ws_sock.h"
#include "hr_buf.h"
#include "hr_log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

//  What wslay 1.1.1 allocates for a server context (struct
//  wslay_event_context 4376 bytes with its 4 KB output buffer,
//  wslay_frame_context 4256 with its 4 KB input buffer, four queue heads of
//  16), and per non-empty frame of the message it reassembles (a chunk and
//  a queue cell of 16 each, then the payload, allocated whole when the
//  frame starts). test_hrg_ws_sock checks both against the allocator.
#define S_WSLAY_CONTEXT 8696
#define S_WSLAY_PER_FRAME 32

//  The longest valid close frame: 2 header bytes, a mask, 125 of payload.
#define S_CLOSE_MAX (2 + 4 + 125)
//  A control frame wslay sends (server frames are unmasked): header and
//  payload are gathered here so that ops->send gets the frame in one call.
#define S_OUT_MAX (2 + 125)

typedef struct {
    wslay_event_context_ptr ctx;
    const uint8_t *in;          //  bytes handed to wslay and not read by it yet
    size_t in_left;
    uint64_t handed;            //  bytes wslay read through s_recv
    uint64_t reported;          //  of those, bytes in frames it reported
    size_t msg_bytes;           //  wslay's copy of the data message being reassembled
    size_t ctrl_bytes;          //  and of the control frame being received
    size_t close_len;           //  a close frame held back until whole
    uint8_t close [S_CLOSE_MAX];
    size_t out_len;
    uint8_t out [S_OUT_MAX];
} s_live_t;

struct _hrg_ws_sock_t {
    const hrg_ws_sock_ops_t *ops;
    void *arg;
    size_t max_message;
    s_live_t *live;             //  NULL while idle
    uint64_t payload_left;      //  of the frame being fed
    uint64_t announced;         //  payload bytes the current data message's headers announced
    bool too_big;               //  announced is over max_message: 1009 once wslay has the rest
    uint64_t controls;          //  control frames whose header was read, since start
    uint8_t hdr [14];           //  its header, while incomplete
    uint8_t hdr_have;
    bool in_message;            //  a fragmented data message is in progress
    bool feeding;               //  inside hrg_ws_sock_feed
    uint16_t code;              //  non-zero once the connection must end
};

//  --------------------------------------------------------------------
//  Frame headers, followed on the bytes fed (RFC 6455 §5.2)

static size_t
s_header_size (const uint8_t *hdr)
{
    uint8_t len7 = hdr [1] & 0x7f;
    return 2 + (len7 == 126? 2: len7 == 127? 8: 0) + (hdr [1] & 0x80? 4: 0);
}

static void
s_header_done (hrg_ws_sock_t *self)
{
    uint64_t length = self->hdr [1] & 0x7f;
    if (length >= 126) {
        size_t bytes = length == 126? 2: 8;
        length = 0;
        for (size_t i = 0; i < bytes; i++)
            length = length << 8 | self->hdr [2 + i];
    }
    self->payload_left = length;
    uint8_t opcode = self->hdr [0] & 0x0f;     //  wslay's macro wants a plain name
    self->hdr_have = 0;
    if (wslay_is_ctrl_frame (opcode)) {
        self->controls++;
        return;
    }
    self->in_message = !(self->hdr [0] & 0x80);
    //  Over the limit as soon as a valid header says so: a client announcing
    //  a huge frame is not kept waiting for its first payload byte (wslay's
    //  own check, which comes then, stays for what this does not see). An
    //  invalid length (not in its shortest form, top bit set) is wslay's 1002.
    uint8_t len7 = self->hdr [1] & 0x7f;
    bool shortest = len7 < 126 || (len7 == 126 && length >= 126)
                 || (len7 == 127 && length > 0xffff && length >> 63 == 0);
    self->announced = (opcode == WSLAY_CONTINUATION_FRAME? self->announced: 0) + length;
    if (shortest && self->announced > self->max_message)
        self->too_big = true;
}

//  Follows frames over data; returns how many bytes can go to wslay now:
//  all, or those before the first byte of a close frame.
static size_t
s_scan (hrg_ws_sock_t *self, const uint8_t *data, size_t size)
{
    size_t used = 0;
    while (used < size) {
        if (self->payload_left) {
            size_t take = size - used;
            if (take > self->payload_left)
                take = (size_t) self->payload_left;
            self->payload_left -= take;
            used += take;
        }
        else
        if (self->hdr_have == 0 && (data [used] & 0x0f) == WSLAY_CONNECTION_CLOSE)
            break;
        else {
            self->hdr [self->hdr_have++] = data [used++];
            if (self->hdr_have >= 2 && self->hdr_have == s_header_size (self->hdr))
                s_header_done (self);
            if (self->too_big)
                break;          //  what came before goes to wslay first
        }
    }
    return used;
}

//  How many bytes the close frame starting in frame[0..have) takes; have
//  itself once its length says it is not a valid control frame (wslay then
//  refuses its header).
static size_t
s_close_size (const uint8_t *frame, size_t have)
{
    if (have < 2)
        return 2;
    uint8_t len7 = frame [1] & 0x7f;
    return len7 > 125? have: (size_t) (2 + (frame [1] & 0x80? 4: 0) + len7);
}

//  --------------------------------------------------------------------
//  Output: control frames to ops->send

static void
s_flush (hrg_ws_sock_t *self)
{
    s_live_t *live = self->live;
    if (live && live->out_len) {
        self->ops->send (self->arg, live->out, live->out_len);
        live->out_len = 0;
    }
}

//  Ends the connection with our own close frame, after anything pending.
static void
s_fail (hrg_ws_sock_t *self, uint16_t code)
{
    s_flush (self);
    uint8_t frame [4] = { 0x80 | WSLAY_CONNECTION_CLOSE, 2, code >> 8, code & 0xff };
    self->ops->send (self->arg, frame, sizeof frame);
    self->code = code;
}

//  --------------------------------------------------------------------
//  wslay's callbacks; user_data is the socket

static ssize_t
s_recv (wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user_data)
{
    s_live_t *live = ((hrg_ws_sock_t *) user_data)->live;
    if (live->in_left == 0) {
        wslay_event_set_error (ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t take = len < live->in_left? len: live->in_left;
    memcpy (buf, live->in, take);
    live->in += take;
    live->in_left -= take;
    live->handed += take;
    return (ssize_t) take;
}

static ssize_t
s_send (wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
        void *user_data)
{
    hrg_ws_sock_t *self = (hrg_ws_sock_t *) user_data;
    s_live_t *live = self->live;
    if (live->out_len + len > sizeof live->out)
        s_flush (self);
    if (len > sizeof live->out)
        self->ops->send (self->arg, data, len);
    else {
        memcpy (live->out + live->out_len, data, len);
        live->out_len += len;
    }
    return (ssize_t) len;
}

static void
s_on_frame_start (wslay_event_context_ptr ctx,
                  const struct wslay_event_on_frame_recv_start_arg *arg, void *user_data)
{
    s_live_t *live = ((hrg_ws_sock_t *) user_data)->live;
    //  wslay refused an unmasked or oversized frame before this: the header
    //  had a mask and a length in its shortest form.
    uint64_t length = arg->payload_length;
    live->reported += 2 + (length < 126? 0: length < 65536? 2: 8) + 4;
    size_t held = length? S_WSLAY_PER_FRAME + (size_t) length: 0;
    if (wslay_is_ctrl_frame (arg->opcode))
        live->ctrl_bytes = held;
    else
        live->msg_bytes += held;
}

static void
s_on_frame_chunk (wslay_event_context_ptr ctx,
                  const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user_data)
{
    ((hrg_ws_sock_t *) user_data)->live->reported += arg->data_length;
}

static void
s_on_message (wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
              void *user_data)
{
    hrg_ws_sock_t *self = (hrg_ws_sock_t *) user_data;
    if (wslay_is_ctrl_frame (arg->opcode)) {
        self->live->ctrl_bytes = 0;
        //  Send the pong wslay just queued now: a close queued later in
        //  the same feed would make wslay drop it.
        if (arg->opcode == WSLAY_PING) {
            wslay_event_send (ctx);
            s_flush (self);
        }
        return;
    }
    self->live->msg_bytes = 0;
    const uint8_t *msg = arg->msg? arg->msg: (const uint8_t *) "";
    self->ops->on_message (self->arg, arg->opcode, msg, arg->msg_length);
}

static const struct wslay_event_callbacks s_callbacks = {
    .recv_callback = s_recv,
    .send_callback = s_send,
    .on_frame_recv_start_callback = s_on_frame_start,
    .on_frame_recv_chunk_callback = s_on_frame_chunk,
    .on_msg_recv_callback = s_on_message,
};

//  --------------------------------------------------------------------
//  The context, alive only while something is partly received

static s_live_t *
s_live (hrg_ws_sock_t *self)
{
    if (self->live)
        return self->live;
    s_live_t *live = (s_live_t *) hr_calloc (1, sizeof *live);
    if (wslay_event_context_server_init (&live->ctx, &s_callbacks, self) == 0) {
        wslay_event_config_set_max_recv_msg_length (live->ctx, self->max_message);
        self->live = live;
        return live;
    }
    free (live);
    s_fail (self, WSLAY_CODE_INTERNAL_SERVER_ERROR);
    return NULL;
}

static void
s_live_free (hrg_ws_sock_t *self)
{
    if (self->live) {
        wslay_event_context_free (self->live->ctx);
        free (self->live);
        self->live = NULL;
    }
}

static bool
s_idle (const hrg_ws_sock_t *self)
{
    const s_live_t *live = self->live;
    return self->hdr_have == 0 && self->payload_left == 0 && !self->in_message
        && (!live || (live->close_len == 0 && live->reported == live->handed));
}

//  wslay stopped reading and queued a close frame: sends it.
static void
s_closed_by_wslay (hrg_ws_sock_t *self)
{
    wslay_event_context_ptr ctx = self->live->ctx;
    wslay_event_send (ctx);
    s_flush (self);
    if (!wslay_event_get_close_sent (ctx))
        s_fail (self, WSLAY_CODE_INTERNAL_SERVER_ERROR);
    else
    if (wslay_event_get_close_received (ctx)) {
        uint16_t code = wslay_event_get_status_code_received (ctx);
        self->code = code == WSLAY_CODE_NO_STATUS_RCVD? WSLAY_CODE_NORMAL_CLOSURE: code;
    }
    else
        self->code = wslay_event_get_status_code_sent (ctx);
}

//  Gives bytes to wslay, which reads them all unless it stops on an error.
static void
s_hand (hrg_ws_sock_t *self, const uint8_t *data, size_t size)
{
    s_live_t *live = s_live (self);
    if (!live)
        return;
    live->in = data;
    live->in_left = size;
    int rc = 0;
    while (live->in_left && wslay_event_get_read_enabled (live->ctx)) {
        size_t before = live->in_left;
        rc = wslay_event_recv (live->ctx);
        if (rc || live->in_left == before)
            break;
    }
    if (self->code)
        ;               //  stopped by our owner (hrg_ws_sock_stop)
    else
    if (rc == WSLAY_ERR_NOMEM)
        s_fail (self, WSLAY_CODE_INTERNAL_SERVER_ERROR);
    else
    if (rc)             //  its frame layer refused a header: no code in its close
        s_fail (self, WSLAY_CODE_PROTOCOL_ERROR);
    else
    if (!wslay_event_get_read_enabled (live->ctx))
        s_closed_by_wslay (self);
    else
    if (live->in_left) {
        hr_log_limited_warn ("websocket: wslay left bytes unread", "component", "ws");
        s_fail (self, WSLAY_CODE_INTERNAL_SERVER_ERROR);
    }
    live->in = NULL;
    live->in_left = 0;
}

//  Collects the close frame starting at data; hands it to wslay once whole.
//  Returns the bytes used (at least one).
static size_t
s_hold_close (hrg_ws_sock_t *self, const uint8_t *data, size_t size)
{
    s_live_t *live = s_live (self);
    if (!live)
        return size;
    size_t used = 0, whole;
    while ((whole = s_close_size (live->close, live->close_len)) > live->close_len
           && used < size) {
        size_t take = whole - live->close_len;
        if (take > size - used)
            take = size - used;
        memcpy (live->close + live->close_len, data + used, take);
        live->close_len += take;
        used += take;
    }
    if (live->close_len == whole) {
        if ((live->close [1] & 0x7f) == 1)
            s_fail (self, WSLAY_CODE_PROTOCOL_ERROR);
        else
            s_hand (self, live->close, live->close_len);
        live->close_len = 0;
    }
    return used;
}

//  --------------------------------------------------------------------

hrg_ws_sock_t *
hrg_ws_sock_new (size_t max_message, const hrg_ws_sock_ops_t *ops, void *arg)
{
    hrg_ws_sock_t *self = (hrg_ws_sock_t *) hr_calloc (1, sizeof *self);
    self->ops = ops;
    self->arg = arg;
    //  wslay bounds control frames by it too
    self->max_message = max_message < 125? 125: max_message;
    return self;
}

void
hrg_ws_sock_destroy (hrg_ws_sock_t **self_p)
{
    if (*self_p) {
        s_live_free (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

int
hrg_ws_sock_feed (hrg_ws_sock_t *self, const uint8_t *data, size_t size)
{
    self->feeding = true;
    while (size && !self->code) {
        size_t used = 0;
        if (!self->live || !self->live->close_len)
            used = s_scan (self, data, size);
        if (used)
            s_hand (self, data, used);
        else
            used = s_hold_close (self, data, size);
        if (self->too_big && !self->code)
            s_fail (self, WSLAY_CODE_MESSAGE_TOO_BIG);
        data += used;
        size -= used;
    }
    if (self->code || s_idle (self))
        s_live_free (self);
    self->feeding = false;
    return self->code;
}

void
hrg_ws_sock_stop (hrg_ws_sock_t *self, int code)
{
    assert (code > 0);
    if (self->code)
        return;
    self->code = (uint16_t) code;
    //  Inside on_message, wslay stops after the current message; feed
    //  frees its context on the way out
    if (self->feeding)
        wslay_event_shutdown_read (self->live->ctx);
    else
        s_live_free (self);
}

uint64_t
hrg_ws_sock_controls (const hrg_ws_sock_t *self)
{
    return self->controls;
}

bool
hrg_ws_sock_busy (const hrg_ws_sock_t *self)
{
    return self->live != NULL;
}

size_t
hrg_ws_sock_memory (const hrg_ws_sock_t *self)
{
    size_t bytes = sizeof *self;
    const s_live_t *live = self->live;
    if (live)
        bytes += sizeof *live + S_WSLAY_CONTEXT + live->msg_bytes + live->ctrl_bytes;
    return bytes;
}
