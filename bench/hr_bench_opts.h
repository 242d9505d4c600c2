/*  hr_bench_opts.h - command-line options of the load generator

    One struct holds every setting; hr_bench_opts_parse fills it from argv
    and the --target preset (herald or nchan), so the rest of the generator
    never looks at argv.
*/
#ifndef HR_BENCH_OPTS_H_INCLUDED
#define HR_BENCH_OPTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HR_BENCH_MAX_PIDS 16

typedef enum {
    HR_BENCH_MODE_FANOUT,       //  subscribers + publisher: latency, loss
    HR_BENCH_MODE_IDLE,         //  subscribers only: server memory per connection
    HR_BENCH_MODE_INGEST,       //  PUSH as fast as possible, no subscribers
    HR_BENCH_MODE_ZMQ_CEILING,  //  libzmq PUSH->PULL on this machine
    HR_BENCH_MODE_CONNECT       //  open, get ready, close: connections per second
} hr_bench_mode_t;

typedef enum { HR_BENCH_TARGET_HERALD, HR_BENCH_TARGET_NCHAN } hr_bench_target_t;

//  Subscriber connection types.
typedef enum { HR_BENCH_PROTO_SSE, HR_BENCH_PROTO_WS } hr_bench_proto_t;

typedef enum { HR_BENCH_PUB_ZMQ, HR_BENCH_PUB_HTTP } hr_bench_pub_kind_t;

//  What the HTTP publisher POSTs: the payload itself (nchan) or Herald's
//  {"channel":..,"data":payload} event object.
typedef enum { HR_BENCH_BODY_RAW, HR_BENCH_BODY_HERALD } hr_bench_body_t;

//  When a subscriber counts as ready: at the 200 (101) response head
//  (nchan), or once subscribed: its first `id:` line on SSE, the `ok`
//  answering its `sub` on Herald's WebSocket.
typedef enum { HR_BENCH_READY_HEADERS, HR_BENCH_READY_ID } hr_bench_ready_t;

//  Where a connection's token goes (--token FILE): `Authorization: Bearer`
//  or the `token` query parameter.
typedef enum { HR_BENCH_TOKEN_HEADER, HR_BENCH_TOKEN_QUERY } hr_bench_token_in_t;

//  Bytes of one token (a JWT with a few grants is 300-500), and of a
//  --token file (one token a line).
#define HR_BENCH_TOKEN_MAX      2048
#define HR_BENCH_TOKEN_FILE_MAX (64u << 20)

typedef struct {
    hr_bench_mode_t mode;
    hr_bench_target_t target;
    hr_bench_proto_t proto;
    //  Subscribers
    char url [1024];            //  subscriber URL; {ch} is the channel name
    uint32_t subscribers;
    char channel [128];         //  the channel, or the prefix of K channels
    uint32_t channels;          //  K: connection i subscribes to channel i % K
    uint32_t src_addrs;         //  source addresses 127.0.0.1 .. 127.0.0.x
    uint32_t procs;             //  subscriber processes
    double conn_rate;           //  new connections per second, all processes
    uint32_t max_pending;       //  connection attempts in flight, all processes
    double connect_timeout;     //  seconds for one connection to get ready
    hr_bench_ready_t ready;
    double settle;              //  seconds between "all ready" and publishing
    //  Connection i sends tokens [i % token_count]; none when the count
    //  is 0. The strings point into token_text (the file's bytes).
    char **tokens;
    char *token_text;
    uint32_t token_count;
    hr_bench_token_in_t token_in;
    //  Publisher
    hr_bench_pub_kind_t pub;
    char pub_url [1024];        //  HTTP publisher URL; {ch} is the channel
    hr_bench_body_t body;
    char zmq_endpoint [256];
    char curve_server_key [256];    //  the broker's public CURVE certificate; "" = plain
    char curve_secret [256];        //  this publisher's CURVE certificate (secret file)
    uint32_t pub_conns;         //  HTTP keep-alive connections
    uint32_t pub_window;        //  requests in flight per HTTP connection
    uint64_t events;            //  M, events to publish
    double rate;                //  events per second; 0 = closed loop
    double duration;            //  seconds, bound on publishing (and ingest)
    uint32_t size;              //  payload bytes (JSON text)
    double drain;               //  seconds to wait for deliveries after publishing
    double timeout;             //  seconds, bound on the whole run
    //  Reporting
    int server_pids [HR_BENCH_MAX_PIDS];
    int server_pid_count;
    bool json;
    bool quiet;
    bool selftest;
} hr_bench_opts_t;

//  Fills self from argv. Returns 0 to run, 1 when --help was printed,
//  -1 on a bad option (the message is on stderr). Whatever it returns,
//  the caller frees what it allocated (the --token file) with
//  hr_bench_opts_free.
int
    hr_bench_opts_parse (hr_bench_opts_t *self, int argc, char **argv);

//  Frees what hr_bench_opts_parse allocated; self stays valid, tokenless.
void
    hr_bench_opts_free (hr_bench_opts_t *self);

//  Prints the usage text.
void
    hr_bench_opts_usage (FILE *out);

//  Writes channel number index's name into buf: the --channel name when
//  there is one channel, else "<channel>-<index>".
void
    hr_bench_opts_channel (const hr_bench_opts_t *self, uint32_t index,
                           char *buf, size_t size);

#endif
