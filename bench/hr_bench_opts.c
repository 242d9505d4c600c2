/*  hr_bench_opts.c - command-line options of the load generator

    Parses argv with getopt_long, then fills what the user left unset from
    the --target preset: Herald (SSE at /v1/sse, PUSH to :5555) or nchan
    (SSE at /sub?id=, POST to /pub?id=), both on --host/--port, and from
    the mode (connect: no rate bound on new connections).
*/
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hr_bench_opts.h"

#define streq_(a, b) (strcmp ((a), (b)) == 0)

enum {
    O_MODE = 256, O_TARGET, O_PROTO, O_URL, O_CHANNEL, O_CHANNELS, O_SRC_ADDRS,
    O_PROCS, O_CONN_RATE, O_MAX_PENDING, O_CONNECT_TIMEOUT, O_READY, O_SETTLE,
    O_CURVE_SERVER_KEY, O_CURVE_SECRET,
    O_PUB, O_PUB_URL, O_BODY, O_ZMQ, O_PUB_CONNS, O_PUB_WINDOW, O_DRAIN,
    O_TIMEOUT, O_SERVER_PID, O_JSON, O_SELFTEST, O_HOST, O_PORT, O_TOKEN, O_TOKEN_IN
};

static const struct option s_options [] = {
    { "mode",            required_argument, NULL, O_MODE },
    { "target",          required_argument, NULL, O_TARGET },
    { "proto",           required_argument, NULL, O_PROTO },
    { "host",            required_argument, NULL, O_HOST },
    { "port",            required_argument, NULL, O_PORT },
    { "url",             required_argument, NULL, O_URL },
    { "subscribers",     required_argument, NULL, 'n' },
    { "channel",         required_argument, NULL, O_CHANNEL },
    { "channels",        required_argument, NULL, O_CHANNELS },
    { "src-addrs",       required_argument, NULL, O_SRC_ADDRS },
    { "procs",           required_argument, NULL, O_PROCS },
    { "conn-rate",       required_argument, NULL, O_CONN_RATE },
    { "max-pending",     required_argument, NULL, O_MAX_PENDING },
    { "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
    { "ready",           required_argument, NULL, O_READY },
    { "settle",          required_argument, NULL, O_SETTLE },
    { "token",           required_argument, NULL, O_TOKEN },
    { "token-in",        required_argument, NULL, O_TOKEN_IN },
    { "pub",             required_argument, NULL, O_PUB },
    { "pub-url",         required_argument, NULL, O_PUB_URL },
    { "pub-body",        required_argument, NULL, O_BODY },
    { "zmq-endpoint",    required_argument, NULL, O_ZMQ },
    { "curve-server-key", required_argument, NULL, O_CURVE_SERVER_KEY },
    { "curve-secret",    required_argument, NULL, O_CURVE_SECRET },
    { "pub-conns",       required_argument, NULL, O_PUB_CONNS },
    { "pub-window",      required_argument, NULL, O_PUB_WINDOW },
    { "events",          required_argument, NULL, 'm' },
    { "rate",            required_argument, NULL, 'r' },
    { "duration",        required_argument, NULL, 'd' },
    { "size",            required_argument, NULL, 's' },
    { "drain",           required_argument, NULL, O_DRAIN },
    { "timeout",         required_argument, NULL, O_TIMEOUT },
    { "server-pid",      required_argument, NULL, O_SERVER_PID },
    { "json",            no_argument,       NULL, O_JSON },
    { "quiet",           no_argument,       NULL, 'q' },
    { "selftest",        no_argument,       NULL, O_SELFTEST },
    { "help",            no_argument,       NULL, 'h' },
    { NULL, 0, NULL, 0 }
};

void
hr_bench_opts_usage (FILE *out)
{
    fputs (
"usage: hr-bench [options]            (also: herald bench [options])\n"
"\n"
"Load generator for Herald and nchan: SSE subscribers, a publisher at a fixed\n"
"rate, publish-to-delivery latency, loss and server CPU/memory.\n"
"\n"
"Modes (--mode):\n"
"  fanout       N subscribers, M events published; latency, fan-out, loss (default)\n"
"  idle         N subscribers, no events; server RSS growth per connection\n"
"  ingest       PUSH to --zmq-endpoint as fast as possible for --duration s\n"
"               (event S to channel (S-1)%K of --channels K)\n"
"  zmq-ceiling  libzmq's own PUSH->PULL rate over tcp loopback (reference)\n"
"  connect      open N connections (or for --duration s), each closed once\n"
"               ready; connections per second, setup time, server CPU each\n"
"\n"
"Target:\n"
"  --target herald|nchan   presets for the URLs below (default herald)\n"
"  --host H --port P       server for the preset URLs (127.0.0.1, 8080)\n"
"  --proto sse|ws          subscriber protocol: SSE, or WebSocket (nchan: each\n"
"                          message is a payload; herald: herald.v1.json, a\n"
"                          sub message after the welcome, events in ev)\n"
"\n"
"Subscribers:\n"
"  -n, --subscribers N     connections to open (default 100)\n"
"  --url URL               subscriber URL, {ch} = channel name\n"
"                          herald: http://H:P/v1/sse?channel={ch}, ws: /v1/ws\n"
"                          nchan:  http://H:P/sub?id={ch}\n"
"  --channel NAME          channel (or prefix of K channels) (default bench)\n"
"  --channels K            connection i subscribes to NAME-(i%K) (default 1)\n"
"  --src-addrs X           bind to 127.0.0.1..127.0.0.X (default: N/25000+1)\n"
"  --procs P               subscriber processes (default: as needed for the\n"
"                          open-file limit)\n"
"  --conn-rate R           new connections per second (default 2000;\n"
"                          connect mode: unbounded)\n"
"  --max-pending N         connection attempts in flight (default 256)\n"
"  --connect-timeout S     seconds for a connection to get ready (default 10)\n"
"  --ready headers|id      ready at the 200/101 head, or once subscribed: the\n"
"                          first id: line (SSE), the sub's ok (WebSocket)\n"
"                          (default: herald id, nchan headers)\n"
"  --settle S              wait between all-ready and publishing (default 0.5)\n"
"  --token FILE            connections send the tokens in FILE (JWTs, one a\n"
"                          line; connection i sends line i % lines)\n"
"  --token-in header|query as Authorization: Bearer (default) or ?token=\n"
"\n"
"Publisher:\n"
"  --pub zmq|http          PUSH/MessagePack or HTTP POST (herald zmq, nchan http)\n"
"  --zmq-endpoint EP       (default tcp://H:5555)\n"
"  --curve-server-key F    the broker's public CURVE certificate: PUSH with CURVE\n"
"  --curve-secret F        the publisher's CURVE certificate (its secret file)\n"
"  --pub-url URL           POST URL, {ch} = channel (herald: /v1/publish,\n"
"                          nchan: /pub?id={ch})\n"
"  --pub-body raw|herald   POST the payload, or {\"channel\":..,\"data\":payload}\n"
"  --pub-conns C           HTTP keep-alive connections (default 1)\n"
"  --pub-window W          HTTP requests in flight per connection (default 16;\n"
"                          closed loop uses 1)\n"
"  -m, --events M          events to publish (default rate x duration)\n"
"  -r, --rate R            events per second, 0 = closed loop (default 100)\n"
"  -d, --duration S        bound on publishing / ingest time (default 10)\n"
"  -s, --size B            payload size in bytes (default 100)\n"
"  --drain S               wait for deliveries after publishing (default 5)\n"
"\n"
"Run:\n"
"  --timeout S             hard bound on the whole run (default 120)\n"
"  --server-pid PID        server process to sample (CPU, RSS); repeatable\n"
"  --json                  print one JSON object instead of text\n"
"  -q, --quiet             no progress lines on stderr\n"
"  --selftest              run the parser self-tests and exit\n"
"  -h, --help              this text\n"
"\n"
"Exit status: 0 when the run happened (whatever it measured), 1 when it\n"
"could not be set up, 2 on a bad option.\n", out);
}

static bool
s_parse_u32 (const char *text, uint32_t *out, uint32_t min, uint32_t max)
{
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (*text == '\0' || *end != '\0' || *text == '-' || value < min || value > max)
        return false;
    *out = (uint32_t) value;
    return true;
}

static bool
s_parse_double (const char *text, double *out, double min, double max)
{
    char *end;
    double value = strtod (text, &end);
    if (*text == '\0' || *end != '\0' || !(value >= min && value <= max))
        return false;
    *out = value;
    return true;
}

static bool
s_copy (char *dest, size_t size, const char *text)
{
    if (strlen (text) >= size)
        return false;
    strcpy (dest, text);
    return true;
}

//  A token is base64url and dots (a compact JWT), so it goes into a
//  header or a query string as it is.
static bool
s_token_ok (const char *token, size_t len)
{
    if (len == 0 || len >= HR_BENCH_TOKEN_MAX)
        return false;
    for (size_t at = 0; at < len; at++)
        if (!isalnum ((unsigned char) token [at]) && !strchr ("-_.", token [at]))
            return false;
    return true;
}

//  Reads the tokens in path, one a line (blank lines skipped).
static bool
s_read_tokens (hr_bench_opts_t *self, const char *path)
{
    FILE *file = fopen (path, "r");
    long file_size = file && fseek (file, 0, SEEK_END) == 0? ftell (file): -1;
    bool ok = file_size > 0 && file_size <= (long) HR_BENCH_TOKEN_FILE_MAX
           && fseek (file, 0, SEEK_SET) == 0;
    char *text = ok? malloc ((size_t) file_size + 1): NULL;
    size_t size = text? fread (text, 1, (size_t) file_size, file): 0;
    if (file)
        fclose (file);
    ok = ok && text && size == (size_t) file_size;
    size_t lines = 1;
    for (size_t at = 0; ok && at < size; at++)
        lines += text [at] == '\n';
    self->tokens = ok? calloc (lines, sizeof (char *)): NULL;
    self->token_count = 0;
    for (char *line = text; ok && self->tokens && line < text + size; ) {
        char *end = memchr (line, '\n', (size_t) (text + size - line));
        end = end? end: text + size;
        char *next = end + 1;
        while (end > line && isspace ((unsigned char) end [-1]))
            end--;
        if (end > line) {
            ok = s_token_ok (line, (size_t) (end - line));
            *end = '\0';
            self->tokens [self->token_count++] = line;
        }
        line = next;
    }
    if (!ok || !self->tokens || self->token_count == 0) {
        fprintf (stderr, "hr-bench: --token %s: expected compact JWTs (base64url and dots)"
                 " under %d bytes, one a line\n", path, HR_BENCH_TOKEN_MAX);
        free (self->tokens);
        free (text);
        self->tokens = NULL;
        self->token_count = 0;
        return false;
    }
    self->token_text = text;
    return true;
}

//  Fills what the user did not set from the target preset.
static void
s_apply_target (hr_bench_opts_t *self, const char *host, uint32_t port,
                bool url_set, bool pub_set, bool pub_url_set, bool body_set,
                bool ready_set, bool zmq_set)
{
    bool herald = self->target == HR_BENCH_TARGET_HERALD;
    //  Herald's WebSocket names the channel in its `sub` message, not the URL.
    const char *url = !herald? "http://%s:%u/sub?id={ch}"
                    : self->proto == HR_BENCH_PROTO_WS? "http://%s:%u/v1/ws"
                    : "http://%s:%u/v1/sse?channel={ch}";
    if (!url_set)
        snprintf (self->url, sizeof self->url, url, host, port);
    if (!pub_url_set)
        snprintf (self->pub_url, sizeof self->pub_url,
                  herald? "http://%s:%u/v1/publish": "http://%s:%u/pub?id={ch}",
                  host, port);
    if (!zmq_set)
        snprintf (self->zmq_endpoint, sizeof self->zmq_endpoint, "tcp://%s:5555", host);
    if (!pub_set)
        self->pub = herald? HR_BENCH_PUB_ZMQ: HR_BENCH_PUB_HTTP;
    if (!body_set)
        self->body = herald? HR_BENCH_BODY_HERALD: HR_BENCH_BODY_RAW;
    if (!ready_set)
        self->ready = herald? HR_BENCH_READY_ID: HR_BENCH_READY_HEADERS;
}

//  Largest number of connections one process may hold under its open-file
//  limit, keeping a few descriptors for pipes, epoll and stdio.
static uint32_t
s_conns_per_proc (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max == RLIM_INFINITY)
        return 60000;
    return limit.rlim_max > 1064? (uint32_t) limit.rlim_max - 64: 1000;
}

