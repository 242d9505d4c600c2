/*  hrg_query: shared query-argument parsing.  */
#include "hrg_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *names [HR_CHANSET_MAX];
    size_t count;
    hr_error_t error;
} s_channel_args_t;

static enum MHD_Result
s_collect_channel (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    s_channel_args_t *args = cls;
    if (strcmp (key, "channel") != 0 || args->error)
        return MHD_YES;
    if (!value || !hr_channel_valid (value, strlen (value)))
        args->error = HR_E_BAD_CHANNEL;
    else
    if (args->count == HR_CHANSET_MAX)
        args->error = HR_E_TOO_MANY_CHANNELS;
    else
        args->names [args->count++] = value;
    return MHD_YES;
}

hr_chanset_t *
hrg_query_channels (struct MHD_Connection *mhd, hr_error_t *error)
{
    s_channel_args_t args = { .count = 0 };
    MHD_get_connection_values (mhd, MHD_GET_ARGUMENT_KIND, s_collect_channel, &args);
    if (!args.error && args.count == 0)
        args.error = HR_E_BAD_CHANNEL;
    *error = args.error;
    return args.error? NULL: hr_chanset_new (args.names, args.count);
}

bool
hrg_query_uint (struct MHD_Connection *mhd, const char *name, uint64_t fallback,
                uint64_t *value)
{
    const char *text = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, name);
    *value = fallback;
    if (!text)
        return true;
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (!*text || *end || errno || text [0] == '-')
        return false;
    *value = number;
    return true;
}

typedef struct {
    const char *name;
    size_t count;
} s_count_t;

static enum MHD_Result
s_count_arg (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    s_count_t *count = cls;
    if (strcmp (key, count->name) == 0)
        count->count++;
    return MHD_YES;
}

size_t
hrg_query_count (struct MHD_Connection *mhd, const char *name)
{
    s_count_t count = { name, 0 };
    MHD_get_connection_values (mhd, MHD_GET_ARGUMENT_KIND, s_count_arg, &count);
    return count.count;
}

bool
hrg_query_flag (struct MHD_Connection *mhd, const char *name)
{
    const char *text = MHD_lookup_connection_value (mhd, MHD_GET_ARGUMENT_KIND, name);
    if (!text)
        return MHD_lookup_connection_value_n (mhd, MHD_GET_ARGUMENT_KIND, name,
                                              strlen (name), NULL, NULL) == MHD_YES;
    return !*text || strcmp (text, "1") == 0 || strcmp (text, "true") == 0
        || strcmp (text, "yes") == 0;
}
