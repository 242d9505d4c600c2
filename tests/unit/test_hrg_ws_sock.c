/*  test_hrg_ws_sock: WebSocket framing of inbound bytes (gateway/hrg_ws_sock)
    with hand-built client frames: messages, fragments, control frames,
    every protocol error and its close frame, and the memory an idle
    connection keeps (wslay's context only while something is partly
    received).  */
#include "hrg_ws_sock.h"

#include <stdbool.h>
#include <unistd.h>
#include "support.h"

#define FIN 0x80
#define RSV1 0x40
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
} s_peer_t;

static void
s_log (hr_buf_t *log, int opcode, const void *data, size_t size)
{
    hr_buf_printf (log, "%d:%zu:", opcode, size);
    hr_buf_put (log, data, size);
    hr_buf_putc (log, '\n');
}

static void
s_on_message (void *arg, int opcode, const uint8_t *data, size_t size)
{
    s_peer_t *peer = (s_peer_t *) arg;
    s_log (&peer->log, opcode, data, size);
    peer->messages++;
}

static void
s_send (void *arg, const uint8_t *data, size_t size)
{
    s_peer_t *peer = (s_peer_t *) arg;
    hr_buf_put (&peer->sent, data, size);
    peer->sends++;
}

static const hrg_ws_sock_ops_t s_ops = { s_on_message, s_send };

static void
s_peer_reset (s_peer_t *peer)
{
    hr_buf_free (&peer->log);
    hr_buf_free (&peer->sent);
    peer->messages = peer->sends = 0;
}

//  Appends a client frame: first byte as given (FIN, RSV, opcode), the
//  length in its shortest form, then the payload masked with the RFC's
//  example key when masked.
static void
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

static void
s_frame (hr_buf_t *out, uint8_t first, const void *payload, size_t size)
{
    s_frame_raw (out, first, true, payload, size);
}

static void
s_frame_str (hr_buf_t *out, uint8_t first, const char *payload)
{
    s_frame (out, first, payload, strlen (payload));
}

//  A close frame's payload: the code, then the reason.
static void
s_close_payload (hr_buf_t *out, uint16_t code, const char *reason)
{
    uint8_t be [2] = { (uint8_t) (code >> 8), (uint8_t) code };
    hr_buf_put (out, be, 2);
    hr_buf_puts (out, reason);
}

static void
s_assert_same (const hr_buf_t *got, const hr_buf_t *want)
{
    assert_int_equal (got->size, want->size);
    if (want->size)
        assert_memory_equal (got->data, want->data, want->size);
}

//  Feeds the whole buffer at once; returns feed's code.
static int
s_feed (hrg_ws_sock_t *sock, const hr_buf_t *bytes)
{
    return hrg_ws_sock_feed (sock, (const uint8_t *) bytes->data, bytes->size);
}

//  The close frame a server sends with this code and no reason.
static void
s_assert_sent_close (const s_peer_t *peer, uint16_t code)
{
    uint8_t want [4] = { 0x88, 2, (uint8_t) (code >> 8), (uint8_t) code };
    assert_int_equal (peer->sent.size, 4);
    assert_memory_equal (peer->sent.data, want, 4);
}

//  Feeds one frame to a new socket and checks that it ends the connection
//  with code, our close frame sent and no message delivered.
static void
s_assert_refused (size_t max, uint8_t first, bool masked, const void *payload, size_t size,
                  uint16_t code)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
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

//  --------------------------------------------------------------------

static void
test_text_and_binary_messages (void **state)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    size_t idle = hrg_ws_sock_memory (sock);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_TEXT, "hello");
    static const uint8_t binary [] = { 0, 1, 0xff, 0x80, 0 };
    s_frame (&bytes, FIN | OP_BIN, binary, sizeof binary);
    s_frame (&bytes, FIN | OP_TEXT, "", 0);
    assert_int_equal (s_feed (sock, &bytes), 0);

    hr_buf_t want = HR_BUF_INIT;
    s_log (&want, 1, "hello", 5);
    s_log (&want, 2, binary, sizeof binary);
    s_log (&want, 1, "", 0);
    assert_int_equal (peer.messages, 3);
    s_assert_same (&peer.log, &want);
    assert_int_equal (peer.sends, 0);
    assert_false (hrg_ws_sock_busy (sock));
    assert_int_equal (hrg_ws_sock_memory (sock), idle);

    hrg_ws_sock_destroy (&sock);
    hr_buf_free (&bytes);
    hr_buf_free (&want);
    s_peer_reset (&peer);
}

