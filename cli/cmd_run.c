/*  herald run: broker and gateway in one process, joined over inproc://.  */
#include "cli.h"
#include "hr_log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define S_INPROC_XPUB "inproc://herald-xpub"
#define S_INPROC_ROUTER "inproc://herald-router"

//  Returns non-NULL when the broker loop failed (it has logged why); then
//  wakes the main thread, which waits for a signal, so the process exits 1.
static void *
s_broker_thread (void *server)
{
    pthread_setname_np (pthread_self (), "herald-broker");
    if (hrb_server_run (server) == 0)
        return NULL;
    kill (getpid (), SIGTERM);
    return server;
}

//  What SIGHUP reloads: the broker's CURVE clients and the gateway's keys.
typedef struct {
    hrb_server_t *broker;
    hrg_gateway_t *gateway;
} s_parts_t;

static void
s_reload (void *arg)
{
    s_parts_t *parts = arg;
    cli_reload_broker (parts->broker);
    cli_reload_gateway (parts->gateway);
}

//  "user,inproc://x", or just the inproc endpoint when user is empty.
static char *
s_with_inproc (const char *user, const char *inproc)
{
    hr_buf_t list = HR_BUF_INIT;
    if (user && *user)
        hr_buf_printf (&list, "%s,", user);
    hr_buf_puts (&list, inproc);
    return hr_buf_detach (&list);
}

//  How to get a token for the demo page: the commands, with this binary's
//  path as it was invoked (./build/herald under make run).
static void
s_banner_tokens (const char *token_keys)
{
    const char *self = program_invocation_name;
    if (*token_keys)
        printf ("Tokens are required (keys: %s). A development token for the demo page:\n"
                "  %s token --key PRIVATE.jwk --sub me --subscribe demo --publish demo\n",
                token_keys, self);
    else
        printf ("Tokens are off: anyone who reaches these ports may subscribe and publish.\n"
                "To try tokens (docs/security.md):\n"
                "  %s keygen --out dev\n"
                "  %s run --token-keys dev.jwks\n"
                "  %s token --key dev.private.jwk --sub me --subscribe demo --publish demo\n"
                "and paste the token into the demo page.\n", self, self, self);
}

static void
s_banner (const char *url, hrb_server_t *broker, int workers, const char *token_keys)
{
    printf ("Herald %s is running (%d gateway worker%s)\n"
            "  demo page     %s/\n"
            "  JS client     %s/herald.js\n"
            "  SSE           %s/v1/sse?channel=demo\n"
            "  publish       POST %s/v1/publish  {\"channel\":\"demo\",\"data\":{...}}\n"
            "  history       %s/v1/history?channel=demo\n"
            "  metrics       %s/metrics\n"
            "  status page   %s/status\n"
            "  ZeroMQ PUSH   %s\n"
            "  ZeroMQ ROUTER %s\n"
            "  ZeroMQ XPUB   %s\n",
            HERALD_VERSION, workers, workers == 1? "": "s", url, url, url, url, url, url, url,
            hrb_server_pull_endpoints (broker), hrb_server_router_endpoints (broker),
            hrb_server_xpub_endpoints (broker));
    printf ("  history data  %s\n", hrb_server_history (broker));
    s_banner_tokens (token_keys);
    printf ("Ctrl-C stops it.\n");
    fflush (stdout);
}

int
cmd_run (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    config.gateway.demo = true;
    int rc = cli_setup ("herald run [OPTIONS]",
                        "Runs the broker and the gateway in one process, joined over inproc://.\n"
                        "Backends publish over ZeroMQ (PUSH, or DEALER for acknowledgements) or\n"
                        "HTTP POST; browsers subscribe over SSE.",
                        cli_run_options, &config, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc < 0? 2: 0;
    if (!cli_http_exposure_ok (&config.gateway))
        return 2;
    char *router = s_with_inproc (config.broker.router, S_INPROC_ROUTER);
    char *xpub = s_with_inproc (config.broker.xpub, S_INPROC_XPUB);
    config.broker.router = router;
    config.broker.xpub = xpub;
    config.gateway.broker_sub = S_INPROC_XPUB;
    config.gateway.broker_req = S_INPROC_ROUTER;
    config.gateway.max_event = config.broker.max_event;
    //  One --insecure for both: the gateway's HTTP and the broker's ZeroMQ
    config.broker.insecure = config.gateway.insecure;
    hr_buf_t check = HR_BUF_INIT;
    if (hrb_server_check (&config.broker, &check) != 0) {
        fprintf (stderr, "herald: %s\n", check.data);
        hr_buf_free (&check);
        free (router);
        free (xpub);
        return 2;
    }

    cli_block_signals ();
    void *ctx = zmq_ctx_new ();
    hr_metrics_t *metrics = hr_metrics_new ();
    hr_buf_t err = HR_BUF_INIT;
    int status = 1;
    void *failed = NULL;            //  the broker loop failed (and logged why)
    hrg_gateway_t *gateway = NULL;
    pthread_t broker_thread;
    hrb_server_t *broker = hrb_server_new (ctx, &config.broker, metrics, &err);
    if (broker && pthread_create (&broker_thread, NULL, s_broker_thread, broker) == 0) {
        gateway = hrg_gateway_new (ctx, &config.gateway, metrics, &err);
        if (gateway && hrg_gateway_start (gateway) == 0) {
            cli_warn_open (&config.gateway);    //  before ready: ready is the last start-up line
            hr_log_info ("ready", "http", hrg_gateway_url (gateway),
                         "pull", hrb_server_pull_endpoints (broker),
                         "router", hrb_server_router_endpoints (broker),
                         "xpub", hrb_server_xpub_endpoints (broker));
            s_banner (hrg_gateway_url (gateway), broker, hrg_gateway_workers (gateway),
                      config.gateway.token_keys);
            s_parts_t parts = { broker, gateway };
            int signo = cli_wait_for_signal (s_reload, &parts);
            hr_log_info ("stopping", "signal", signo == 2? "SIGINT": "SIGTERM");
            status = 0;
        }
        hrg_gateway_destroy (&gateway);
        hrb_server_stop (broker);
        pthread_join (broker_thread, &failed);
        if (failed)
            status = 1;
    }
    if (status && !failed)
        hr_log_error ("cannot start", "reason", err.data? err.data: "unknown");
    hrb_server_destroy (&broker);
    zmq_ctx_term (ctx);
    hr_metrics_destroy (&metrics);
    hr_buf_free (&err);
    free (router);
    free (xpub);
    if (!status)
        hr_log_info ("stopped");
    return status;
}
