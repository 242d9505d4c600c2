/*  cli: shared configuration, option tables and start-up for `herald`.  */
#include "cli.h"
#include "hr_config.h"
#include "hr_epoch.h"
#include "hr_log.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define B(field) offsetof (cli_config_t, broker.field)
#define G(field) offsetof (cli_config_t, gateway.field)
#define C(field) offsetof (cli_config_t, field)
#define DAY (24LL * 3600 * 1000)

//  Option rows, defined once and listed by each command that takes them.
#define O_LOG_LEVEL { "log-level", HR_OPT_STRING, C (log_level), "LEVEL", "error, warn, info or debug", 0, 0 }
#define O_LOG_FORMAT { "log-format", HR_OPT_STRING, C (log_format), "FORMAT", "plain or json (one JSON object per line)", 0, 0 }
#define O_PULL { "pull", HR_OPT_STRING, B (pull), "ENDPOINTS", "where backends PUSH events (comma-separated ZeroMQ endpoints to bind)", 0, 0 }
#define O_ROUTER { "router", HR_OPT_STRING, B (router), "ENDPOINTS", "acknowledged publishing and history queries (DEALER/REQ clients)", 0, 0 }
#define O_XPUB { "xpub", HR_OPT_STRING, B (xpub), "ENDPOINTS", "the event stream gateways and `herald sub` subscribe to", 0, 0 }
#define O_MAX_EVENT { "max-event", HR_OPT_BYTES, B (max_event), "BYTES", "largest publish frame accepted", 64, 64LL << 20 }
//  The gateway's copy, so an oversize HTTP publish is refused at once (in
//  `herald run` it is set from the broker's)
#define O_GW_MAX_EVENT { "max-event", HR_OPT_BYTES, G (max_event), "BYTES", "largest publish frame the broker accepts (as its --max-event)", 64, 64LL << 20 }
#define O_HISTORY_SIZE { "history-size", HR_OPT_INT, B (history_size), "N", "events kept per channel for resume", 0, 100000000 }
#define O_HISTORY_AGE { "history-age", HR_OPT_MILLIS, B (history_age), "DURATION", "events older than this leave history; idle channels are dropped", 1000, 30 * DAY }
#define O_HISTORY_MEMORY { "history-memory", HR_OPT_BYTES, B (history_memory), "BYTES", "history of all channels, oldest evicted first", 0, 1LL << 40 }
#define O_DATA_DIR { "data-dir", HR_OPT_STRING, B (data_dir), "DIR", "keep history on disk here (LMDB), so a restart keeps every channel's epoch, seq and history; none: in memory", 0, 0 }
#define O_HISTORY_DISK { "history-disk", HR_OPT_BYTES, B (history_disk), "BYTES", "with --data-dir: history of all channels on disk, oldest evicted first", 1 << 20, 1LL << 40 }
#define O_FSYNC { "fsync", HR_OPT_STRING, B (fsync), "always|batch|off", "with --data-dir: always: acknowledged events are on disk; batch: a power loss may take the last --fsync-interval of them (every channel then restarts in a new epoch); off: the OS writes when it likes", 0, 0 }
#define O_FSYNC_INTERVAL { "fsync-interval", HR_OPT_MILLIS, B (fsync_interval), "DURATION", "with --fsync batch: how often history is flushed to disk", 1, 60 * 1000 }
#define O_DURABLE O_DATA_DIR, O_HISTORY_DISK, O_FSYNC, O_FSYNC_INTERVAL
#define O_DEDUPE_WINDOW { "dedupe-window", HR_OPT_MILLIS, B (dedupe_window), "DURATION", "how long a publish id is remembered", 0, 30 * DAY }
#define O_DEDUPE_MAX { "dedupe-max", HR_OPT_INT, B (dedupe_max), "N", "most publish ids remembered", 0, 1000000000 }
#define O_DEDUPE_MEMORY { "dedupe-memory", HR_OPT_BYTES, B (dedupe_memory), "BYTES", "memory for publish ids, oldest forgotten first", 0, 1LL << 40 }
#define O_MAX_CHANNELS { "max-channels", HR_OPT_INT, B (max_channels), "N", "channels the broker keeps; past it a new channel replaces the least recent one without history, or is refused", 1, 100000000 }
#define O_REPLY_MEMORY { "reply-memory", HR_OPT_BYTES, B (reply_memory), "BYTES", "reply bytes queued per ROUTER client; history replies are cut to fit", 64 << 10, 1LL << 40 }
#define O_XPUB_HWM { "xpub-hwm", HR_OPT_INT, B (xpub_hwm), "N", "messages queued per subscriber before the broker drops (gateways repair gaps)", 1, 100000000 }
#define O_HTTP { "http", HR_OPT_STRING, G (http), "HOST:PORT", "HTTP address (port 0 picks a free port)", 0, 0 }
#define O_WORKERS { "workers", HR_OPT_INT, G (workers), "N", "gateway worker threads (0 = one per core)", 0, 256 }
#define O_MAX_CONNECTIONS { "max-connections", HR_OPT_INT, G (max_connections), "N", "HTTP connections per worker", 1, 1000000 }
#define O_CONN_MEMORY { "conn-memory", HR_OPT_BYTES, G (conn_memory), "BYTES", "memory per HTTP connection for headers and write buffer", 2048, 1 << 20 }
#define O_CONN_TIMEOUT { "conn-timeout", HR_OPT_MILLIS, G (conn_timeout), "DURATION", "close a connection that makes no progress this long (idle SSE streams are exempt)", 1000, DAY }
#define O_HEARTBEAT { "heartbeat", HR_OPT_MILLIS, G (heartbeat), "DURATION", "SSE heartbeat comment interval", 100, DAY }
#define O_SSE_RETRY { "sse-retry", HR_OPT_MILLIS, G (sse_retry), "DURATION", "reconnect delay sent to EventSource clients", 0, DAY }
#define O_SLOW { "slow-consumer-bytes", HR_OPT_BYTES, G (slow_consumer_bytes), "BYTES", "queued bytes after which a connection is closed (it resumes on reconnect)", 1024, 1LL << 32 }
#define O_MAX_BODY { "max-body", HR_OPT_BYTES, G (max_body), "BYTES", "largest HTTP request body", 64, 64LL << 20 }
#define O_BROKER_TIMEOUT { "broker-timeout", HR_OPT_MILLIS, G (broker_timeout), "DURATION", "how long to wait for a broker reply before 503", 10, 600000 }
#define O_SUB_HWM { "sub-hwm", HR_OPT_INT, G (sub_hwm), "N", "messages queued from the broker before ZeroMQ drops (gaps are repaired)", 1, 100000000 }
#define O_RECENT { "recent-events", HR_OPT_INT, G (recent_events), "N", "events kept per channel per worker for resume without the broker", 0, 100000 }
#define O_RECENT_MEMORY { "recent-memory", HR_OPT_BYTES, G (recent_memory), "BYTES", "memory per worker for those events, all channels (over it, channels keep fewer)", 0, 1LL << 40 }
#define O_HELD_MEMORY { "held-memory", HR_OPT_BYTES, G (held_memory), "BYTES", "events one channel holds while it syncs or repairs a gap (over it, its clients get a reset)", 4096, 1LL << 40 }
#define O_CATCHUP_MEMORY { "catchup-memory", HR_OPT_BYTES, G (catchup_memory), "BYTES", "memory per worker held for catch-up (resume replays, history responses); over it new catch-ups wait", 64 * 1024, 1LL << 40 }
#define O_WRITE_INTERVAL { "write-interval", HR_OPT_MILLIS_AUTO, G (write_interval), "DURATION|auto", "auto: each event written at once while a worker keeps up, several per write to a stream whose events come faster than its connections can be written; a DURATION: the least time between two writes to a stream (0: every event at once)", 0, 1000 }
#define O_CORS { "cors-origins", HR_OPT_STRING, G (cors_origins), "ORIGINS", "origins allowed cross-origin access: * or a comma-separated list", 0, 0 }
#define O_WS_ORIGINS { "ws-origins", HR_OPT_STRING, G (ws_origins), "ORIGINS", "browser origins allowed to open a WebSocket besides the gateway's own: * or a comma-separated list", 0, 0 }
#define O_WS_HEARTBEAT { "ws-heartbeat", HR_OPT_MILLIS, G (ws_heartbeat), "DURATION", "WebSocket ping after this long without outbound traffic; no answer within it plus 10 s closes (4002)", 100, DAY }
#define O_WS_MAX_MESSAGE { "ws-max-message", HR_OPT_BYTES, G (ws_max_message), "BYTES", "largest inbound WebSocket message, reassembled (over it: close 1009)", 256, 16LL << 20 }
#define O_WS_MAX_RATE { "ws-max-rate", HR_OPT_INT, G (ws_max_rate), "N", "inbound WebSocket messages (and control frames) per second per connection (over it: close 4004)", 1, 1000000 }
#define O_WS_MAX_SUBS { "ws-max-subscriptions", HR_OPT_INT, G (ws_max_subscriptions), "N", "channels one WebSocket connection may subscribe to (over it: err limit)", 1, 100000 }
#define O_DEMO { "demo", HR_OPT_BOOL, G (demo), NULL, "serve the demo page at /", 0, 0 }
#define O_TOKEN_KEYS { "token-keys", HR_OPT_STRING, G (token_keys), "PATH", "JWKS file of the keys that verify tokens (reloaded on SIGHUP); none: no token checks", 0, 0 }
#define O_TOKEN_AUDIENCE { "token-audience", HR_OPT_STRING, G (token_audience), "AUD", "the aud every token must carry", 0, 0 }
#define O_TOKEN_ISSUER { "token-issuer", HR_OPT_STRING, G (token_issuer), "ISS", "the iss every token must carry (empty: any)", 0, 0 }
#define O_TOKEN_LEEWAY { "token-leeway", HR_OPT_MILLIS, G (token_leeway), "DURATION", "clock skew allowed on exp, nbf and iat", 0, 3600 * 1000 }
#define O_TOKEN_MAX_TTL { "token-max-ttl", HR_OPT_MILLIS, G (token_max_ttl), "DURATION", "longest token lifetime accepted (exp - iat)", 1000, 365 * DAY }
#define O_TOKEN_GRACE { "token-grace", HR_OPT_MILLIS, G (token_grace), "DURATION", "how long a WebSocket may stay open past its token's exp waiting for a refresh (then close 4003)", 0, 3600 * 1000 }
#define O_TOKEN_COOKIE { "token-cookie", HR_OPT_STRING, G (token_cookie), "NAME", "cookie a token may come in", 0, 0 }
#define O_PUBLIC_CHANNELS { "public-channels", HR_OPT_STRING, G (public_channels), "GRANTS", "channels anyone may read without a token: comma-separated grants (news, public:*)", 0, 0 }
#define O_WS_AUTH_TIMEOUT { "ws-auth-timeout", HR_OPT_MILLIS, G (ws_auth_timeout), "DURATION", "how long a WebSocket without a token may wait before its auth message (then close 4005)", 100, 600000 }
#define O_MAX_CONN_PER_IP { "max-connections-per-ip", HR_OPT_INT, G (max_connections_per_ip), "N", "open HTTP connections per client address (over it: 429); 0: no limit", 0, 100000000 }
#define O_PUBLISH_RATE { "publish-rate", HR_OPT_INT, G (publish_rate), "N", "publishes per second per token (per address without one) over HTTP and WebSocket (over it: 429); 0: no limit", 0, 100000000 }
#define O_GW_CURVE_SERVER_KEY { "curve-server-key", HR_OPT_STRING, G (curve_server_key), "FILE", "the broker's public CURVE certificate: connect to it with CURVE", 0, 0 }
#define O_GW_CURVE_SECRET { "curve-secret", HR_OPT_STRING, G (curve_secret), "FILE", "this gateway's CURVE certificate (secret file; its public key is in the broker's --curve-clients)", 0, 0 }
#define O_GW_INSECURE { "insecure", HR_OPT_BOOL, G (insecure), NULL, "allow listening on a non-loopback address without --token-keys", 0, 0 }
#define O_CURVE_SECRET { "curve-secret", HR_OPT_STRING, B (curve_secret), "FILE", "the broker's CURVE certificate (secret file): its ZeroMQ sockets accept only CURVE clients", 0, 0 }
#define O_CURVE_CLIENTS { "curve-clients", HR_OPT_STRING, B (curve_clients), "DIR|FILE", "public certificates of the clients allowed (a directory of them, or one file)", 0, 0 }
#define O_REVOKE_MAX { "revoke-max", HR_OPT_INT, B (revoke_max), "N", "revocations kept (each until it expires); over it the request is refused", 1, 10000000 }
#define O_INSECURE { "insecure", HR_OPT_BOOL, B (insecure), NULL, "allow non-loopback ZeroMQ binds without CURVE, and a non-loopback --http", 0, 0 }
#define O_CLI_CURVE_SERVER_KEY { "curve-server-key", HR_OPT_STRING, C (curve_server_key), "FILE", "the broker's public CURVE certificate: connect with CURVE", 0, 0 }
#define O_CLI_TIMEOUT { "timeout", HR_OPT_MILLIS, C (timeout), "DURATION", "give up when the broker does not answer", 10, 600000 }
#define O_CLI_CURVE_SECRET { "curve-secret", HR_OPT_STRING, C (curve_secret), "FILE", "this client's CURVE certificate (secret file)", 0, 0 }
#define O_CLUSTER { "cluster", HR_OPT_STRING, B (cluster), "FILE", "the cluster file (docs/cluster.md): this broker's endpoints and its peers'", 0, 0 }
#define O_ID { "id", HR_OPT_STRING, B (id), "ID", "this broker's id in the cluster file", 0, 0 }
#define O_STATE_DIR { "state-dir", HR_OPT_STRING, B (state_dir), "DIR", "where the broker keeps its view state (herald-ID.view), read at start", 0, 0 }
#define O_BROKER_HTTP { "http", HR_OPT_STRING, B (http), "HOST:PORT", "serve /healthz, /readyz, /metrics and /v1/cluster here (default: the cluster file's http, else none)", 0, 0 }
#define O_FAILOVER_TIMEOUT { "failover-timeout", HR_OPT_MILLIS, B (failover_timeout), "DURATION", "a broker silent this long leaves the view and its channels move", 500, 600000 }
#define O_LEASE { "lease", HR_OPT_MILLIS, B (lease), "DURATION", "an owner sequences only while a majority acknowledged it within this (under --failover-timeout)", 200, 600000 }
#define O_HOLD_DOWN { "hold-down", HR_OPT_MILLIS, B (hold_down), "DURATION", "a returning broker is a member owning nothing this long before its channels are handed back to it", 0, DAY }
#define O_HANDOFF_TIMEOUT { "handoff-timeout", HR_OPT_MILLIS, B (handoff_timeout), "DURATION", "how long a new owner waits for a channel handed over to it, holding its publishes, before it takes the channel over with a new epoch", 100, 600000 }
#define O_REPLICATION { "replication", HR_OPT_STRING, B (replication), "sync|async", "sync: an event is published and acknowledged only once its channel's backup holds it, so a crashed owner's backup takes over with no reset; async: at once (a failover costs a reset)", 0, 0 }
#define O_MIN_REPLICAS { "min-replicas", HR_OPT_INT, B (min_replicas), "1|2", "with sync: 1 publishes a channel that has no in-sync backup (a crash then costs a reset); 2 answers unavailable until one is in sync", 1, 2 }
#define O_SYNC_MEMORY { "sync-memory", HR_OPT_BYTES, B (sync_memory), "BYTES", "events waiting for their backup, all channels (over it, publishes are answered overloaded)", 1 << 20, 1LL << 40 }
#define O_BIND_HOST { "bind-host", HR_OPT_STRING, B (bind_host), "HOST", "bind this broker's tcp:// ports from the cluster file on HOST instead of its entry's host (0.0.0.0 in a container whose file names brokers by DNS)", 0, 0 }
#define O_BROKER_CLUSTER O_CLUSTER, O_ID, O_STATE_DIR, O_BIND_HOST, O_BROKER_HTTP, O_FAILOVER_TIMEOUT, \
    O_LEASE, O_HOLD_DOWN, O_HANDOFF_TIMEOUT, O_REPLICATION, O_MIN_REPLICAS, O_SYNC_MEMORY
