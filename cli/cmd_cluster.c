/*  herald cluster status|owner: what the cluster looks like now, asked of
    the brokers themselves (GET /v1/cluster on their http addresses from the
    cluster file, in file order, the first that answers). With no answer,
    `owner` still prints where the channel lives when every broker is up:
    that needs nothing but the file (docs/cluster.md, "Ownership").  */
#include "cli.h"
#include "cli_http.h"
#include "hr_channel.h"
#include "hr_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Exit statuses (docs/cluster.md, "herald cluster").
#define S_OK 0
#define S_NO_ANSWER 1
#define S_USAGE 2

//  GET /v1/cluster[?channel=X] of the first broker that answers with JSON.
//  Returns the body (the caller frees it) and its parse in *root, or NULL
//  with each broker's failure on stderr.
static char *
s_ask (const hr_cluster_t *cluster, const char *channel, int64_t timeout,
       const char **asked, json_t **root)
{
    hr_buf_t path = HR_BUF_INIT;
    hr_buf_puts (&path, "/v1/cluster");
    if (channel) {
        //  Percent-encode all but the unreserved characters (RFC 3986)
        hr_buf_puts (&path, "?channel=");
        for (const char *p = channel; *p; p++)
            if (strchr ("-._~", *p) || (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')
            ||  (*p >= 'a' && *p <= 'z'))
                hr_buf_putc (&path, *p);
            else
                hr_buf_printf (&path, "%%%02X", (unsigned char) *p);
    }
    char *body = NULL;
    bool any = false;
    for (size_t i = 0; i < hr_cluster_size (cluster) && !body; i++) {
        const hr_cluster_node_t *node = hr_cluster_node (cluster, i);
        if (!*node->http)
            continue;
        any = true;
        hr_buf_t err = HR_BUF_INIT;
        body = cli_http_get (node->http, path.data, timeout, &err);
        json_error_t error;
        *root = body? json_loads (body, 0, &error): NULL;
        if (body && !json_is_object (*root)) {
            hr_buf_printf (&err, "the answer is not a JSON object");
            json_decref (*root);
            *root = NULL;
            free (body);
            body = NULL;
        }
        if (body)
            *asked = node->id;
        else
            fprintf (stderr, "herald: broker %s at %s: %s\n", node->id, node->http,
                     err.data? err.data: "no answer");
        hr_buf_free (&err);
    }
    if (!any)
        fprintf (stderr, "herald: no broker in the cluster file has an http address to ask\n");
    else
    if (!body)
        fprintf (stderr, "herald: no broker answered (each was given %lld ms)\n",
                 (long long) timeout);
    hr_buf_free (&path);
    return body;
}

//  A string member of object, or "?" when absent (a null is "none").
static const char *
s_text (json_t *object, const char *name)
{
    json_t *value = json_object_get (object, name);
    return json_is_null (value)? "none": json_is_string (value)? json_string_value (value): "?";
}

static const char *
s_yes (json_t *object, const char *name, const char *yes, const char *no)
{
    json_t *value = json_object_get (object, name);
    return json_is_true (value)? yes: json_is_false (value)? no: "?";
}

//  The view and each broker, one line each.
static void
s_print_status (json_t *root, const char *asked)
{
    json_t *view = json_object_get (root, "view");
    printf ("view %lld (asked %s)\n",
            (long long) json_integer_value (json_object_get (view, "number")), asked);
    json_t *brokers = json_object_get (root, "brokers");
    size_t i;
    json_t *broker;
    int width = 6;              //  "broker"
    json_array_foreach (brokers, i, broker)
        if ((int) strlen (s_text (broker, "id")) > width)
            width = (int) strlen (s_text (broker, "id"));
    printf ("%-*s  %-4s  %-6s  %s\n", width, "broker", "up", "member", "owner");
    json_array_foreach (brokers, i, broker)
        printf ("%-*s  %-4s  %-6s  %s\n", width, s_text (broker, "id"),
                s_yes (broker, "up", "up", "down"), s_yes (broker, "member", "yes", "no"),
                s_yes (broker, "owner", "yes", "no"));
    json_t *handoff = json_object_get (view, "handoff");
    if (json_array_size (handoff) > 0) {
        printf ("handing off:");
        json_t *id;
        json_array_foreach (handoff, i, id)
            printf (" %s", json_is_string (id)? json_string_value (id): "?");
        printf ("\n");
    }
}

//  Without an answer: the channel's order over every broker of the file.
static void
s_print_static (const hr_cluster_t *cluster, const char *channel, bool json)
{
    int order [HR_CLUSTER_MAX];
    size_t count = hr_cluster_order (cluster, channel, strlen (channel),
                                     hr_cluster_all (cluster), order);
    const char *owner = hr_cluster_node (cluster, (size_t) order [0])->id;
    const char *backup = count > 1? hr_cluster_node (cluster, (size_t) order [1])->id: NULL;
    if (json) {
        hr_buf_t out = HR_BUF_INIT;
        hr_buf_puts (&out, "{\"static\": true, \"channel\": {\"name\": ");
        hr_json_string (&out, channel, strlen (channel));
        hr_buf_puts (&out, ", \"owner\": ");
        hr_json_string (&out, owner, strlen (owner));
        hr_buf_puts (&out, ", \"backup\": ");
        if (backup)
            hr_json_string (&out, backup, strlen (backup));
        else
            hr_buf_puts (&out, "null");
        hr_buf_puts (&out, "}}\n");
        fputs (out.data, stdout);
        hr_buf_free (&out);
    }
    else
        printf ("%s: owner %s, backup %s, if every broker is up\n", channel, owner,
                backup? backup: "none");
}

int
cmd_cluster (int argc, char **argv)
{
    cli_config_t config;
    cli_config_defaults (&config);
    config.timeout = 2000;
    const char *args [2];
    int count = 0;
    int rc = cli_setup ("herald cluster status|owner CHANNEL --cluster FILE [OPTIONS]",
                        "Asks the brokers of the cluster file (their http addresses, in file\n"
                        "order, the first that answers) for the installed view: `status` prints\n"
                        "each broker (up, member, owner), `owner CHANNEL` the channel's owner and\n"
                        "backup. Exit 0, 1 when no broker answered (owner then prints where the\n"
                        "channel lives if every broker is up), 2 on a usage or file error.",
                        cli_cluster_options, &config, argc, argv, args, 2, &count);
    if (rc)
        return rc < 0? S_USAGE: S_OK;
    bool owner = count >= 1 && !strcmp (args [0], "owner");
    if (count < 1 || (!owner && strcmp (args [0], "status"))
    ||  count != (owner? 2: 1)) {
        fprintf (stderr, "herald: usage: herald cluster status --cluster FILE, or "
                 "herald cluster owner CHANNEL --cluster FILE\n");
        return S_USAGE;
    }
    const char *channel = owner? args [1]: NULL;
    if (channel && !hr_channel_valid (channel, strlen (channel))) {
        fprintf (stderr, "herald: '%s': %s\n", channel, hr_error_message (HR_E_BAD_CHANNEL));
        return S_USAGE;
    }
    if (!*config.cluster) {
        fprintf (stderr, "herald: cluster needs --cluster FILE\n");
        return S_USAGE;
    }
    hr_cluster_t *cluster = cli_cluster_load (config.cluster);
    if (!cluster)
        return S_USAGE;
    const char *asked = NULL;
    json_t *root = NULL;
    char *body = s_ask (cluster, channel, config.timeout, &asked, &root);
    int status = S_OK;
    if (!body) {
        if (channel)
            s_print_static (cluster, channel, config.json);
        status = S_NO_ANSWER;
    }
    else
    if (config.json)
        printf ("%s%s", body, body [0] && body [strlen (body) - 1] == '\n'? "": "\n");
    else
    if (channel) {
        json_t *about = json_object_get (root, "channel");
        printf ("%s: owner %s, backup %s (view %lld, asked %s)\n", channel,
                s_text (about, "owner"), s_text (about, "backup"),
                (long long) json_integer_value (json_object_get (json_object_get (root, "view"),
                                                                 "number")), asked);
    }
    else
        s_print_status (root, asked);
    json_decref (root);
    free (body);
    hr_cluster_destroy (&cluster);
    return status;
}