static void
test_fragments_are_reassembled (void **state)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, OP_TEXT, "hel");
    assert_int_equal (s_feed (sock, &bytes), 0);
    assert_int_equal (peer.messages, 0);
    assert_true (hrg_ws_sock_busy (sock));       //  a message is in progress

    hr_buf_reset (&bytes);
    s_frame_str (&bytes, OP_CONT, "");
    s_frame_str (&bytes, OP_CONT, "lo, ");
    s_frame_str (&bytes, FIN | OP_CONT, "world");
    s_frame_str (&bytes, OP_BIN, "ab");
    s_frame_str (&bytes, FIN | OP_CONT, "c");
    assert_int_equal (s_feed (sock, &bytes), 0);
    hr_buf_t want = HR_BUF_INIT;
    s_log (&want, 1, "hello, world", 12);
    s_log (&want, 2, "abc", 3);
    s_assert_same (&peer.log, &want);
    assert_false (hrg_ws_sock_busy (sock));

    hrg_ws_sock_destroy (&sock);
    hr_buf_free (&bytes);
    hr_buf_free (&want);
    s_peer_reset (&peer);
}

static void
test_ping_is_answered_with_pong (void **state)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_PING, "hello");
    assert_int_equal (s_feed (sock, &bytes), 0);
    static const uint8_t pong [] = { 0x8a, 5, 'h', 'e', 'l', 'l', 'o' };
    assert_int_equal (peer.sends, 1);            //  the whole frame in one call
    assert_int_equal (peer.sent.size, sizeof pong);
    assert_memory_equal (peer.sent.data, pong, sizeof pong);

    //  An empty ping, a ping of 125 bytes; a pong is not answered
    hr_buf_reset (&peer.sent);
    hr_buf_reset (&bytes);
    s_frame (&bytes, FIN | OP_PING, "", 0);
    char big [125];
    memset (big, 'x', sizeof big);
    s_frame (&bytes, FIN | OP_PING, big, sizeof big);
    s_frame_str (&bytes, FIN | OP_PONG, "unasked");
    assert_int_equal (s_feed (sock, &bytes), 0);
    assert_int_equal (peer.sent.size, 2 + 2 + sizeof big);
    assert_memory_equal (peer.sent.data, "\x8a\x00\x8a\x7d", 4);
    assert_memory_equal (peer.sent.data + 4, big, sizeof big);
    assert_int_equal (peer.messages, 0);
    assert_false (hrg_ws_sock_busy (sock));

    hrg_ws_sock_destroy (&sock);
    hr_buf_free (&bytes);
    s_peer_reset (&peer);
}

static void
test_control_frames_inside_a_fragmented_message (void **state)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, OP_TEXT, "one ");
    s_frame_str (&bytes, FIN | OP_PING, "p1");
    s_frame_str (&bytes, OP_CONT, "two ");
    s_frame_str (&bytes, FIN | OP_PONG, "ignored");
    s_frame_str (&bytes, FIN | OP_PING, "p2");
    s_frame_str (&bytes, FIN | OP_CONT, "three");
    assert_int_equal (s_feed (sock, &bytes), 0);
    hr_buf_t want = HR_BUF_INIT;
    s_log (&want, 1, "one two three", 13);
    s_assert_same (&peer.log, &want);
    tu_assert_span (peer.sent.data, peer.sent.size, "\x8a\x02p1\x8a\x02p2");
    assert_false (hrg_ws_sock_busy (sock));

    //  A close inside a message ends the connection; the message is lost
    hr_buf_reset (&bytes);
    hr_buf_reset (&peer.sent);
    s_frame_str (&bytes, OP_BIN, "partial");
    hr_buf_t close = HR_BUF_INIT;
    s_close_payload (&close, 1001, "");
    s_frame (&bytes, FIN | OP_CLOSE, close.data, close.size);
    assert_int_equal (s_feed (sock, &bytes), 1001);
    s_assert_sent_close (&peer, 1001);
    assert_int_equal (peer.messages, 1);
    assert_false (hrg_ws_sock_busy (sock));

    hrg_ws_sock_destroy (&sock);
    hr_buf_free (&bytes);
    hr_buf_free (&close);
    hr_buf_free (&want);
    s_peer_reset (&peer);
}

