/*  hrb_view_file: the durable view state as JSON (jansson), written
    atomically.  */
#include "hrb_view_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
hrb_view_file_path (const char *dir, const char *id)
{
    hr_buf_t path = HR_BUF_INIT;
    hr_buf_printf (&path, "%s/herald-%s.view", *dir? dir: ".", id);
    return hr_buf_detach (&path);
}

int
hrb_view_file_check_dir (const char *dir, hr_buf_t *err)
{
    struct stat st;
    const char *name = *dir? dir: ".";
    if (stat (name, &st) != 0) {
        hr_buf_printf (err, "--state-dir %s: %s", name, strerror (errno));
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        hr_buf_printf (err, "--state-dir %s: not a directory", name);
        return -1;
    }
    if (access (name, W_OK | X_OK) != 0) {
        hr_buf_printf (err, "--state-dir %s: cannot create files there: %s", name,
                       strerror (errno));
        return -1;
    }
    return 0;
}

//  members as a JSON array of ids, file order.
static json_t *
s_ids (const hr_cluster_t *cluster, hr_members_t members)
{
    json_t *array = json_array ();
    for (size_t i = 0; i < hr_cluster_size (cluster); i++)
        if (members & (1u << i))
            json_array_append_new (array, json_string (hr_cluster_node (cluster, i)->id));
    return array;
}

//  A JSON array of ids back into a set; -1 on anything else.
static int
s_members (const hr_cluster_t *cluster, json_t *array, hr_members_t *out)
{
    if (!json_is_array (array))
        return -1;
    *out = 0;
    size_t index;
    json_t *item;
    json_array_foreach (array, index, item) {
        int i = json_is_string (item)? hr_cluster_find (cluster, json_string_value (item)): -1;
        if (i < 0 || (*out & (1u << i)))
            return -1;
        *out |= 1u << i;
    }
    return 0;
}

static bool
s_uint (json_t *value, uint64_t *out)
{
    if (!json_is_integer (value) || json_integer_value (value) < 0)
        return false;
    *out = (uint64_t) json_integer_value (value);
    return true;
}

//  Reads the parsed state; returns a reason, or NULL when valid.
static const char *
s_parse (const hr_cluster_t *cluster, json_t *root, hrb_view_durable_t *out)
{
    json_t *view = json_object_get (root, "view");
    json_t *voted = json_object_get (root, "voted_for");
    if (!json_is_object (root) || json_object_size (root) != 3)
        return "not an object of term, voted_for and view";
    if (!s_uint (json_object_get (root, "term"), &out->term))
        return "term is not a non-negative integer";
    if (json_is_null (voted))
        out->voted_for = -1;
    else
    if (!json_is_string (voted)
    ||  (out->voted_for = hr_cluster_find (cluster, json_string_value (voted))) < 0)
        return "voted_for is not null or the id of a broker in the cluster file";
    //  follows came later: a file without it follows nothing known
    json_t *follows = json_is_object (view)? json_object_get (view, "follows"): NULL;
    if (!json_is_object (view) || json_object_size (view) != (follows? 5: 4))
        return "view is not an object of number, members, owners, handoff and follows";
    hrb_view_t *v = &out->installed;
    if (!s_uint (json_object_get (view, "number"), &v->number))
        return "view.number is not a non-negative integer";
    v->follows = 0;
    if (follows && (!s_uint (follows, &v->follows) || (v->number && v->follows >= v->number)))
        return "view.follows is not a number below view.number";
    if (s_members (cluster, json_object_get (view, "members"), &v->members)
    ||  s_members (cluster, json_object_get (view, "owners"), &v->owners)
    ||  s_members (cluster, json_object_get (view, "handoff"), &v->handoff))
        return "view.members, owners or handoff is not a list of ids of the cluster file";
    if ((v->owners & ~v->members) || v->number > out->term)
        return "view is inconsistent (an owner not a member, or a view above the term)";
    return NULL;
}

int
hrb_view_file_load (const char *path, const hr_cluster_t *cluster,
                    hrb_view_durable_t *out, bool *found, hr_buf_t *err)
{
    memset (out, 0, sizeof *out);
    out->voted_for = -1;
    *found = false;
    FILE *file = fopen (path, "rb");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        hr_buf_printf (err, "cannot read the view state %s: %s", path, strerror (errno));
        return -1;
    }
    char *text = hr_malloc (HRB_VIEW_FILE_MAX + 1);
    size_t len = fread (text, 1, HRB_VIEW_FILE_MAX + 1, file);
    bool failed = ferror (file) != 0;
    fclose (file);
    const char *reason = NULL;
    json_error_t error;
    json_t *root = NULL;
    if (failed)
        reason = "read error";
    else
    if (len > HRB_VIEW_FILE_MAX)
        reason = "larger than 16 KiB";
    else
    if (!(root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &error)))
        reason = error.text;
    else
        reason = s_parse (cluster, root, out);
    if (reason)
        hr_buf_printf (err, "the view state %s is corrupt (%s): it holds this broker's "
                       "votes, so it is not taken for a first start; restore it, or remove "
                       "it only while a majority of the other brokers are up", path, reason);
    else
        *found = true;
    json_decref (root);
    free (text);
    return reason? -1: 0;
}

//  fsync of the directory holding path, so that a rename in it is durable.
static int
s_sync_dir (const char *path)
{
    char *dir = hr_strdup (path);
    char *slash = strrchr (dir, '/');
    if (slash)
        *(slash == dir? slash + 1: slash) = 0;
    int fd = open (slash? dir: ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free (dir);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc;
}

int
hrb_view_file_save (const char *path, const hr_cluster_t *cluster,
                    const hrb_view_durable_t *durable, hr_buf_t *err)
{
    const hrb_view_t *v = &durable->installed;
    json_t *root = json_pack ("{s:I, s:o, s:{s:I, s:o, s:o, s:o, s:I}}",
        "term", (json_int_t) durable->term,
        "voted_for", durable->voted_for >= 0
            ? json_string (hr_cluster_node (cluster, (size_t) durable->voted_for)->id)
            : json_null (),
        "view", "number", (json_int_t) v->number, "members", s_ids (cluster, v->members),
        "owners", s_ids (cluster, v->owners), "handoff", s_ids (cluster, v->handoff),
        "follows", (json_int_t) v->follows);
    char *text = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    hr_buf_t tmp = HR_BUF_INIT;
    hr_buf_printf (&tmp, "%s.tmp", path);
    int fd = open (tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen (text);
    int rc = -1;
    const char *step = "open";
    if (fd >= 0) {
        ssize_t wrote = write (fd, text, len);
        step = wrote != (ssize_t) len? "write"
             : write (fd, "\n", 1) != 1? "write"
             : fsync (fd) != 0? "fsync": NULL;
        if (close (fd) != 0 && !step)
            step = "close";
        if (!step)
            step = rename (tmp.data, path) != 0? "rename"
                 : s_sync_dir (path) != 0? "fsync of the directory": NULL;
        rc = step? -1: 0;
    }
    if (rc)
        hr_buf_printf (err, "cannot save the view state %s (%s): %s", path, step,
                       strerror (errno));
    if (rc && fd >= 0)
        unlink (tmp.data);
    hr_buf_free (&tmp);
    free (text);
    return rc;
}
