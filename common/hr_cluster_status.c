/*  hr_cluster_status: renders GET /v1/cluster (hr_cluster_status.h).  */
#include "hr_cluster_status.h"
#include "hr_json.h"

#include <string.h>

//  ["b1", "b2"]: the ids of members, in file order.
static void
s_ids (hr_buf_t *out, const hr_cluster_t *cluster, hr_members_t members)
{
    hr_buf_putc (out, '[');
    size_t size = cluster? hr_cluster_size (cluster): 0;
    bool first = true;
    for (size_t i = 0; i < size; i++)
        if (members & ((hr_members_t) 1 << i)) {
            if (!first)
                hr_buf_puts (out, ", ");
            first = false;
            const char *id = hr_cluster_node (cluster, i)->id;
            hr_json_string (out, id, strlen (id));
        }
    hr_buf_putc (out, ']');
}

//  An id, or null for index -1.
static void
s_id_or_null (hr_buf_t *out, const hr_cluster_t *cluster, int index)
{
    if (index < 0)
        hr_buf_puts (out, "null");
    else {
        const char *id = hr_cluster_node (cluster, (size_t) index)->id;
        hr_json_string (out, id, strlen (id));
    }
}

static void
s_channel (hr_buf_t *out, const hr_cluster_t *cluster, const hr_cluster_status_t *status,
           const char *channel)
{
    int order [HR_CLUSTER_MAX];
    size_t count = 0;
    size_t len = strlen (channel);
    //  Ownership follows the view's owners (members past their hold-down)
    if (cluster)
        count = hr_cluster_order (cluster, channel, len, status->owners, order);
    hr_buf_puts (out, ", \"channel\": {\"name\": ");
    hr_json_string (out, channel, len);
    hr_buf_puts (out, ", \"owner\": ");
    s_id_or_null (out, cluster, count > 0? order [0]: -1);
    hr_buf_puts (out, ", \"backup\": ");
    s_id_or_null (out, cluster, count > 1? order [1]: -1);
    hr_buf_putc (out, '}');
}

void
hr_cluster_status_json (const hr_cluster_t *cluster, const hr_cluster_status_t *status,
                        const char *channel, hr_buf_t *out)
{
    //  Without a cluster nothing of status is read (it may be NULL)
    static const hr_cluster_status_t none = { .self = -1 };
    if (!cluster)
        status = &none;
    hr_buf_printf (out, "{\"cluster\": %s, \"view\": {\"number\": ",
                   cluster? "true": "false");
    hr_buf_put_u64 (out, status->number);
    hr_buf_puts (out, ", \"members\": ");
    s_ids (out, cluster, status->members);
    hr_buf_puts (out, ", \"owners\": ");
    s_ids (out, cluster, status->owners);
    hr_buf_puts (out, ", \"handoff\": ");
    s_ids (out, cluster, status->handoff);
    hr_buf_puts (out, "}, \"brokers\": [");
    size_t size = cluster? hr_cluster_size (cluster): 0;
    for (size_t i = 0; i < size; i++) {
        hr_members_t bit = (hr_members_t) 1 << i;
        hr_buf_puts (out, i? ", {\"id\": ": "{\"id\": ");
        s_id_or_null (out, cluster, (int) i);
        //  A broker does not hear itself, but it is up: it is answering
        hr_buf_printf (out, ", \"up\": %s, \"member\": %s, \"owner\": %s}",
                       (status->up & bit) || (int) i == status->self? "true": "false",
                       status->members & bit? "true": "false",
                       status->owners & bit? "true": "false");
    }
    hr_buf_putc (out, ']');
    if (status->self >= 0) {
        hr_buf_puts (out, ", \"self\": ");
        s_id_or_null (out, cluster, status->self);
        hr_buf_printf (out, ", \"lease\": %s", status->lease? "true": "false");
    }
    if (channel)
        s_channel (out, cluster, status, channel);
    hr_buf_putc (out, '}');
}