//  A stream of every kind of frame, fed in two pieces split at every byte,
//  and one byte at a time: the same messages and replies each time, and
//  the socket is busy exactly when the bytes fed so far end inside a frame
//  or inside a fragmented message.
typedef struct {
    hr_buf_t bytes;
    bool idle_at [1024];        //  idle_at[n]: idle after the first n bytes
    bool in_message;
} s_stream_t;

static void
s_add (s_stream_t *stream, uint8_t first, const void *payload, size_t size)
{
    size_t start = stream->bytes.size;
    s_frame (&stream->bytes, first, payload, size);
    assert_true (stream->bytes.size < sizeof stream->idle_at);
    if (!(first & 0x08))
        stream->in_message = !(first & FIN);
    for (size_t i = start + 1; i < stream->bytes.size; i++)
        stream->idle_at [i] = false;
    stream->idle_at [stream->bytes.size] = !stream->in_message;
}

static void
test_every_split_point (void **state)
{
    s_stream_t stream = { HR_BUF_INIT, { true }, false };
    hr_buf_t want = HR_BUF_INIT;
    s_add (&stream, FIN | OP_TEXT, "hello", 5);
    s_log (&want, 1, "hello", 5);
    s_add (&stream, FIN | OP_TEXT, "", 0);
    s_log (&want, 1, "", 0);
    s_add (&stream, OP_BIN, "\x00\x01", 2);
    s_add (&stream, FIN | OP_PING, "ping", 4);
    s_add (&stream, OP_CONT, "", 0);
    s_add (&stream, FIN | OP_CONT, "\x02", 1);
    s_log (&want, 2, "\x00\x01\x02", 3);
    //  A euro sign split between two fragments
    s_add (&stream, OP_TEXT, "price \xe2\x82", 8);
    s_add (&stream, FIN | OP_CONT, "\xac" "5", 2);
    s_log (&want, 1, "price \xe2\x82\xac" "5", 10);
    char mid [300];                 //  a 16-bit length
    for (size_t i = 0; i < sizeof mid; i++)
        mid [i] = (char) ('a' + i % 26);
    s_add (&stream, FIN | OP_TEXT, mid, sizeof mid);
    s_log (&want, 1, mid, sizeof mid);
    s_add (&stream, FIN | OP_PONG, "", 0);
    //  The close reason is not ASCII: wslay 1.1.1 misjudged its UTF-8
    //  when the frame came in two reads
    hr_buf_t close = HR_BUF_INIT;
    s_close_payload (&close, 4000, "\xc3\xa9t\xc3\xa9");
    s_add (&stream, FIN | OP_CLOSE, close.data, close.size);
    hr_buf_t sent = HR_BUF_INIT;
    hr_buf_put (&sent, "\x8a\x04ping\x88\x07", 8);
    hr_buf_put (&sent, close.data, close.size);
    const uint8_t *data = (const uint8_t *) stream.bytes.data;
    size_t size = stream.bytes.size;

    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    for (size_t split = 0; split <= size; split++) {
        hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
        size_t idle = hrg_ws_sock_memory (sock);
        int code = hrg_ws_sock_feed (sock, data, split);
        assert_int_equal (code, split == size? 4000: 0);
        if (split < size) {
            assert_int_equal (hrg_ws_sock_busy (sock), !stream.idle_at [split]);
            assert_true (stream.idle_at [split]? hrg_ws_sock_memory (sock) == idle
                                               : hrg_ws_sock_memory (sock) > idle);
        }
        assert_int_equal (hrg_ws_sock_feed (sock, data + split, size - split), 4000);
        s_assert_same (&peer.log, &want);
        assert_int_equal (peer.sent.size, sent.size);
        assert_memory_equal (peer.sent.data, sent.data, sent.size);
        assert_false (hrg_ws_sock_busy (sock));
        hrg_ws_sock_destroy (&sock);
        s_peer_reset (&peer);
    }
    //  One byte at a time
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    size_t idle = hrg_ws_sock_memory (sock);
    for (size_t i = 0; i < size; i++) {
        int code = hrg_ws_sock_feed (sock, data + i, 1);
        assert_int_equal (code, i + 1 == size? 4000: 0);
        if (i + 1 < size) {
            assert_int_equal (hrg_ws_sock_busy (sock), !stream.idle_at [i + 1]);
            if (stream.idle_at [i + 1])
                assert_int_equal (hrg_ws_sock_memory (sock), idle);
        }
    }
    s_assert_same (&peer.log, &want);
    assert_int_equal (peer.sent.size, sent.size);
    assert_memory_equal (peer.sent.data, sent.data, sent.size);
    assert_int_equal (hrg_ws_sock_memory (sock), idle);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&stream.bytes);
    hr_buf_free (&want);
    hr_buf_free (&close);
    hr_buf_free (&sent);
}

