/*  test_hrg_ws_handshake: the WebSocket upgrade request checked and
    answered (gateway/hrg_ws_handshake, RFC 6455 §4.2).  */
#include "hrg_ws_handshake.h"

#include "support.h"

#define S_KEY "dGhlIHNhbXBsZSBub25jZQ=="

//  A request that passes; each test breaks one thing
static hrg_ws_request_t
s_request (void)
{
    return (hrg_ws_request_t) {
        .method = "GET", .upgrade = "websocket", .connection = "Upgrade", .version = "13",
        .key = S_KEY, .host = "gw.example:8080"
    };
}

static hrg_ws_format_t s_format;
static bool s_offered;
static const char *s_why;

static hrg_ws_hs_result_t
s_check (const hrg_ws_request_t *req, const char *const *origins)
{
    s_format = (hrg_ws_format_t) -1;
    s_offered = false;
    s_why = NULL;
    hrg_ws_hs_result_t rc = hrg_ws_handshake_check (req, origins, &s_format, &s_offered, &s_why);
    if (rc == HRG_WS_HS_OK)
        assert_null (s_why);
    else {
        assert_non_null (s_why);
        assert_true (strlen (s_why) > 0);
    }
    return rc;
}

//  RFC 6455 §1.3's example (also what sha1sum and base64 give)
static void
test_accept_key_rfc_6455_vector (void **state)
{
    char accept [29];
    hrg_ws_accept_key (S_KEY, accept);
    assert_string_equal (accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_plain_request_is_json_without_protocol (void **state)
{
    hrg_ws_request_t req = s_request ();
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    assert_int_equal (s_format, HRG_WS_JSON);
    assert_false (s_offered);
}

static void
test_header_tokens_are_lists_in_any_case (void **state)
{
    hrg_ws_request_t req = s_request ();
    req.upgrade = "WebSocket";
    req.connection = "keep-alive, UPGRADE";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    req.connection = "keep-alive,upgrade ,close";
    req.upgrade = "h2c,\twebsocket";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    req.connection = "keep-alive, upgrades";           //  a token, not a substring
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.connection = "Upgrade";
    req.upgrade = "websockets";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
}

static void
test_method_upgrade_connection_required (void **state)
{
    hrg_ws_request_t req = s_request ();
    req.method = "POST";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req = s_request ();
    req.upgrade = NULL;
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req = s_request ();
    req.connection = NULL;
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.connection = "";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.connection = " , ,";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
}

static void
test_version_missing_is_400_other_is_426 (void **state)
{
    hrg_ws_request_t req = s_request ();
    req.version = NULL;
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.version = "8";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_VERSION);
    req.version = "13, 8";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_VERSION);
}

static void
test_key_must_be_base64_of_16_bytes (void **state)
{
    static const char *const bad [] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ",       //  padding missing
        "dGhlIHNhbXBsZSBub25jZQ=",      //  23
        "dGhlIHNhbXBsZSBub25jZQ===",    //  25
        "dGhlIHNhbXBsZSBub25jZQAA",     //  24 characters, 18 bytes
        "dGhlIHNhbXBsZSBub25j ZQ=",     //  a space: 15 bytes
        "dGhlIHNhbXBsZSBub25j*Q==",     //  not the alphabet
        "dGhlIHNhbXBsZSBub25jZ===",     //  15 bytes
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", //  21 bytes
    };
    hrg_ws_request_t req = s_request ();
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        req.key = bad [i];
        if (s_check (&req, NULL) != HRG_WS_HS_BAD)
            fail_msg ("key '%s' accepted", bad [i]);
    }
    req.key = NULL;
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.key = "AAAAAAAAAAAAAAAAAAAAAA==";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    req.key = "/////////////////////w==";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
}

