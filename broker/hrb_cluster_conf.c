/*  hrb_cluster_conf: a broker's cluster options, checked (docs/cluster.md,
    "Running a cluster"): the cluster file loaded and fingerprinted, this
    broker's entry, its endpoints' exposure, the view machine's timing, the
    state directory and the view state saved there.  */
#include "hrb_cluster_conf.h"
#include "hrb_view_file.h"
#include "hr_curve.h"
#include "hr_hash.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The default endpoints: with --cluster, anything else was given.
static const hrb_config_t s_defaults = HRB_CONFIG_DEFAULTS;

//  Reads and parses the cluster file, with the fingerprint of its bytes.
static hr_cluster_t *
s_load (const char *path, uint32_t *cf, hr_buf_t *err)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        hr_buf_printf (err, "--cluster %s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = hr_malloc (HR_CLUSTER_FILE_MAX + 1);
    size_t len = fread (text, 1, HR_CLUSTER_FILE_MAX + 1, file);
    bool failed = ferror (file) != 0;
    fclose (file);
    hr_cluster_t *cluster = NULL;
    if (failed)
        hr_buf_printf (err, "--cluster %s: read error", path);
    else
    if (len > HR_CLUSTER_FILE_MAX)
        hr_buf_printf (err, "--cluster %s: larger than %d bytes", path, HR_CLUSTER_FILE_MAX);
    else
        cluster = hr_cluster_parse (path, text, len, err);
    *cf = hr_fnv1a (HR_FNV1A_SEED, text, len);
    free (text);
    return cluster;
}

//  The file's ids, comma-separated, for messages.
static void
s_ids (const hr_cluster_t *cluster, hr_buf_t *out)
{
    for (size_t i = 0; i < hr_cluster_size (cluster); i++)
        hr_buf_printf (out, "%s%s", i? ", ": "", hr_cluster_node (cluster, i)->id);
}

void
hrb_cluster_conf_view (const hrb_config_t *config, const hr_cluster_t *cluster, int self,
               hrb_view_config_t *out)
{
    uint64_t lease = (uint64_t) config->lease;
    *out = (hrb_view_config_t) {
        .self = self, .size = hr_cluster_size (cluster),
        .heartbeat = lease / 4 < 250? lease / 4: 250,
        .timeout = (uint64_t) config->failover_timeout, .lease = lease,
        .hold_down = (uint64_t) config->hold_down,
        .seed = ((uint64_t) randombytes_random () << 32) | randombytes_random (),
    };
}

char *
hrb_cluster_conf_bind (const hrb_config_t *config, const char *endpoint)
{
    const char *port = strrchr (endpoint, ':');
    if (!*config->bind_host || strncmp (endpoint, "tcp://", 6) || !port)
        return hr_strdup (endpoint);
    hr_buf_t out = HR_BUF_INIT;
    bool ipv6 = strchr (config->bind_host, ':') && *config->bind_host != '[';
    hr_buf_printf (&out, ipv6? "tcp://[%s]%s": "tcp://%s%s", config->bind_host, port);
    return hr_buf_detach (&out);
}

//  Refuses an endpoint this broker would bind where other machines reach
//  it without CURVE, unless --insecure (hr_curve_check_exposure).
static int
s_check_exposure (const hrb_config_t *config, const char *what, const char *endpoint,
                  hr_buf_t *err)
{
    char *bind = hrb_cluster_conf_bind (config, endpoint);
    int rc = hr_curve_check_exposure (what, bind, false, config->insecure, err);
    free (bind);
    return rc;
}

//  Everything hrb_cluster_check says, plus the index of this broker; the
//  restored state goes to durable (found false on a first start).
hr_cluster_t *
hrb_cluster_conf_load (const hrb_config_t *config, int *self, uint32_t *cf,
         hrb_view_durable_t *durable, bool *found, hr_buf_t *err)
{
    const char *path = config->cluster;
    if (strcmp (config->pull, s_defaults.pull) || strcmp (config->router, s_defaults.router)
    ||  strcmp (config->xpub, s_defaults.xpub)) {
        hr_buf_printf (err, "the cluster file gives this broker's endpoints: leave out "
                       "--pull, --router and --xpub with --cluster");
        return NULL;
    }
    if (*config->curve_secret || *config->curve_clients) {
        hr_buf_printf (err, "CURVE between brokers is not built yet: run a cluster without "
                       "--curve-secret and --curve-clients, on a private network");
        return NULL;
    }
    hr_cluster_t *cluster = s_load (path, cf, err);
    if (!cluster)
        return NULL;
    hr_buf_t ids = HR_BUF_INIT;
    s_ids (cluster, &ids);
    *self = *config->id? hr_cluster_find (cluster, config->id): -1;
    if (!*config->id)
        hr_buf_printf (err, "--cluster needs --id: this broker's id in %s (one of: %s)",
                       path, ids.data);
    else
    if (*self < 0)
        hr_buf_printf (err, "--id %s is not in %s: its brokers are %s", config->id, path,
                       ids.data);
    hr_buf_free (&ids);
    if (*self < 0) {
        hr_cluster_destroy (&cluster);
        return NULL;
    }
    const hr_cluster_node_t *node = hr_cluster_node (cluster, (size_t) *self);
    hrb_view_config_t view_config;
    hrb_cluster_conf_view (config, cluster, *self, &view_config);
    char *state = NULL;
    if (s_check_exposure (config, "publish", node->publish, err)
    ||  s_check_exposure (config, "router", node->router, err)
    ||  s_check_exposure (config, "stream", node->stream, err)
    ||  s_check_exposure (config, "peer", node->peer, err)
    ||  hrb_view_check (&view_config, err)
    ||  hrb_view_file_check_dir (config->state_dir, err)
    ||  hrb_view_file_load ((state = hrb_view_file_path (config->state_dir, config->id)),
                            cluster, durable, found, err))
        hr_cluster_destroy (&cluster);
    free (state);
    return cluster;
}

int
hrb_cluster_check (const hrb_config_t *config, hr_buf_t *err)
{
    if (!*config->cluster)
        return 0;
    int self;
    uint32_t cf;
    hrb_view_durable_t durable;
    bool found;
    hr_cluster_t *cluster = hrb_cluster_conf_load (config, &self, &cf, &durable, &found, err);
    bool ok = cluster != NULL;
    hr_cluster_destroy (&cluster);
    return ok? 0: -1;
}

char *
hrb_cluster_http (const hrb_config_t *config)
{
    if (*config->http || !*config->cluster)
        return hr_strdup (config->http);
    hr_buf_t err = HR_BUF_INIT;
    uint32_t cf;
    hr_cluster_t *cluster = s_load (config->cluster, &cf, &err);
    int self = cluster? hr_cluster_find (cluster, config->id): -1;
    char *http = hr_strdup (self >= 0? hr_cluster_node (cluster, (size_t) self)->http: "");
    hr_cluster_destroy (&cluster);
    hr_buf_free (&err);
    return http;
}