//  A 64-bit length, one byte at a time: busy until the last byte.
static void
test_long_message_byte_by_byte (void **state)
{
    size_t size = 70000;
    char *payload = (char *) hr_malloc (size);
    for (size_t i = 0; i < size; i++)
        payload [i] = (char) i;
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame (&bytes, FIN | OP_BIN, payload, size);
    assert_int_equal (bytes.size, 2 + 8 + 4 + size);

    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (size, &s_ops, &peer);
    for (size_t i = 0; i < bytes.size; i++) {
        assert_int_equal (hrg_ws_sock_feed (sock, (uint8_t *) bytes.data + i, 1), 0);
        assert_int_equal (hrg_ws_sock_busy (sock), i + 1 < bytes.size);
    }
    hr_buf_t want = HR_BUF_INIT;
    s_log (&want, 2, payload, size);
    assert_int_equal (peer.log.size, want.size);
    assert_memory_equal (peer.log.data, want.data, want.size);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);

    //  One byte over the limit
    sock = hrg_ws_sock_new (size - 1, &s_ops, &peer);
    assert_int_equal (s_feed (sock, &bytes), 1009);
    s_assert_sent_close (&peer, 1009);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&want);
    hr_buf_free (&bytes);
    free (payload);
}

static void
test_unmasked_frame_is_1002 (void **state)
{
    s_assert_refused (1024, FIN | OP_TEXT, false, "hello", 5, 1002);
    s_assert_refused (1024, FIN | OP_TEXT, false, "", 0, 1002);
    s_assert_refused (1024, FIN | OP_PING, false, "hi", 2, 1002);
    s_assert_refused (1024, FIN | OP_CLOSE, false, "", 0, 1002);
}

static void
test_reserved_bits_are_1002 (void **state)
{
    for (uint8_t rsv = 1; rsv < 8; rsv++) {
        s_assert_refused (1024, (uint8_t) (FIN | rsv << 4 | OP_TEXT), true, "hello", 5, 1002);
        s_assert_refused (1024, (uint8_t) (FIN | rsv << 4 | OP_PING), true, "", 0, 1002);
        s_assert_refused (1024, (uint8_t) (FIN | rsv << 4 | OP_CLOSE), true, "", 0, 1002);
    }
}

static void
test_unknown_opcodes_are_1002 (void **state)
{
    static const uint8_t opcodes [] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf };
    for (size_t i = 0; i < sizeof opcodes; i++)
        s_assert_refused (1024, FIN | opcodes [i], true, "x", 1, 1002);
}

static void
test_control_frame_over_125_bytes_is_1002 (void **state)
{
    char big [126];
    memset (big, 'x', sizeof big);
    s_assert_refused (1024, FIN | OP_PING, true, big, sizeof big, 1002);
    s_assert_refused (1024, FIN | OP_PONG, true, big, sizeof big, 1002);
    s_assert_refused (1024, FIN | OP_CLOSE, true, big, sizeof big, 1002);
}

static void
test_fragmented_control_frame_is_1002 (void **state)
{
    s_assert_refused (1024, OP_PING, true, "hi", 2, 1002);
    s_assert_refused (1024, OP_PONG, true, "", 0, 1002);
    s_assert_refused (1024, OP_CLOSE, true, "\x03\xe8", 2, 1002);
}

