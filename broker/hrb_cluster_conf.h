/*  hrb_cluster_conf: a broker's cluster options, checked and loaded
    (docs/cluster.md, "Running a cluster"), apart from the running cluster
    (hrb_cluster) so that start-up checks need no sockets.  */
#ifndef HRB_CLUSTER_CONF_H
#define HRB_CLUSTER_CONF_H

#include "hrb_config.h"
#include "hrb_view.h"
#include "hr_buf.h"
#include "hr_cluster.h"

#include <stdbool.h>
#include <stdint.h>

//  Checks the cluster options of config, when config->cluster is set (0 at
//  once otherwise): the file loads, --id is one of its ids, no --pull,
//  --router or --xpub of its own, no CURVE, endpoints not exposed without
//  --insecure, timing options hrb_view accepts, the state directory is
//  writable and its view state readable. Returns -1 with what to do in err.
int hrb_cluster_check (const hrb_config_t *config, hr_buf_t *err);

//  The address a broker of config serves --http on: config->http when
//  given, else its entry's http in the cluster file, else "". Call after
//  hrb_cluster_check. Caller frees it.
char *hrb_cluster_http (const hrb_config_t *config);

//  Everything hrb_cluster_check checks; returns the loaded file (caller
//  owns it) with this broker's index in *self, the file's fingerprint in
//  *cf and the saved view state in *durable (*found false on a first
//  start), or NULL with a reason in err.
hr_cluster_t *hrb_cluster_conf_load (const hrb_config_t *config, int *self, uint32_t *cf,
                                     hrb_view_durable_t *durable, bool *found, hr_buf_t *err);

//  The endpoint this broker binds for endpoint, one of its entry's: the
//  entry itself, or with config->bind_host the same tcp:// port on that
//  host (a container whose cluster file names it by a DNS name, which
//  ZeroMQ cannot bind: --bind-host 0.0.0.0). Caller frees it.
char *hrb_cluster_conf_bind (const hrb_config_t *config, const char *endpoint);

//  The view machine's config for broker self of cluster under config
//  (heartbeat min(250 ms, lease / 4), a random seed).
void hrb_cluster_conf_view (const hrb_config_t *config, const hr_cluster_t *cluster, int self,
                            hrb_view_config_t *out);

#endif
