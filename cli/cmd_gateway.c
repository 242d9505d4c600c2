/*  herald gateway: the HTTP edge alone, fed by a broker over tcp://.  */
#include "cli.h"
#include "hr_log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int
cmd_gateway (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    int rc = cli_setup ("herald gateway [OPTIONS]",
                        "Runs a gateway: serves SSE, HTTP publish and history, fed by the\n"
                        "broker given with --broker XPUB,ROUTER.",
                        cli_gateway_options, &config, argc, argv, NULL, 0, NULL);
    if (rc)
        return rc < 0? 2: 0;
    if (*config.gateway.cluster && cli_option_given (&config, offsetof (cli_config_t,
                                                                        broker_endpoints))) {
        fprintf (stderr, "herald: --cluster and --broker together: the cluster file gives "
                 "the brokers (give one of them)\n");
        return 2;
    }
    //  A bad cluster file is a usage error (exit 2), told before anything starts
    hr_cluster_t *cluster = *config.gateway.cluster? cli_cluster_load (config.gateway.cluster)
                                                   : NULL;
    if (*config.gateway.cluster && !cluster)
        return 2;
    hr_cluster_destroy (&cluster);
    if (!cli_http_exposure_ok (&config.gateway))
        return 2;
    char *endpoints = hr_strdup (config.broker_endpoints);
    char *comma = strchr (endpoints, ',');
    if (!comma || !comma [1] || strchr (comma + 1, ',')) {
        fprintf (stderr, "herald: --broker must be XPUB,ROUTER (two endpoints), not '%s'\n",
                 config.broker_endpoints);
        free (endpoints);
        return 2;
    }
    *comma = 0;
    config.gateway.broker_sub = endpoints;
    config.gateway.broker_req = comma + 1;
    cli_block_signals ();
    void *ctx = zmq_ctx_new ();
    hr_metrics_t *metrics = hr_metrics_new ();
    hr_buf_t err = HR_BUF_INIT;
    int status = 1;
    hrg_gateway_t *gateway = hrg_gateway_new (ctx, &config.gateway, metrics, &err);
    if (gateway && hrg_gateway_start (gateway) == 0) {
        cli_warn_open (&config.gateway);    //  before ready: ready is the last start-up line
        if (*config.gateway.cluster)        //  it follows the file's brokers, not --broker
            hr_log_info ("ready", "http", hrg_gateway_url (gateway),
                         "cluster", config.gateway.cluster);
        else
            hr_log_info ("ready", "http", hrg_gateway_url (gateway),
                         "broker", config.broker_endpoints);
        cli_wait_for_signal (cli_reload_gateway, gateway);
        hr_log_info ("stopping");
        status = 0;
    }
    else
        hr_log_error ("cannot start", "reason", err.data? err.data: "unknown");
    hrg_gateway_destroy (&gateway);
    zmq_ctx_term (ctx);
    hr_metrics_destroy (&metrics);
    hr_buf_free (&err);
    free (endpoints);
    return status;
}