static void
test_origin_rules (void **state)
{
    hrg_ws_request_t req = s_request ();
    //  Own origin: host[:port] equals Host, any scheme, any case
    req.origin = "https://gw.example:8080";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    req.origin = "http://GW.example:8080";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    req.origin = "https://gw.example";              //  another port: another origin
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_ORIGIN);
    req.origin = "https://evil.example";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_ORIGIN);
    req.origin = "gw.example:8080";                 //  no scheme: not an origin
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_ORIGIN);
    req.origin = "null";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_ORIGIN);
    req.origin = "https://gw.example:8080";
    req.host = NULL;
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_ORIGIN);
    req.host = "gw.example:8080";

    const char *const listed [] = { "https://app.example", "http://localhost:3000", NULL };
    req.origin = "http://localhost:3000";
    assert_int_equal (s_check (&req, listed), HRG_WS_HS_OK);
    req.origin = "https://app.example";
    assert_int_equal (s_check (&req, listed), HRG_WS_HS_OK);
    req.origin = "https://app.example.evil";
    assert_int_equal (s_check (&req, listed), HRG_WS_HS_ORIGIN);
    req.origin = "https://gw.example:8080";         //  own: always allowed
    assert_int_equal (s_check (&req, listed), HRG_WS_HS_OK);

    const char *const any [] = { "*", NULL };
    req.origin = "https://anyone.example";
    assert_int_equal (s_check (&req, any), HRG_WS_HS_OK);
    const char *const none [] = { NULL };
    assert_int_equal (s_check (&req, none), HRG_WS_HS_ORIGIN);

    //  No Origin: not a browser
    req.origin = NULL;
    assert_int_equal (s_check (&req, none), HRG_WS_HS_OK);
}

static void
test_subprotocol_choice (void **state)
{
    hrg_ws_request_t req = s_request ();
    req.protocol = "herald.v1.msgpack";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    assert_int_equal (s_format, HRG_WS_MSGPACK);
    assert_true (s_offered);
    req.protocol = "herald.v1.json";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    assert_int_equal (s_format, HRG_WS_JSON);
    assert_true (s_offered);
    req.protocol = "chat, herald.v1.msgpack, herald.v1.json";     //  the client's first of ours
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    assert_int_equal (s_format, HRG_WS_MSGPACK);
    req.protocol = "herald.v1.json,herald.v1.msgpack";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_OK);
    assert_int_equal (s_format, HRG_WS_JSON);
    req.protocol = "chat, superchat";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.protocol = "Herald.v1.json";                             //  names are case-sensitive
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.protocol = "herald.v1";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
    req.protocol = "";
    assert_int_equal (s_check (&req, NULL), HRG_WS_HS_BAD);
}

static void
test_response_head (void **state)
{
    hr_buf_t out = HR_BUF_INIT;
    hr_buf_puts (&out, "kept:");
    hrg_ws_handshake_response (&out, S_KEY, HRG_WS_JSON, false);
    assert_string_equal (out.data, "kept:HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    hr_buf_reset (&out);
    hrg_ws_handshake_response (&out, S_KEY, HRG_WS_MSGPACK, true);
    assert_string_equal (out.data, "HTTP/1.1 101 Switching Protocols\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                         "Sec-WebSocket-Protocol: herald.v1.msgpack\r\n\r\n");
    hr_buf_reset (&out);
    hrg_ws_handshake_response (&out, S_KEY, HRG_WS_JSON, true);
    assert_non_null (strstr (out.data, "\r\nSec-WebSocket-Protocol: herald.v1.json\r\n\r\n"));
    hr_buf_free (&out);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_accept_key_rfc_6455_vector),
        cmocka_unit_test (test_plain_request_is_json_without_protocol),
        cmocka_unit_test (test_header_tokens_are_lists_in_any_case),
        cmocka_unit_test (test_method_upgrade_connection_required),
        cmocka_unit_test (test_version_missing_is_400_other_is_426),
        cmocka_unit_test (test_key_must_be_base64_of_16_bytes),
        cmocka_unit_test (test_origin_rules),
        cmocka_unit_test (test_subprotocol_choice),
        cmocka_unit_test (test_response_head),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