static void
test_bad_fragment_order_is_1002 (void **state)
{
    //  A continuation without a start
    s_assert_refused (1024, FIN | OP_CONT, true, "x", 1, 1002);
    s_assert_refused (1024, OP_CONT, true, "x", 1, 1002);
    //  A new message inside a fragmented one
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, OP_TEXT, "one");
    s_frame_str (&bytes, FIN | OP_BIN, "two");
    assert_int_equal (s_feed (sock, &bytes), 1002);
    s_assert_sent_close (&peer, 1002);
    assert_int_equal (peer.messages, 0);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&bytes);
}

static void
test_length_not_in_shortest_form_is_1002 (void **state)
{
    //  5 bytes with a 16-bit length; 200 bytes with a 64-bit one
    static const uint8_t short16 [] = { 0x81, 0xfe, 0, 5, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
    uint8_t long64 [2 + 8 + 4 + 200] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 200 };
    const struct { const uint8_t *bytes; size_t size; } cases [] = {
        { short16, sizeof short16 }, { long64, sizeof long64 }
    };
    for (size_t i = 0; i < 2; i++) {
        s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
        hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
        assert_int_equal (hrg_ws_sock_feed (sock, cases [i].bytes, cases [i].size), 1002);
        s_assert_sent_close (&peer, 1002);
        assert_int_equal (peer.messages, 0);
        hrg_ws_sock_destroy (&sock);
        s_peer_reset (&peer);
    }
}

static void
test_invalid_utf8_is_1007 (void **state)
{
    static const char *bad [] = {
        "\xff", "caf\xe9", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        s_assert_refused (1024, FIN | OP_TEXT, true, bad [i], strlen (bad [i]), 1007);
    //  Binary messages are not text
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_BIN, "\xff\xc0");
    assert_int_equal (s_feed (sock, &bytes), 0);
    assert_int_equal (peer.messages, 1);

    //  A sequence cut between fragments is valid; one left unfinished at
    //  the last fragment is not
    hr_buf_reset (&bytes);
    s_frame_str (&bytes, OP_TEXT, "\xf0\x9f");
    s_frame_str (&bytes, OP_CONT, "\x98");
    s_frame_str (&bytes, FIN | OP_CONT, "\x80");
    assert_int_equal (s_feed (sock, &bytes), 0);
    assert_int_equal (peer.messages, 2);
    hr_buf_reset (&bytes);
    s_frame_str (&bytes, OP_TEXT, "ok \xf0\x9f");
    s_frame_str (&bytes, FIN | OP_CONT, "\x98");
    assert_int_equal (s_feed (sock, &bytes), 1007);
    s_assert_sent_close (&peer, 1007);
    assert_int_equal (peer.messages, 2);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);

    //  Found in the first fragment, before the message is complete
    sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_reset (&bytes);
    s_frame_str (&bytes, OP_TEXT, "\xc3\x28");
    assert_int_equal (s_feed (sock, &bytes), 1007);
    s_assert_sent_close (&peer, 1007);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&bytes);
}

static void
test_message_over_max_is_1009 (void **state)
{
    char payload [201];
    memset (payload, 'x', sizeof payload);
    s_assert_refused (200, FIN | OP_TEXT, true, payload, 201, 1009);
    s_assert_refused (200, FIN | OP_BIN, true, payload, 201, 1009);
    s_assert_refused (200, OP_BIN, true, payload, 201, 1009);

    //  Exactly max passes, whole or in fragments; one more byte in the
    //  last fragment does not
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (200, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame (&bytes, FIN | OP_TEXT, payload, 200);
    s_frame (&bytes, OP_TEXT, payload, 130);
    s_frame (&bytes, FIN | OP_CONT, payload, 70);
    assert_int_equal (s_feed (sock, &bytes), 0);
    assert_int_equal (peer.messages, 2);
    hr_buf_reset (&bytes);
    s_frame (&bytes, OP_BIN, payload, 130);
    s_frame (&bytes, OP_CONT, payload, 0);
    s_frame_str (&bytes, FIN | OP_PING, "a ping is not counted");
    s_frame (&bytes, FIN | OP_CONT, payload, 71);
    assert_int_equal (s_feed (sock, &bytes), 1009);
    assert_int_equal (peer.messages, 2);
    assert_int_equal (peer.sent.size, 2 + 21 + 4);
    assert_memory_equal (peer.sent.data + 23, "\x88\x02\x03\xf1", 4);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&bytes);
}

