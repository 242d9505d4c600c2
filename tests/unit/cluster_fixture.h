/*  cluster_fixture: what the broker's cluster unit tests share: a
    temporary directory holding a cluster file of three brokers (b1, b2,
    b3 on ipc endpoints inside it) and the options of broker b1.  */
#ifndef HERALD_CLUSTER_FIXTURE_H
#define HERALD_CLUSTER_FIXTURE_H

#include "hrb_config.h"

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

#endif
