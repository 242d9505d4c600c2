/*  test_hrg_ws_sock: WebSocket framing of inbound bytes (gateway/hrg_ws_sock)
    with hand-built client frames: messages, fragments, control frames, any
    split of the bytes, and the memory an idle connection keeps (wslay's
    context only while something is partly received). Protocol errors are
    in test_hrg_ws_sock_errors.  */
#include "hrg_ws_sock_fixture.h"

#include <unistd.h>

//  --------------------------------------------------------------------

static void
test_text_and_binary_messages (void **state)
{
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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

    s_peer_t peer = S_PEER_INIT;
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

    s_peer_t peer = S_PEER_INIT;
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

//  Random streams of frames, valid and broken, fed whole and in random
//  pieces: the same messages, replies, close code and busy state, however
//  the bytes are split.
static uint64_t s_rand_state = 0x9e3779b97f4a7c15;

static uint32_t
s_rand (uint32_t below)
{
    s_rand_state ^= s_rand_state << 13;
    s_rand_state ^= s_rand_state >> 7;
    s_rand_state ^= s_rand_state << 17;
    return (uint32_t) (s_rand_state % below);
}

//  Mostly frames in a valid order, with now and then a broken one.
static void
s_random_stream (hr_buf_t *out)
{
    static const uint8_t any [] = { OP_TEXT, OP_BIN, OP_CONT, OP_PING, OP_CLOSE, 3, 0xb };
    static const char *texts [] = {
        "hello", "", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98", "\x80"
    };
    static const size_t sizes [] = { 0, 1, 2, 7, 125, 126, 200, 300 };
    bool in_message = false;
    size_t frames = 1 + s_rand (12);
    for (size_t f = 0; f < frames; f++) {
        uint8_t opcode;
        if (s_rand (20) == 0)
            opcode = any [s_rand (sizeof any)];
        else
        if (s_rand (4) == 0)
            opcode = s_rand (2)? OP_PING: OP_PONG;
        else
            opcode = in_message? OP_CONT: s_rand (2)? OP_TEXT: OP_BIN;
        if (s_rand (30) == 0)
            opcode = OP_CLOSE;
        bool fin = (opcode & 0x08) || s_rand (3);
        if (!(opcode & 0x08))
            in_message = !fin;
        uint8_t first = opcode | (fin? FIN: 0) | (s_rand (60)? 0: 0x40);
        hr_buf_t payload = HR_BUF_INIT;
        if (opcode == OP_CLOSE && s_rand (4)) {
            static const uint16_t codes [] = { 1000, 4000, 999, 1005 };
            s_close_payload (&payload, codes [s_rand (4)], texts [s_rand (4)]);
        }
        else
        if (s_rand (2))     //  a sequence may be cut between fragments
            hr_buf_puts (&payload, texts [s_rand (s_rand (8)? 4: 6)]);
        else {
            size_t size = sizes [s_rand (sizeof sizes / sizeof sizes [0])];
            for (size_t i = 0; i < size; i++)
                hr_buf_putc (&payload, (char) (s_rand (50)? 'a' + s_rand (26): s_rand (256)));
        }
        s_frame_raw (out, first, s_rand (60) != 0, payload.data, payload.size);
        hr_buf_free (&payload);
    }
}

static void
s_feed_in_pieces (hrg_ws_sock_t *sock, const hr_buf_t *bytes, bool one_by_one, int *code)
{
    size_t at = 0;
    while (at < bytes->size) {
        size_t piece = one_by_one? 1: 1 + s_rand (bytes->size - at);
        *code = hrg_ws_sock_feed (sock, (const uint8_t *) bytes->data + at, piece);
        at += piece;
    }
}

static void
test_random_streams_split_anywhere (void **state)
{
    for (int round = 0; round < 3000; round++) {
        hr_buf_t bytes = HR_BUF_INIT;
        s_random_stream (&bytes);
        s_peer_t whole = S_PEER_INIT, split = S_PEER_INIT;
        hrg_ws_sock_t *a = hrg_ws_sock_new (256, &s_ops, &whole);
        hrg_ws_sock_t *b = hrg_ws_sock_new (256, &s_ops, &split);
        int code_a = s_feed (a, &bytes), code_b = 0;
        s_feed_in_pieces (b, &bytes, round % 10 == 0, &code_b);
        assert_int_equal (code_a, code_b);
        assert_int_equal (whole.messages, split.messages);
        s_assert_same (&split.log, &whole.log);
        s_assert_same (&split.sent, &whole.sent);
        assert_int_equal (hrg_ws_sock_busy (a), hrg_ws_sock_busy (b));
        assert_int_equal (hrg_ws_sock_memory (a), hrg_ws_sock_memory (b));
        if (code_a)
            assert_false (hrg_ws_sock_busy (a));
        hrg_ws_sock_destroy (&a);
        hrg_ws_sock_destroy (&b);
        s_peer_reset (&whole);
        s_peer_reset (&split);
        hr_buf_free (&bytes);
    }
}

//  The owner ends the connection from on_message: nothing more is
//  delivered or sent, not even from the rest of the same read.
static void
test_stop_from_on_message (void **state)
{
    s_peer_t peer = S_PEER_INIT;
    hrg_ws_sock_t *sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    peer.sock = sock;
    peer.stop_after = 2;
    peer.stop_code = 4004;
    hr_buf_t bytes = HR_BUF_INIT;
    s_frame_str (&bytes, FIN | OP_TEXT, "one");
    s_frame_str (&bytes, FIN | OP_PING, "p");
    s_frame_str (&bytes, FIN | OP_TEXT, "two");
    s_frame_str (&bytes, FIN | OP_PING, "late");
    s_frame_str (&bytes, FIN | OP_TEXT, "three");
    s_frame_str (&bytes, OP_TEXT, "four");
    assert_int_equal (s_feed (sock, &bytes), 4004);
    assert_int_equal (peer.messages, 2);
    tu_assert_span (peer.sent.data, peer.sent.size, "\x8a\x01p");
    assert_false (hrg_ws_sock_busy (sock));
    assert_int_equal (s_feed (sock, &bytes), 4004);
    assert_int_equal (peer.messages, 2);
    assert_int_equal (peer.sends, 1);
    hrg_ws_sock_destroy (&sock);
    s_peer_reset (&peer);

    //  Between reads, in the middle of a message: its buffers go at once
    sock = hrg_ws_sock_new (1024, &s_ops, &peer);
    size_t idle = hrg_ws_sock_memory (sock);
    hr_buf_reset (&bytes);
    s_frame_str (&bytes, OP_TEXT, "partial");
    assert_int_equal (s_feed (sock, &bytes), 0);
    assert_true (hrg_ws_sock_busy (sock));
    hrg_ws_sock_stop (sock, 1003);
    assert_false (hrg_ws_sock_busy (sock));
    assert_int_equal (hrg_ws_sock_memory (sock), idle);
    hrg_ws_sock_stop (sock, 4001);              //  the first code stays
    assert_int_equal (s_feed (sock, &bytes), 1003);
    assert_int_equal (peer.sends, 0);
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
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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
        cmocka_unit_test (test_random_streams_split_anywhere),
        cmocka_unit_test (test_stop_from_on_message),
        cmocka_unit_test (test_memory_while_idle_and_busy),
        cmocka_unit_test (test_partial_close_frame_is_held),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
