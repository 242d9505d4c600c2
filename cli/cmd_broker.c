/*  herald broker: the broker alone, for split deployments.  */
#include "cli.h"
#include "hrb_cluster.h"
#include "hrb_http.h"
#include "hr_cluster_status.h"
#include "hr_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <unistd.h>
#include <zmq.h>

//  --http of a single broker (hrb_http): ready while the broker loop runs
//  (its sockets are bound before the thread starts); /v1/cluster in the
//  single-broker form.
static atomic_bool s_running;

//  In a cluster (arg: the broker) it is ready once a view with it as a
//  member is installed and it holds its lease, and /v1/cluster shows the
//  cluster as it sees it (hrb_cluster's snapshot, safe from this thread).
static bool
s_http_ready (void *arg)
{
    hrb_cluster_t *cluster = hrb_server_cluster (arg);
    return atomic_load (&s_running) && (!cluster || hrb_cluster_ready (cluster));
}

static void
s_http_cluster (void *arg, const char *channel, hr_buf_t *json)
{
    hrb_cluster_t *cluster = hrb_server_cluster (arg);
    hr_cluster_status_t status;
    if (cluster)
        hrb_cluster_status (cluster, &status);
    hr_cluster_status_json (cluster? hrb_cluster_file (cluster): NULL, cluster? &status: NULL,
                            channel, json);
}

//  Returns non-NULL when the broker loop failed (it has logged why); then
//  wakes the main thread, which waits for a signal, so the process exits 1.
static void *
s_run (void *server)
{
    pthread_setname_np (pthread_self (), "herald-broker");
    atomic_store (&s_running, true);
    int rc = hrb_server_run (server);
    atomic_store (&s_running, false);
    if (rc == 0)
        return NULL;
    kill (getpid (), SIGTERM);
    return server;
}

int
cmd_broker (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    int rc = cli_setup ("herald broker [OPTIONS]",
                        "Runs a broker: takes events on PULL and ROUTER, sequences them per\n"
                        "channel, keeps history, and publishes them on XPUB for gateways.",
                        cli_broker_options, &config, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc < 0? 2: 0;
    hr_buf_t err = HR_BUF_INIT;
    char *http_address = hrb_cluster_http (&config.broker);     //  --http, else the file's
    config.broker.http = http_address;
    if (hrb_server_check (&config.broker, &err) != 0
    ||  (*config.broker.http
         && hrb_http_check (config.broker.http, config.broker.insecure, &err) != 0)) {
        fprintf (stderr, "herald: %s\n", err.data);
        hr_buf_free (&err);
        free (http_address);
        return 2;
    }
    cli_block_signals ();
    void *ctx = zmq_ctx_new ();
    hr_metrics_t *metrics = hr_metrics_new ();
    int status = 1;
    hrb_server_t *broker = hrb_server_new (ctx, &config.broker, metrics, &err);
    hrb_http_t *http = NULL;
    if (broker && *config.broker.http)
        http = hrb_http_new (config.broker.http, config.broker.insecure, metrics,
                             s_http_ready, s_http_cluster, broker, &err);
    if (broker)
        hr_log_info ("history", "kept", hrb_server_history (broker));
    pthread_t thread;
    if (broker && (http || !*config.broker.http)
    &&  pthread_create (&thread, NULL, s_run, broker) == 0) {
        //  "http" last: without --http the NULL key ends the line there
        hr_log_info ("ready", "pull", hrb_server_pull_endpoints (broker),
                     "router", hrb_server_router_endpoints (broker),
                     "xpub", hrb_server_xpub_endpoints (broker),
                     http? "http": NULL, http? hrb_http_url (http): NULL);
        int signo = cli_wait_for_signal (cli_reload_broker, broker);
        if (*config.broker.cluster && signo == SIGTERM) {
            //  Hand every owned channel over first; the loop returns by itself
            hr_log_info ("stopping: handing channels over (SIGTERM)");
            hrb_server_leave (broker);
        }
        else {
            hr_log_info ("stopping");
            hrb_server_stop (broker);
        }
        void *failed = NULL;
        pthread_join (thread, &failed);
        status = failed? 1: 0;
    }
    else
        hr_log_error ("cannot start", "reason", err.data? err.data: "unknown");
    hrb_http_destroy (&http);       //  first: its callbacks may read the broker
    hrb_server_destroy (&broker);
    zmq_ctx_term (ctx);
    hr_metrics_destroy (&metrics);
    hr_buf_free (&err);
    free (http_address);
    return status;
}
