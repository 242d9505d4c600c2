/*  cluster_fixture: what the broker's cluster unit tests share: a
    temporary directory holding a cluster file of three brokers (b1, b2,
    b3 on ipc endpoints inside it) and the options of broker b1.  */
#ifndef HERALD_CLUSTER_FIXTURE_H
#define HERALD_CLUSTER_FIXTURE_H

#include "hrb_cluster.h"
#include "hrb_config.h"
#include "hr_metrics.h"

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

//  Makes dir (from template, e.g. "/tmp/herald-x-XXXXXX"), writes the
//  cluster file at path (dir/cluster.json) and sets config for b1 there.
//  dir and path must outlive config.
static TU_UNUSED void
tu_cluster_file (char *dir, const char *template, char *path, size_t path_size,
                 hrb_config_t *config)
{
    strcpy (dir, template);
    assert_non_null (mkdtemp (dir));
    snprintf (path, path_size, "%s/cluster.json", dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "{\"brokers\": [");
    for (int i = 1; i <= 3; i++)
        fprintf (file, "%s{\"id\": \"b%d\", \"publish\": \"ipc://%s/p%d\", \"router\": "
                 "\"ipc://%s/r%d\", \"stream\": \"ipc://%s/s%d\", \"peer\": \"ipc://%s/x%d\"}",
                 i > 1? ",": "", i, dir, i, dir, i, dir, i, dir, i);
    fprintf (file, "]}");
    fclose (file);
    *config = (hrb_config_t) HRB_CONFIG_DEFAULTS;
    config->cluster = path;
    config->id = "b1";
    config->state_dir = dir;
}

//  Broker b1 of that file, running: its directory, file, options, ZeroMQ
//  context, metrics and cluster (tu_cluster_open makes them all,
//  tu_cluster_close frees them and removes the directory; close the
//  test's own sockets first).
typedef struct {
    char dir [64];
    char path [96];
    hrb_config_t config;
    void *ctx;
    hr_metrics_t *metrics;
    hrb_cluster_t *cluster;
} tu_cluster_t;

static TU_UNUSED void
tu_cluster_open (tu_cluster_t *self, const char *template)
{
    tu_cluster_file (self->dir, template, self->path, sizeof self->path, &self->config);
    self->ctx = zmq_ctx_new ();
    self->metrics = hr_metrics_new ();
    hr_buf_t err = HR_BUF_INIT;
    self->cluster = hrb_cluster_new (self->ctx, &self->config, self->metrics, &err);
    assert_non_null (self->cluster);
    hr_buf_free (&err);
}

static TU_UNUSED void
tu_cluster_close (tu_cluster_t *self)
{
    hrb_cluster_destroy (&self->cluster);
    zmq_ctx_term (self->ctx);
    hr_metrics_destroy (&self->metrics);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", self->dir);
    assert_int_equal (system (command), 0);
}

#endif