#define O_GW_CLUSTER { "cluster", HR_OPT_STRING, G (cluster), "FILE", "the cluster file: follow every broker in it (instead of --broker)", 0, 0 }
#define O_CLI_CLUSTER { "cluster", HR_OPT_STRING, C (cluster), "FILE", "the cluster file: use its brokers instead of the endpoint options", 0, 0 }
#define O_GW_SECURITY O_TOKEN_KEYS, O_TOKEN_AUDIENCE, O_TOKEN_ISSUER, O_TOKEN_LEEWAY, \
    O_TOKEN_MAX_TTL, O_TOKEN_GRACE, O_TOKEN_COOKIE, O_PUBLIC_CHANNELS, O_WS_AUTH_TIMEOUT, \
    O_MAX_CONN_PER_IP, O_PUBLISH_RATE

const hr_option_t cli_run_options [] = {
    O_HTTP, O_PULL, O_ROUTER, O_XPUB, O_WORKERS, O_MAX_CONNECTIONS, O_CONN_MEMORY,
    O_CONN_TIMEOUT, O_HEARTBEAT, O_SSE_RETRY, O_SLOW, O_MAX_BODY, O_MAX_EVENT,
    O_HISTORY_SIZE, O_HISTORY_AGE, O_HISTORY_MEMORY, O_DURABLE, O_DEDUPE_WINDOW, O_DEDUPE_MAX,
    O_DEDUPE_MEMORY, O_MAX_CHANNELS, O_REPLY_MEMORY, O_XPUB_HWM, O_SUB_HWM, O_BROKER_TIMEOUT, O_RECENT, O_RECENT_MEMORY, O_HELD_MEMORY, O_CATCHUP_MEMORY, O_WRITE_INTERVAL, O_CORS, O_WS_ORIGINS, O_WS_HEARTBEAT, O_WS_MAX_MESSAGE, O_WS_MAX_RATE, O_WS_MAX_SUBS, O_DEMO,
    O_GW_SECURITY, O_CURVE_SECRET, O_CURVE_CLIENTS, O_REVOKE_MAX, O_GW_INSECURE,
    O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

const hr_option_t cli_broker_options [] = {
    O_PULL, O_ROUTER, O_XPUB, O_MAX_EVENT, O_HISTORY_SIZE, O_HISTORY_AGE,
    O_HISTORY_MEMORY, O_DURABLE, O_DEDUPE_WINDOW, O_DEDUPE_MAX, O_DEDUPE_MEMORY, O_MAX_CHANNELS,
    O_REPLY_MEMORY, O_XPUB_HWM, O_CURVE_SECRET, O_CURVE_CLIENTS, O_REVOKE_MAX, O_INSECURE,
    O_BROKER_CLUSTER, O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

const hr_option_t cli_gateway_options [] = {
    O_HTTP,
    { "broker", HR_OPT_STRING, C (broker_endpoints), "XPUB,ROUTER",
      "the broker's XPUB and ROUTER endpoints", 0, 0 },
    O_GW_CLUSTER, O_WORKERS, O_MAX_CONNECTIONS, O_CONN_MEMORY, O_CONN_TIMEOUT, O_HEARTBEAT,
    O_SSE_RETRY, O_SLOW, O_MAX_BODY, O_GW_MAX_EVENT, O_SUB_HWM, O_BROKER_TIMEOUT, O_RECENT, O_RECENT_MEMORY, O_HELD_MEMORY, O_CATCHUP_MEMORY, O_WRITE_INTERVAL, O_CORS,
    O_WS_ORIGINS, O_WS_HEARTBEAT, O_WS_MAX_MESSAGE, O_WS_MAX_RATE, O_WS_MAX_SUBS, O_DEMO,
    O_GW_SECURITY, O_GW_CURVE_SERVER_KEY, O_GW_CURVE_SECRET, O_GW_INSECURE,
    O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

const hr_option_t cli_pub_options [] = {
    { "type", HR_OPT_STRING, C (type), "TYPE", "the event's type", 0, 0 },
    { "id", HR_OPT_STRING, C (id), "ID", "idempotency key (default: a random one, printed when the ack times out): a repeat within the dedupe window publishes nothing", 0, 0 },
    { "ack", HR_OPT_BOOL, C (ack), NULL, "publish through ROUTER and print the broker's {seq, epoch}", 0, 0 },
    O_PULL, O_ROUTER, O_CLI_CLUSTER, O_CLI_TIMEOUT,
    O_CLI_CURVE_SERVER_KEY, O_CLI_CURVE_SECRET,
    O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

const hr_option_t cli_sub_options [] = {
    O_XPUB, O_CLI_CLUSTER,
    { "markers", HR_OPT_BOOL, C (markers), NULL, "also print head markers", 0, 0 },
    O_CLI_CURVE_SERVER_KEY, O_CLI_CURVE_SECRET,
    O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

const hr_option_t cli_cluster_options [] = {
    O_CLI_CLUSTER,
    { "json", HR_OPT_BOOL, C (json), NULL, "print the JSON of GET /v1/cluster as the broker sent it", 0, 0 },
    { "timeout", HR_OPT_MILLIS, C (timeout), "DURATION", "how long to wait for each broker's answer", 10, 600000 },
    O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

//  herald keygen and herald token
#define T(field) offsetof (cli_config_t, token.field)
const hr_option_t cli_keygen_options [] = {
    { "out", HR_OPT_STRING, T (out), "NAME", "where to write: NAME.private.jwk and NAME.jwks, or NAME and NAME_secret with --curve (default: herald, herald-curve)", 0, 0 },
    { "kid", HR_OPT_STRING, T (kid), "KID", "the key's id in tokens and the JWKS (default: a short random one)", 0, 0 },
    { "alg", HR_OPT_STRING, T (alg), "ALG", "EdDSA (a key pair; default) or HS256 (one shared secret)", 0, 0 },
    { "curve", HR_OPT_BOOL, T (curve), NULL, "make a CURVE certificate pair for the ZeroMQ sockets instead", 0, 0 },
    HR_OPTIONS_END
};

const hr_option_t cli_token_options [] = {
    { "key", HR_OPT_STRING, T (key), "FILE", "a private JWK (herald keygen's NAME.private.jwk) or a JWKS with a key that can sign", 0, 0 },
    { "kid", HR_OPT_STRING, T (kid), "KID", "the key to sign with when FILE holds several", 0, 0 },
    { "sub", HR_OPT_STRING, T (sub), "SUBJECT", "the token's subject (sub claim)", 0, 0 },
    { "subscribe", HR_OPT_STRING, T (subscribe), "GRANTS", "channels it may read: comma-separated names, *, prefixes like seller:*; {sub} is the subject", 0, 0 },
    { "publish", HR_OPT_STRING, T (publish), "GRANTS", "channels it may publish to, in the same form", 0, 0 },
    { "ttl", HR_OPT_MILLIS, T (ttl), "DURATION", "lifetime: exp = now + this", 1000, 365 * DAY },
    { "admin", HR_OPT_BOOL, T (admin), NULL, "may revoke tokens (POST /v1/admin/revoke)", 0, 0 },
    { "aud", HR_OPT_STRING, T (aud), "AUD", "audience: the gateway's --token-audience", 0, 0 },
    { "iss", HR_OPT_STRING, T (iss), "ISS", "issuer (iss claim; none when empty)", 0, 0 },
    { "jti", HR_OPT_STRING, T (jti), "JTI", "token id for revocation (default: a random one)", 0, 0 },
    HR_OPTIONS_END
};

const hr_option_t cli_revoke_options [] = {
    { "sub", HR_OPT_STRING, C (revoke_sub), "SUB", "revoke every token of this subject", 0, 0 },
    { "jti", HR_OPT_STRING, C (revoke_jti), "JTI", "revoke the token with this id", 0, 0 },
    { "until", HR_OPT_STRING, C (revoke_until), "TIME", "until when: Unix seconds, or a duration from now (30m, 1h); as long as the longest token lives", 0, 0 },
    O_ROUTER, O_CLI_TIMEOUT, O_CLI_CURVE_SERVER_KEY, O_CLI_CURVE_SECRET,
    O_LOG_LEVEL, O_LOG_FORMAT, HR_OPTIONS_END
};

void
cli_config_defaults (cli_config_t *config)
{
    *config = (cli_config_t) {
        .broker = HRB_CONFIG_DEFAULTS,
        .gateway = HRG_CONFIG_DEFAULTS,
        .broker_endpoints = "tcp://127.0.0.1:5557,tcp://127.0.0.1:5556",
        .log_level = "info",
        .log_format = "plain",
        .type = "",
        .id = "",
        .timeout = 5000,
        .revoke_sub = "",
        .revoke_jti = "",
        .revoke_until = "24h",
        .curve_server_key = "",
        .curve_secret = "",
        .cluster = "",
        .token = { .out = "", .kid = "", .alg = "", .key = "", .sub = "", .subscribe = "",
                   .publish = "", .ttl = 3600 * 1000, .aud = "herald", .iss = "", .jti = "" },
    };
}

int
cli_setup (const char *usage, const char *summary, const hr_option_t *options,
           cli_config_t *config, int argc, char **argv,
           const char **positional, int max_positional, int *positional_count)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_config_rc_t rc = hr_config_parse (options, config, argc, argv, positional,
                                         max_positional, positional_count, &err);
    if (rc == HR_CONFIG_HELP) {
        hr_config_help (stdout, usage, summary, options, config);
        return 1;
    }
    int level = hr_log_level_parse (config->log_level);
    bool json = strcmp (config->log_format, "json") == 0;
    if (rc == HR_CONFIG_OK && level < 0)
        hr_buf_printf (&err, "--log-level must be error, warn, info or debug");
    else
    if (rc == HR_CONFIG_OK && !json && strcmp (config->log_format, "plain") != 0)
        hr_buf_printf (&err, "--log-format must be plain or json");
    if (rc == HR_CONFIG_ERROR || err.size) {
        fprintf (stderr, "herald: %s\nusage: %s (--help for options)\n", err.data, usage);
        hr_buf_free (&err);
        return -1;
    }
    hr_buf_free (&err);
    hr_log_configure ((hr_log_level_t) level, json);
    if (hr_epoch_init () != 0) {
        fprintf (stderr, "herald: cannot initialise libsodium\n");
        return -1;
    }
    return 0;
}

void
cli_block_signals (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &set, NULL);
    signal (SIGPIPE, SIG_IGN);
}

int
cli_wait_for_signal (void (*on_hup) (void *arg), void *arg)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGHUP);
    while (true) {
        int signo = 0;
        if (sigwait (&set, &signo) != 0)
            continue;
        if (signo != SIGHUP)
            return signo;
        if (on_hup)
            on_hup (arg);
        else
            hr_log_info ("SIGHUP: nothing to reload");
    }
}

void
cli_reload_gateway (void *gateway)
{
    hr_buf_t err = HR_BUF_INIT;
    if (hrg_gateway_reload (gateway, &err) == 0)
        hr_log_info ("SIGHUP: token keys reloaded");
    else
        hr_log_error ("SIGHUP: token keys not reloaded, the old ones stay",
                      "reason", err.data? err.data: "unknown");
    hr_buf_free (&err);
}

void
cli_reload_broker (void *broker)
{
    hr_buf_t err = HR_BUF_INIT;
    int count = hrb_server_reload (broker, &err);
    char allowed [32];
    snprintf (allowed, sizeof allowed, "%d", count);
    if (count > 0)
        hr_log_info ("SIGHUP: CURVE clients reloaded", "allowed", allowed);
    else
    if (count == 0)
        hr_log_info ("SIGHUP: no CURVE clients to reload (no --curve-clients)");
    else
        hr_log_error ("SIGHUP: CURVE clients not reloaded, the old ones stay",
                      "reason", err.data? err.data: "unknown");
    hr_buf_free (&err);
}

bool
cli_http_loopback (const hrg_config_t *gateway)
{
    char host [256];
    int port;
    return hr_config_host_port (gateway->http, host, sizeof host, &port) == 0
        && hr_host_loopback (host);
}

bool
cli_http_exposure_ok (const hrg_config_t *gateway)
{
    char host [256];
    int port;
    if (*gateway->token_keys || gateway->insecure
    ||  hr_config_host_port (gateway->http, host, sizeof host, &port) != 0
    ||  hr_host_loopback (host))
        return true;
    fprintf (stderr,
             "herald: --http %s is not a loopback address and no --token-keys is given:\n"
             "anyone who can reach it could subscribe to and publish on every channel.\n"
             "Give --token-keys FILE (see docs/security.md), or --insecure to run open.\n",
             gateway->http);
    return false;
}

void
cli_warn_open (const hrg_config_t *gateway)
{
    if (!*gateway->token_keys)
        hr_log_warn ("security is off: no --token-keys, anyone who can reach this gateway "
                     "can publish and subscribe",
                     "exposure", cli_http_loopback (gateway)? "loopback only"
                                                            : "NOT LOOPBACK (--insecure)");
}

hr_cluster_t *
cli_cluster_load (const char *path)
{
    hr_buf_t err = HR_BUF_INIT;
    hr_cluster_t *cluster = hr_cluster_load (path, &err);
    if (!cluster)
        fprintf (stderr, "herald: %s\n", err.data? err.data: path);
    hr_buf_free (&err);
    return cluster;
}

bool
cli_option_given (const cli_config_t *config, size_t offset)
{
    //  hr_config points a string it sets into argv or environ, never at
    //  the default literal, so the pointer tells a given value apart even
    //  when it equals the default
    cli_config_t defaults;
    cli_config_defaults (&defaults);
    const char *value, *fallback;
    memcpy (&value, (const char *) config + offset, sizeof value);
    memcpy (&fallback, (const char *) &defaults + offset, sizeof fallback);
    return value != fallback;
}

bool
cli_cluster_alone (const cli_config_t *config, const size_t *offsets, size_t count,
                   const char *names)
{
    if (!*config->cluster)
        return true;
    for (size_t i = 0; i < count; i++)
        if (cli_option_given (config, offsets [i])) {
            fprintf (stderr, "herald: --cluster and %s together: the cluster file gives the "
                     "brokers' endpoints\n", names);
            return false;
        }
    //  Brokers refuse CURVE with --cluster for now (docs/cluster.md)
    if (*config->curve_server_key || *config->curve_secret) {
        fprintf (stderr, "herald: --cluster with CURVE: CURVE between brokers is not built "
                 "yet, so a cluster runs without it\n");
        return false;
    }
    return true;
}

char *
cli_endpoints (const cli_config_t *config, hr_cluster_kind_t kind, const char *list)
{
    if (!*config->cluster) {
        size_t len = strcspn (list, ",");
        char *first = hr_memdup (list, len + 1);
        first [len] = 0;
        return first;
    }
    hr_cluster_t *cluster = cli_cluster_load (config->cluster);
    if (!cluster)
        return NULL;
    char *endpoints = hr_cluster_endpoints (cluster, kind, hr_cluster_all (cluster));
    hr_cluster_destroy (&cluster);
    return endpoints;
}

int
cli_connect_all (void *sock, const char *list)
{
    while (*list) {
        size_t len = strcspn (list, ",");
        char endpoint [256];
        snprintf (endpoint, sizeof endpoint, "%.*s", (int) len, list);
        if (zmq_connect (sock, endpoint) != 0) {
            fprintf (stderr, "herald: cannot connect to %s: %s\n", endpoint,
                     zmq_strerror (zmq_errno ()));
            return -1;
        }
        list += len + (list [len] == ',');
    }
    return 0;
}