static void
s_assert_close_answered (const hr_buf_t *payload, int code, const void *reply, size_t size)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_TEXT, "before");
    s_frame (&bytes, FIN | OP_CLOSE, payload->data, payload->size);
    s_frame_str (&bytes, FIN | OP_TEXT, "after");
    assert_int_equal (s_feed (sock, &bytes), code);
    assert_int_equal (peer.messages, 1);
    assert_int_equal (peer.sent.size, size);
    assert_memory_equal (peer.sent.data, reply, size);
    assert_false (hrg_ws_sock_busy (sock));
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&bytes);
}

static void
test_peer_close_is_answered (void **state)
{
    hr_buf_t payload = HR_BUF_INIT;
    //  No code: an empty close back, and 1000
    s_assert_close_answered (&payload, 1000, "\x88\x00", 2);
    //  The peer's code and reason are echoed
    s_close_payload (&payload, 1000, "bye");
    s_assert_close_answered (&payload, 1000, "\x88\x05\x03\xe8" "bye", 7);
    hr_buf_reset (&payload);
    s_close_payload (&payload, 4002, "");
    s_assert_close_answered (&payload, 4002, "\x88\x02\x0f\xa2", 4);
    //  Codes a peer may not send, a 1-byte payload, a reason not UTF-8
    static const uint16_t invalid [] = { 0, 999, 1004, 1005, 1006, 2999, 5000 };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid [0]; i++) {
        hr_buf_reset (&payload);
        s_close_payload (&payload, invalid [i], "");
        s_assert_close_answered (&payload, 1002, "\x88\x02\x03\xea", 4);
    }
    hr_buf_reset (&payload);
    hr_buf_put (&payload, "\x03", 1);
    s_assert_close_answered (&payload, 1002, "\x88\x02\x03\xea", 4);
    hr_buf_reset (&payload);
    s_close_payload (&payload, 1000, "\xc3\x28");
    s_assert_close_answered (&payload, 1007, "\x88\x02\x03\xef", 4);
    hr_buf_free (&payload);
}

//  A ping just before a close is still answered, before the close.
static void
test_ping_then_close_in_one_read (void **state)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_PING, "p");
    s_frame (&bytes, FIN | OP_CLOSE, "", 0);
    assert_int_equal (s_feed (sock, &bytes), 1000);
    assert_int_equal (peer.sent.size, 5);
    assert_memory_equal (peer.sent.data, "\x8a\x01p\x88\x00", 5);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);

    //  And before a protocol error's close
    sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    hr_buf_reset (&bytes);
    s_frame_str (&bytes, FIN | OP_PING, "p");
    s_frame_str (&bytes, OP_PING, "fragmented");
    assert_int_equal (s_feed (sock, &bytes), 1002);
    tu_assert_span (peer.sent.data, peer.sent.size, "\x8a\x01p\x88\x02\x03\xea");
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&bytes);
}

