/*  hrg_ws_sock_fixture: what test_hrg_ws_sock and test_hrg_ws_sock_errors
    share: a peer that records what the socket delivers and sends, and
    hand-built client frames.  */
#ifndef HRG_WS_SOCK_FIXTURE_H
#define HRG_WS_SOCK_FIXTURE_H

#include "hrg_ws_sock.h"

#include <stdbool.h>
#include "support.h"

#define FIN 0x80
#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BIN 0x2
#define OP_CLOSE 0x8
#define OP_PING 0x9
#define OP_PONG 0xa

//  What the socket gave its owner.
typedef struct {
    hr_buf_t log;               //  per message "opcode:size:bytes\n"
    size_t messages;
    hr_buf_t sent;              //  every byte passed to send, in order
    size_t sends;
    hrg_ws_sock_t *sock;        //  stopped with stop_code after stop_after messages
    size_t stop_after;
    int stop_code;
} s_peer_t;
#define S_PEER_INIT { HR_BUF_INIT, 0, HR_BUF_INIT, 0, NULL, 0, 0 }

static TU_UNUSED void
s_log (hr_buf_t *log, int opcode, const void *data, size_t size)
{
    hr_buf_printf (log, "%d:%zu:", opcode, size);
    hr_buf_put (log, data, size);
    hr_buf_putc (log, '\n');
}

static TU_UNUSED void
s_on_message (void *arg, int opcode, const uint8_t *data, size_t size)
{
    s_peer_t *peer = (s_peer_t *) arg;
    assert_non_null (data);
    s_log (&peer->log, opcode, data, size);
    peer->messages++;
    if (peer->sock && peer->messages == peer->stop_after)
        hrg_ws_sock_stop (peer->sock, peer->stop_code);
}

static TU_UNUSED void
s_send (void *arg, const uint8_t *data, size_t size)
{
    s_peer_t *peer = (s_peer_t *) arg;
    hr_buf_put (&peer->sent, data, size);
    peer->sends++;
}

static const hrg_ws_sock_ops_t s_ops = { s_on_message, s_send };

static TU_UNUSED void
s_peer_reset (s_peer_t *peer)
{
    hr_buf_free (&peer->log);
    hr_buf_free (&peer->sent);
    peer->messages = peer->sends = 0;
}

//  Appends a client frame: first byte as given (FIN, RSV, opcode), the
//  length in its shortest form, then the payload masked with the RFC's
//  example key when masked.
static TU_UNUSED void
s_frame_raw (hr_buf_t *out, uint8_t first, bool masked, const void *payload, size_t size)
{
    static const uint8_t key [4] = { 0x37, 0xfa, 0x21, 0x3d };
    uint8_t hdr [14];
    size_t n = 0;
    hdr [n++] = first;
    uint8_t mask = masked? 0x80: 0;
    if (size < 126)
        hdr [n++] = mask | (uint8_t) size;
    else
    if (size < 65536) {
        hdr [n++] = mask | 126;
        hdr [n++] = (uint8_t) (size >> 8);
        hdr [n++] = (uint8_t) size;
    }
    else {
        hdr [n++] = mask | 127;
        for (int i = 7; i >= 0; i--)
            hdr [n++] = (uint8_t) ((uint64_t) size >> (8 * i));
    }
    if (masked) {
        memcpy (hdr + n, key, 4);
        n += 4;
    }
    hr_buf_put (out, hdr, n);
    const uint8_t *bytes = (const uint8_t *) payload;
    for (size_t i = 0; i < size; i++) {
        uint8_t c = masked? bytes [i] ^ key [i % 4]: bytes [i];
        hr_buf_put (out, &c, 1);
    }
}

static TU_UNUSED void
s_frame (hr_buf_t *out, uint8_t first, const void *payload, size_t size)
{
    s_frame_raw (out, first, true, payload, size);
}

static TU_UNUSED void
s_frame_str (hr_buf_t *out, uint8_t first, const char *payload)
{
    s_frame (out, first, payload, strlen (payload));
}

//  A close frame's payload: the code, then the reason.
static TU_UNUSED void
s_close_payload (hr_buf_t *out, uint16_t code, const char *reason)
{
    uint8_t be [2] = { (uint8_t) (code >> 8), (uint8_t) code };
    hr_buf_put (out, be, 2);
    hr_buf_puts (out, reason);
}

static TU_UNUSED void
s_assert_same (const hr_buf_t *got, const hr_buf_t *want)
{
    assert_int_equal (got->size, want->size);
    if (want->size)
        assert_memory_equal (got->data, want->data, want->size);
}

//  Feeds the whole buffer at once; returns feed's code.
static TU_UNUSED int
s_feed (hrg_ws_sock_t *sock, const hr_buf_t *bytes)
{
    return hrg_ws_sock_feed (sock, (const uint8_t *) bytes->data, bytes->size);
}

//  The close frame a server sends with this code and no reason.
static TU_UNUSED void
s_assert_sent_close (const s_peer_t *peer, uint16_t code)
{
    uint8_t want [4] = { 0x88, 2, (uint8_t) (code >> 8), (uint8_t) code };
    assert_int_equal (peer->sent.size, 4);
    assert_memory_equal (peer->sent.data, want, 4);
}

//  Feeds one frame to a new socket and checks that it ends the connection
//  with code, our close frame sent and no message delivered.
static TU_UNUSED void
s_assert_refused (size_t max, uint8_t first, bool masked, const void *payload, size_t size,
                  uint16_t code)
{
    s_peer_t peer = S_PEER_INIT;
    hrg_ws_sock_t *sock = hrg_ws_sock_new (max, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_raw (&bytes, first, masked, payload, size);
    assert_int_equal (s_feed (sock, &bytes), code);
    s_assert_sent_close (&peer, code);
    assert_int_equal (peer.messages, 0);
    assert_false (hrg_ws_sock_busy (sock));
    //  Nothing more is read or sent
    hr_buf_reset (&bytes);
    s_frame_str (&bytes, FIN | OP_TEXT, "late");
    s_frame_str (&bytes, FIN | OP_PING, "late");
    assert_int_equal (s_feed (sock, &bytes), code);
    assert_int_equal (peer.messages, 0);
    assert_int_equal (peer.sent.size, 4);
    hrg_ws_sock_destroy (&sock);
    assert_null (sock);
    hr_buf_free (&bytes);
    s_peer_reset (&peer);
}

#endif