int
hr_bench_opts_parse (hr_bench_opts_t *self, int argc, char **argv)
{
    memset (self, 0, sizeof *self);
    self->subscribers = 100;
    self->channels = 1;
    strcpy (self->channel, "bench");
    self->conn_rate = 2000;
    self->max_pending = 256;
    self->connect_timeout = 10;
    self->settle = 0.5;
    self->pub_conns = 1;
    self->pub_window = 16;
    self->rate = 100;
    self->duration = 10;
    self->size = 100;
    self->drain = 5;
    self->timeout = 120;

    char host [128] = "127.0.0.1";
    uint32_t port = 8080;
    bool url_set = false, pub_set = false, pub_url_set = false, body_set = false,
         ready_set = false, zmq_set = false, events_set = false, conn_rate_set = false;
    bool ok = true;

    optind = 1;                 //  hr_bench_main may run after other getopt users
    int opt;
    while (ok && (opt = getopt_long (argc, argv, "n:m:r:d:s:qh", s_options, NULL)) != -1) {
        switch (opt) {
            case O_MODE:
                if (streq_ (optarg, "fanout"))          self->mode = HR_BENCH_MODE_FANOUT;
                else if (streq_ (optarg, "idle"))       self->mode = HR_BENCH_MODE_IDLE;
                else if (streq_ (optarg, "ingest"))     self->mode = HR_BENCH_MODE_INGEST;
                else if (streq_ (optarg, "zmq-ceiling")) self->mode = HR_BENCH_MODE_ZMQ_CEILING;
                else if (streq_ (optarg, "connect"))    self->mode = HR_BENCH_MODE_CONNECT;
                else ok = false;
                break;
            case O_TARGET:
                if (streq_ (optarg, "herald"))     self->target = HR_BENCH_TARGET_HERALD;
                else if (streq_ (optarg, "nchan")) self->target = HR_BENCH_TARGET_NCHAN;
                else ok = false;
                break;
            case O_PROTO:
                if (streq_ (optarg, "sse")) self->proto = HR_BENCH_PROTO_SSE;
                else if (streq_ (optarg, "ws")) self->proto = HR_BENCH_PROTO_WS;
                else ok = false;
                break;
            case O_HOST:         ok = s_copy (host, sizeof host, optarg); break;
            case O_PORT:         ok = s_parse_u32 (optarg, &port, 1, 65535); break;
            case O_URL:          ok = s_copy (self->url, sizeof self->url, optarg); url_set = true; break;
            case 'n':            ok = s_parse_u32 (optarg, &self->subscribers, 0, 10000000); break;
            case O_CHANNEL:      ok = s_copy (self->channel, sizeof self->channel - 12, optarg); break;
            case O_CHANNELS:     ok = s_parse_u32 (optarg, &self->channels, 1, 1000000); break;
            case O_SRC_ADDRS:    ok = s_parse_u32 (optarg, &self->src_addrs, 1, 254); break;
            case O_PROCS:        ok = s_parse_u32 (optarg, &self->procs, 1, 64); break;
            case O_CONN_RATE:
                ok = s_parse_double (optarg, &self->conn_rate, 1, 1e7);
                conn_rate_set = true;
                break;
            case O_MAX_PENDING:  ok = s_parse_u32 (optarg, &self->max_pending, 1, 1000000); break;
            case O_CONNECT_TIMEOUT: ok = s_parse_double (optarg, &self->connect_timeout, 0.1, 3600); break;
            case O_READY:
                ready_set = true;
                if (streq_ (optarg, "headers")) self->ready = HR_BENCH_READY_HEADERS;
                else if (streq_ (optarg, "id")) self->ready = HR_BENCH_READY_ID;
                else ok = false;
                break;
            case O_SETTLE:       ok = s_parse_double (optarg, &self->settle, 0, 3600); break;
            case O_TOKEN:
                if (self->tokens) {
                    fprintf (stderr, "hr-bench: one --token file only\n");
                    return -1;
                }
                if (!s_read_tokens (self, optarg))
                    return -1;
                break;
            case O_TOKEN_IN:
                if (streq_ (optarg, "header"))     self->token_in = HR_BENCH_TOKEN_HEADER;
                else if (streq_ (optarg, "query")) self->token_in = HR_BENCH_TOKEN_QUERY;
                else ok = false;
                break;
            case O_PUB:
                pub_set = true;
                if (streq_ (optarg, "zmq"))       self->pub = HR_BENCH_PUB_ZMQ;
                else if (streq_ (optarg, "http")) self->pub = HR_BENCH_PUB_HTTP;
                else ok = false;
                break;
            case O_PUB_URL:      ok = s_copy (self->pub_url, sizeof self->pub_url, optarg); pub_url_set = true; break;
            case O_BODY:
                body_set = true;
                if (streq_ (optarg, "raw"))         self->body = HR_BENCH_BODY_RAW;
                else if (streq_ (optarg, "herald")) self->body = HR_BENCH_BODY_HERALD;
                else ok = false;
                break;
            case O_ZMQ:          ok = s_copy (self->zmq_endpoint, sizeof self->zmq_endpoint, optarg); zmq_set = true; break;
            case O_CURVE_SERVER_KEY: ok = s_copy (self->curve_server_key, sizeof self->curve_server_key, optarg); break;
            case O_CURVE_SECRET: ok = s_copy (self->curve_secret, sizeof self->curve_secret, optarg); break;
            case O_PUB_CONNS:    ok = s_parse_u32 (optarg, &self->pub_conns, 1, 1000); break;
            case O_PUB_WINDOW:   ok = s_parse_u32 (optarg, &self->pub_window, 1, 100000); break;
            case 'm': {
                uint32_t events = 0;
                ok = s_parse_u32 (optarg, &events, 1, 20000000);
                self->events = events;
                events_set = true;
                break;
            }
            case 'r':            ok = s_parse_double (optarg, &self->rate, 0, 1e8); break;
            case 'd':            ok = s_parse_double (optarg, &self->duration, 0.01, 86400); break;
            case 's':            ok = s_parse_u32 (optarg, &self->size, 1, 65536); break;
            case O_DRAIN:        ok = s_parse_double (optarg, &self->drain, 0, 3600); break;
            case O_TIMEOUT:      ok = s_parse_double (optarg, &self->timeout, 1, 86400); break;
            case O_SERVER_PID: {
                uint32_t pid;
                ok = self->server_pid_count < HR_BENCH_MAX_PIDS
                  && s_parse_u32 (optarg, &pid, 1, 0x7fffffff);
                if (ok)
                    self->server_pids [self->server_pid_count++] = (int) pid;
                break;
            }
            case O_JSON:         self->json = true; break;
            case 'q':            self->quiet = true; break;
            case O_SELFTEST:     self->selftest = true; break;
            case 'h':
                hr_bench_opts_usage (stdout);
                return 1;
            default:
                hr_bench_opts_usage (stderr);
                return -1;
        }
    }
    if (!ok) {
        const char *name = "?";
        for (const struct option *option = s_options; option->name; option++)
            if (option->val == opt)
                name = option->name;
        fprintf (stderr, "hr-bench: bad value for --%s: '%s' (see --help)\n",
                 name, optarg? optarg: "");
        return -1;
    }
    if (optind < argc) {
        fprintf (stderr, "hr-bench: unexpected argument '%s' (see --help)\n", argv [optind]);
        return -1;
    }
    s_apply_target (self, host, port, url_set, pub_set, pub_url_set, body_set,
                    ready_set, zmq_set);
    //  Connect mode measures how fast the server sets connections up: only
    //  --max-pending bounds it.
    if (self->mode == HR_BENCH_MODE_CONNECT && !conn_rate_set)
        self->conn_rate = 1e7;

    if (!events_set) {
        //  Closed loop has no rate to multiply: up to a million, or until
        //  --duration ends. Per-event arrays cost 12 bytes an event.
        double events = self->rate > 0? self->rate * self->duration: 1000000;
        self->events = events < 1? 1: events > 20000000? 20000000: (uint64_t) events;
    }
    //  Loopback gives about 28,000 source ports per (source, destination)
    //  address pair; more connections need more source addresses.
    if (self->src_addrs == 0)
        self->src_addrs = self->subscribers / 25000 + 1;
    //  A connect run holds at most --max-pending connections open at once.
    uint32_t per_proc = s_conns_per_proc ();
    uint32_t held = self->mode == HR_BENCH_MODE_CONNECT && self->max_pending < self->subscribers
                  ? self->max_pending: self->subscribers;
    if (self->procs == 0)
        self->procs = held / per_proc + 1;
    if (held / self->procs + 1 > per_proc) {
        fprintf (stderr, "hr-bench: %u subscribers over %u processes exceed the"
                 " open-file limit (%u per process); raise --procs\n",
                 self->subscribers, self->procs, per_proc);
        return -1;
    }
    if (self->procs > self->subscribers && self->subscribers > 0)
        self->procs = self->subscribers;
    if (self->channels > self->subscribers && self->subscribers > 0
    &&  self->mode == HR_BENCH_MODE_FANOUT)
        fprintf (stderr, "hr-bench: note: %u channels but %u subscribers;"
                 " some channels have no subscriber\n", self->channels, self->subscribers);
    return 0;
}

void
hr_bench_opts_channel (const hr_bench_opts_t *self, uint32_t index, char *buf, size_t size)
{
    if (self->channels == 1)
        snprintf (buf, size, "%s", self->channel);
    else
        snprintf (buf, size, "%s-%u", self->channel, index);
}

void
hr_bench_opts_free (hr_bench_opts_t *self)
{
    free (self->tokens);
    free (self->token_text);
    self->tokens = NULL;
    self->token_text = NULL;
    self->token_count = 0;
}