//  An idle socket is its small struct; while a message is in progress it
//  holds wslay's context (two 4 KB buffers) and the message. Under ASan the
//  figure is checked against what is really allocated.
static void
test_memory_while_idle_and_busy (void **state)
{
    //  Everything the test allocates is allocated first
    char part [1000];
    memset (part, 'x', sizeof part);
    hr_buf_t fragments = HR_BUF_INIT, ping = HR_BUF_INIT, last = HR_BUF_INIT;
    s_frame (&fragments, OP_TEXT, part, sizeof part);
    s_frame (&fragments, OP_CONT, part, 500);
    s_frame_str (&ping, FIN | OP_PING, "ping!");
    s_frame (&last, FIN | OP_CONT, part, 1);
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hr_buf_reserve (&peer.log, 4096);
    hr_buf_reserve (&peer.sent, 4096);
#ifdef TU_HAVE_ASAN
    size_t before = __sanitizer_get_current_allocated_bytes ();
#   define S_ASSERT_ALLOCATED(bytes) \
        assert_int_equal (__sanitizer_get_current_allocated_bytes () - before, (bytes))
#else
#   define S_ASSERT_ALLOCATED(bytes) (void) (bytes)
#endif
    hrg_ws_sock_t *sock = hrg_ws_sock_new (65536, &s_ops, &peer);
    size_t idle = hrg_ws_sock_memory (sock);
    assert_true (idle < 128);
    S_ASSERT_ALLOCATED (idle);
    assert_false (hrg_ws_sock_busy (sock));

    assert_int_equal (s_feed (sock, &fragments), 0);
    assert_true (hrg_ws_sock_busy (sock));
    size_t busy = hrg_ws_sock_memory (sock);
    assert_true (busy > idle + 8192 + 1500);
    S_ASSERT_ALLOCATED (busy);

    //  Half a ping inside the message: its payload is held too
    assert_int_equal (hrg_ws_sock_feed (sock, (uint8_t *) ping.data, ping.size - 2), 0);
    assert_true (hrg_ws_sock_memory (sock) > busy);
    S_ASSERT_ALLOCATED (hrg_ws_sock_memory (sock));
    assert_int_equal (hrg_ws_sock_feed (sock, (uint8_t *) ping.data + ping.size - 2, 2), 0);
    assert_int_equal (hrg_ws_sock_memory (sock), busy);
    S_ASSERT_ALLOCATED (busy);

    assert_int_equal (s_feed (sock, &last), 0);
    assert_int_equal (peer.messages, 1);
    assert_int_equal (peer.sends, 1);
    assert_false (hrg_ws_sock_busy (sock));
    assert_int_equal (hrg_ws_sock_memory (sock), idle);
    S_ASSERT_ALLOCATED (idle);
    hrg_ws_sock_destroy (&sock);
    S_ASSERT_ALLOCATED (0);
#undef S_ASSERT_ALLOCATED
    s_peer_reset (&peer);
    hr_buf_free (&fragments);
    hr_buf_free (&ping);
    hr_buf_free (&last);
}

//  A close frame held back until whole is counted while held.
static void
test_partial_close_frame_is_held (void **state)
{
    s_peer_t peer = { HR_BUF_INIT, 0, HR_BUF_INIT, 0 };
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    size_t idle = hrg_ws_sock_memory (sock);
    hr_buf_t bytes = HR_BUF_INIT, payload = HR_BUF_INIT;
    s_close_payload (&payload, 1001, "going \xe2\x82\xac");
    s_frame (&bytes, FIN | OP_CLOSE, payload.data, payload.size);
    for (size_t i = 0; i + 1 < bytes.size; i++) {
        assert_int_equal (hrg_ws_sock_feed (sock, (uint8_t *) bytes.data + i, 1), 0);
        assert_true (hrg_ws_sock_busy (sock));
        assert_true (hrg_ws_sock_memory (sock) > idle);
        assert_int_equal (peer.sends, 0);
    }
    assert_int_equal (hrg_ws_sock_feed (sock, (uint8_t *) bytes.data + bytes.size - 1, 1), 1001);
    assert_int_equal (peer.sent.size, 2 + payload.size);
    assert_memory_equal (peer.sent.data + 2, payload.data, payload.size);
    assert_int_equal (hrg_ws_sock_memory (sock), idle);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);
    hr_buf_free (&bytes);
    hr_buf_free (&payload);
}

int
main (void)
{
    alarm (60);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_text_and_binary_messages),
        cmocka_unit_test (test_fragments_are_reassembled),
        cmocka_unit_test (test_ping_is_answered_with_pong),
        cmocka_unit_test (test_control_frames_inside_a_fragmented_message),
        cmocka_unit_test (test_every_split_point),
        cmocka_unit_test (test_long_message_byte_by_byte),
        cmocka_unit_test (test_unmasked_frame_is_1002),
        cmocka_unit_test (test_reserved_bits_are_1002),
        cmocka_unit_test (test_unknown_opcodes_are_1002),
        cmocka_unit_test (test_control_frame_over_125_bytes_is_1002),
        cmocka_unit_test (test_fragmented_control_frame_is_1002),
        cmocka_unit_test (test_bad_fragment_order_is_1002),
        cmocka_unit_test (test_length_not_in_shortest_form_is_1002),
        cmocka_unit_test (test_invalid_utf8_is_1007),
        cmocka_unit_test (test_message_over_max_is_1009),
        cmocka_unit_test (test_peer_close_is_answered),
        cmocka_unit_test (test_ping_then_close_in_one_read),
        cmocka_unit_test (test_memory_while_idle_and_busy),
        cmocka_unit_test (test_partial_close_frame_is_held),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
