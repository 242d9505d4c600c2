/*  hrg_config: a gateway's settings (cli/cli.c maps the options and
    HERALD_* variables onto them; docs/operations.md lists them).  */
#ifndef HRG_CONFIG_H
#define HRG_CONFIG_H

#include "hr_config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *http;           //  HOST:PORT to listen on
    const char *broker_sub;     //  broker XPUB endpoint to connect SUB to
    const char *broker_req;     //  broker ROUTER endpoint to connect DEALER to
    const char *cors_origins;   //  "*", or comma-separated origins; "" = none
    int64_t workers;            //  0 = one per core
    int64_t max_connections;    //  per worker
    int64_t conn_memory;        //  libmicrohttpd memory per connection
    int64_t conn_timeout;       //  ms without progress before closing (not for idle SSE)
    int64_t heartbeat;          //  ms between SSE heartbeats
    int64_t sse_retry;          //  ms, the SSE retry: field
    int64_t slow_consumer_bytes;
    int64_t max_body;
    int64_t max_event;          //  bytes per publish frame: the broker's --max-event
    int64_t broker_timeout;     //  ms to wait for a broker reply
    int64_t sub_hwm;            //  SUB receive high-water mark (messages)
    int64_t recent_events;      //  events kept per channel per worker for fast resume
    int64_t recent_memory;      //  bytes of such events per worker, all channels
    int64_t held_memory;        //  bytes a channel holds while syncing or filling a gap
    int64_t catchup_memory;     //  bytes per worker held for catch-up before resumes wait
    int64_t write_interval;     //  ms: the least time between two writes to a stream;
                                //  HR_OPT_AUTO: load-adaptive (hrg_group)
    const char *ws_origins;     //  WebSocket: "*", or comma-separated origins; "" = own only
    int64_t ws_heartbeat;       //  ms without outbound traffic before a WebSocket ping
    int64_t ws_max_message;     //  bytes of one reassembled inbound WebSocket message
    int64_t ws_max_rate;        //  inbound WebSocket messages per second per connection
    int64_t ws_max_subscriptions;   //  channels one WebSocket connection may subscribe to
    bool demo;                  //  serve the demo page at /
    //  Tokens and limits (docs/security.md)
    const char *token_keys;     //  JWKS file; "" = no token checks (open gateway)
    const char *token_audience; //  required aud
    const char *token_issuer;   //  required iss; "" = any
    int64_t token_leeway;       //  ms of clock skew allowed on exp, nbf, iat
    int64_t token_max_ttl;      //  ms: the longest token lifetime accepted
    int64_t token_grace;        //  ms a WebSocket may stay past exp waiting for refresh
    const char *token_cookie;   //  cookie a token may come in
    const char *public_channels;    //  grant patterns readable without a token
    int64_t ws_auth_timeout;    //  ms a WebSocket may wait before auth (4005)
    int64_t max_connections_per_ip; //  0 = no limit
    int64_t publish_rate;       //  publishes per token (or address) per second; 0 = no limit
    const char *curve_server_key;   //  broker's public CURVE certificate; "" = plain
    const char *curve_secret;   //  this gateway's CURVE certificate (secret file)
    bool insecure;              //  allow a non-loopback bind without token keys
    const char *cluster;        //  cluster file: follow every broker in it; "" = broker_sub/req
} hrg_config_t;

#define HRG_CONFIG_DEFAULTS { \
    .http = "127.0.0.1:8080", .broker_sub = "tcp://127.0.0.1:5557", \
    .broker_req = "tcp://127.0.0.1:5556", .cors_origins = "", .workers = 0, \
    .max_connections = 10000, .conn_memory = 32 * 1024, .conn_timeout = 120000, \
    .heartbeat = 15000, .sse_retry = 2000, .slow_consumer_bytes = 1 << 20, \
    .max_body = 1 << 20, .max_event = 64 * 1024, .broker_timeout = 5000, .sub_hwm = 100000, \
    .recent_events = 256, .recent_memory = 64 << 20, \
    .held_memory = 16 << 20, .catchup_memory = 64 << 20, \
    .write_interval = HR_OPT_AUTO, .ws_origins = "", .ws_heartbeat = 25000, \
    .ws_max_message = 64 * 1024, .ws_max_rate = 100, .ws_max_subscriptions = 100, \
    .demo = false, .token_keys = "", .token_audience = "herald", .token_issuer = "", \
    .token_leeway = 30000, .token_max_ttl = 24 * 3600 * 1000LL, .token_grace = 25000, \
    .token_cookie = "herald_token", .public_channels = "", .ws_auth_timeout = 10000, \
    .max_connections_per_ip = 1000, .publish_rate = 1000, .curve_server_key = "", \
    .curve_secret = "", .insecure = false, .cluster = "" }

#endif
