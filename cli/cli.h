/*  cli: what the `herald` subcommands share: one configuration struct, the
    option tables that fill it, start-up (flags, logging, signals) and the
    wait for SIGINT/SIGTERM.  */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include "hr_cluster.h"
#include "hr_config.h"
#include "hrb_server.h"
#include "hrg_gateway.h"

//  herald keygen and herald token
typedef struct {
    const char *out;                //  keygen: file name stem
    const char *kid;
    const char *alg;                //  keygen: EdDSA or HS256
    bool curve;                     //  keygen: a CURVE certificate pair
    const char *key;                //  token: private JWK or JWKS file
    const char *sub;
    const char *subscribe;          //  comma-separated grants
    const char *publish;
    int64_t ttl;                    //  ms
    bool admin;
    const char *aud;
    const char *iss;
    const char *jti;
} cli_token_t;

typedef struct {
    hrb_config_t broker;
    hrg_config_t gateway;
    const char *broker_endpoints;   //  gateway: "XPUB,ROUTER"
    const char *log_level;
    const char *log_format;
    //  pub and sub
    const char *type;
    const char *id;
    bool ack;
    bool markers;
    int64_t timeout;
    //  revoke: one of sub and jti; until: Unix seconds or a duration from now
    const char *revoke_sub;
    const char *revoke_jti;
    const char *revoke_until;
    //  CURVE as a client: pub, sub, revoke (the gateway's are in gateway)
    const char *curve_server_key;
    const char *curve_secret;
    //  pub, sub and cluster: the cluster file (pub: any live broker; sub: all)
    const char *cluster;
    bool json;                      //  cluster: print the brokers' JSON as it is
    cli_token_t token;
} cli_config_t;

//  Defaults for every command.
void cli_config_defaults (cli_config_t *config);

//  Option tables (hr_config) per command, pointing into cli_config_t.
extern const hr_option_t cli_run_options [];
extern const hr_option_t cli_broker_options [];
extern const hr_option_t cli_gateway_options [];
extern const hr_option_t cli_pub_options [];
extern const hr_option_t cli_sub_options [];
extern const hr_option_t cli_revoke_options [];
extern const hr_option_t cli_keygen_options [];
extern const hr_option_t cli_token_options [];
extern const hr_option_t cli_cluster_options [];

//  Parses argv with options into config, prints --help or errors, sets up
//  logging. Returns -1 to exit with status 2, 1 to exit 0 (help), 0 to run.
int cli_setup (const char *usage, const char *summary, const hr_option_t *options,
               cli_config_t *config, int argc, char **argv,
               const char **positional, int max_positional, int *positional_count);

//  Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread started after,
//  and ignores SIGPIPE. Call before starting threads.
void cli_block_signals (void);

//  Waits for SIGINT or SIGTERM (blocked by cli_block_signals); returns it.
//  Each SIGHUP meanwhile calls on_hup (arg) (NULL: logged and ignored).
int cli_wait_for_signal (void (*on_hup) (void *arg), void *arg);

//  An on_hup for gateways: reloads the token keys (hrg_gateway_t *gateway),
//  logging the outcome; a bad file keeps the old keys.
void cli_reload_gateway (void *gateway);

//  An on_hup for brokers: reloads the CURVE allow-list (hrb_server_t
//  *broker), logging the outcome; a bad file keeps the old list.
void cli_reload_broker (void *broker);

//  True when the gateway's --http address is loopback (hr_host_loopback;
//  an empty host or 0.0.0.0 is not).
bool cli_http_loopback (const hrg_config_t *gateway);

//  herald run and gateway: false, with what to do on stderr (the command
//  then exits 2), when --http is not loopback and no --token-keys is given,
//  unless --insecure. Also true for an --http the gateway will refuse.
bool cli_http_exposure_ok (const hrg_config_t *gateway);

//  The start-up warning when no --token-keys is given (nothing otherwise).
void cli_warn_open (const hrg_config_t *gateway);

//  Loads the cluster file at path (hr_cluster_load). NULL, with the file's
//  problem on stderr (the command then exits 2), when it cannot. Caller
//  owns the cluster.
hr_cluster_t *cli_cluster_load (const char *path);

//  True when the string option at offset in config was set by a flag or
//  the environment, not left at its default (--cluster conflicts).
bool cli_option_given (const cli_config_t *config, size_t offset);

//  pub and sub with --cluster: false, with the reason on stderr (the command
//  then exits 2), when one of the count endpoint options at offsets (names:
//  how the message lists them) or CURVE is given as well. True without
//  --cluster.
bool cli_cluster_alone (const cli_config_t *config, const size_t *offsets, size_t count,
                        const char *names);

//  What pub and sub connect to: with --cluster, the endpoints of kind of
//  every broker in the file, comma-separated; else the first endpoint of
//  list (the command's own option). NULL when the cluster file cannot be
//  loaded (said on stderr). Caller frees.
char *cli_endpoints (const cli_config_t *config, hr_cluster_kind_t kind, const char *list);

//  Connects sock to every endpoint of the comma-separated list. -1, with
//  the endpoint and the reason on stderr, when one cannot be connected.
int cli_connect_all (void *sock, const char *list);

int cmd_run (int argc, char **argv);
int cmd_broker (int argc, char **argv);
int cmd_gateway (int argc, char **argv);
int cmd_pub (int argc, char **argv);
int cmd_sub (int argc, char **argv);
int cmd_revoke (int argc, char **argv);
int cmd_keygen (int argc, char **argv);
int cmd_token (int argc, char **argv);
int cmd_cluster (int argc, char **argv);

#endif
