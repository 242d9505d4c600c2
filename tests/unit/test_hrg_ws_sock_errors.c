/*  test_hrg_ws_sock_errors: every protocol error a client can make, the
    close code and close frame each gets (gateway/hrg_ws_sock), and how a
    client's close frame is answered.  */
#include "hrg_ws_sock_fixture.h"

#include <unistd.h>

//  --------------------------------------------------------------------

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
    s_peer_t peer = S_PEER_INIT;
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
test_bad_length_is_1002 (void **state)
{
    //  Not in its shortest form: 5 bytes with a 16-bit length, 200 with a
    //  64-bit one
    static const uint8_t short16 [] = { 0x81, 0xfe, 0, 5, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
    uint8_t long64 [2 + 8 + 4 + 200] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 200 };
    //  and a 64-bit length with its most significant bit set
    static const uint8_t msb64 [] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 'x' };
    const struct { const uint8_t *bytes; size_t size; } cases [] = {
        { short16, sizeof short16 }, { long64, sizeof long64 }, { msb64, sizeof msb64 }
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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
    s_peer_t peer = S_PEER_INIT;
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


int
main (void)
{
    alarm (60);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_unmasked_frame_is_1002),
        cmocka_unit_test (test_reserved_bits_are_1002),
        cmocka_unit_test (test_unknown_opcodes_are_1002),
        cmocka_unit_test (test_control_frame_over_125_bytes_is_1002),
        cmocka_unit_test (test_fragmented_control_frame_is_1002),
        cmocka_unit_test (test_bad_fragment_order_is_1002),
        cmocka_unit_test (test_bad_length_is_1002),
        cmocka_unit_test (test_invalid_utf8_is_1007),
        cmocka_unit_test (test_message_over_max_is_1009),
        cmocka_unit_test (test_peer_close_is_answered),
        cmocka_unit_test (test_ping_then_close_in_one_read),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
