/*  hr_config: option tables, environment and flag parsing, --help.  */
#include "hr_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void
s_env_name (const char *name, char *out, size_t size)
{
    size_t n = (size_t) snprintf (out, size, "HERALD_");
    for (const char *p = name; *p && n + 1 < size; p++)
        out [n++] = *p == '-'? '_': (char) toupper ((unsigned char) *p);
    out [n] = 0;
}

//  Parses a number with an optional unit suffix; units maps suffix -> factor.
static int
s_number (const char *text, const char *const *suffixes, const int64_t *factors,
          int64_t bare, int64_t *value)
{
    if (!isdigit ((unsigned char) *text))
        return -1;              //  no sign, no leading space
    errno = 0;
    char *end;
    long long number = strtoll (text, &end, 10);
    if (end == text || errno || number < 0)
        return -1;
    int64_t factor = bare;
    if (*end) {
        factor = 0;
        for (int i = 0; suffixes [i]; i++)
            if (strcmp (end, suffixes [i]) == 0)
                factor = factors [i];
    }
    if (!factor)
        return -1;              //  an unknown unit, or none where one is needed
    if (number > INT64_MAX / factor)
        return -1;
    *value = number * factor;
    return 0;
}

static const char *const s_duration_units [] = { "ms", "s", "m", "h", NULL };
static const int64_t s_duration_factors [] = { 1, 1000, 60000, 3600000 };

int
hr_config_duration (const char *text, int64_t *ms)
{
    //  A bare number is taken at factor 0 by s_number: refused
    return s_number (text, s_duration_units, s_duration_factors, 0, ms);
}

static int
s_set (const hr_option_t *opt, void *config, const char *value, hr_buf_t *err,
       const char *origin)
{
    char *field = (char *) config + opt->offset;
    int64_t number = 0;
    int rc = 0;
    switch (opt->type) {
        case HR_OPT_STRING:
            *(const char **) field = value;
            return 0;
        case HR_OPT_BOOL:
            if (!strcmp (value, "1") || !strcmp (value, "true") || !strcmp (value, "yes") || !strcmp (value, "on"))
                *(bool *) field = true;
            else
            if (!strcmp (value, "0") || !strcmp (value, "false") || !strcmp (value, "no") || !strcmp (value, "off"))
                *(bool *) field = false;
            else
                rc = -1;
            break;
        case HR_OPT_INT: {
            static const char *const none [] = { NULL };
            rc = s_number (value, none, NULL, 1, &number);
            break;
        }
        case HR_OPT_BYTES: {
            static const char *const units [] = { "K", "KiB", "M", "MiB", "G", "GiB", NULL };
            static const int64_t factors [] = { 1024, 1024, 1 << 20, 1 << 20, 1 << 30, 1 << 30 };
            rc = s_number (value, units, factors, 1, &number);
            break;
        }
        case HR_OPT_MILLIS_AUTO:
            if (!strcmp (value, "auto")) {
                *(int64_t *) field = HR_OPT_AUTO;
                return 0;
            }
            //  Fall through: a duration
        case HR_OPT_MILLIS:
            rc = s_number (value, s_duration_units, s_duration_factors, 1000, &number);
            break;
    }
    if (rc == 0 && opt->type != HR_OPT_BOOL) {
        if ((opt->min || opt->max) && (number < opt->min || number > opt->max)) {
            hr_buf_printf (err, "%s --%s: %s is out of range [%lld, %lld]", origin,
                           opt->name, value, (long long) opt->min, (long long) opt->max);
            return -1;
        }
        *(int64_t *) field = number;
    }
    if (rc)
        hr_buf_printf (err, "%s --%s: cannot parse '%s' (expected %s)", origin,
                       opt->name, value, opt->metavar? opt->metavar: "a value");
    return rc;
}

static const hr_option_t *
s_find (const hr_option_t *options, const char *name, size_t len)
{
    for (const hr_option_t *opt = options; opt->name; opt++)
        if (strlen (opt->name) == len && strncmp (opt->name, name, len) == 0)
            return opt;
    return NULL;
}

hr_config_rc_t
hr_config_parse (const hr_option_t *options, void *config, int argc, char **argv,
                 const char **positional, int max_positional,
                 int *positional_count, hr_buf_t *err)
{
    for (const hr_option_t *opt = options; opt->name; opt++) {
        char env [128];
        s_env_name (opt->name, env, sizeof env);
        const char *value = getenv (env);
        if (value && s_set (opt, config, value, err, env))
            return HR_CONFIG_ERROR;
    }
    int count = 0;
    bool flags_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (flags_done || arg [0] != '-' || arg [1] == 0) {
            if (count >= max_positional) {
                hr_buf_printf (err, "unexpected argument '%s'", arg);
                return HR_CONFIG_ERROR;
            }
            positional [count++] = arg;
            continue;
        }
        if (!strcmp (arg, "--")) {
            flags_done = true;
            continue;
        }
        if (!strcmp (arg, "-h") || !strcmp (arg, "--help"))
            return HR_CONFIG_HELP;
        if (arg [1] != '-') {
            hr_buf_printf (err, "unknown option '%s'", arg);
            return HR_CONFIG_ERROR;
        }
        const char *name = arg + 2;
        const char *equals = strchr (name, '=');
        size_t len = equals? (size_t) (equals - name): strlen (name);
        const hr_option_t *opt = s_find (options, name, len);
        if (!opt) {
            hr_buf_printf (err, "unknown option '--%.*s' (see --help)", (int) len, name);
            return HR_CONFIG_ERROR;
        }
        const char *value = equals? equals + 1: NULL;
        if (!value && opt->type == HR_OPT_BOOL)
            value = "true";
        if (!value) {
            if (i + 1 >= argc) {
                hr_buf_printf (err, "option --%s needs a value (%s)", opt->name,
                               opt->metavar? opt->metavar: "VALUE");
                return HR_CONFIG_ERROR;
            }
            value = argv [++i];
        }
        if (s_set (opt, config, value, err, "option"))
            return HR_CONFIG_ERROR;
    }
    if (positional_count)
        *positional_count = count;
    return HR_CONFIG_OK;
}

static void
s_format_value (const hr_option_t *opt, const void *config, char *out, size_t size)
{
    const char *field = (const char *) config + opt->offset;
    int64_t number = 0;
    if (opt->type != HR_OPT_STRING && opt->type != HR_OPT_BOOL)
        number = *(const int64_t *) field;
    switch (opt->type) {
        case HR_OPT_STRING: {
            const char *text = *(const char *const *) field;
            snprintf (out, size, "%s", text && *text? text: "(none)");
            break;
        }
        case HR_OPT_BOOL:
            snprintf (out, size, "%s", *(const bool *) field? "true": "false");
            break;
        case HR_OPT_BYTES:
            if (number && number % (1 << 20) == 0)
                snprintf (out, size, "%lldM", (long long) (number >> 20));
            else
            if (number && number % 1024 == 0)
                snprintf (out, size, "%lldK", (long long) (number >> 10));
            else
                snprintf (out, size, "%lld", (long long) number);
            break;
        case HR_OPT_MILLIS_AUTO:
            if (number == HR_OPT_AUTO) {
                snprintf (out, size, "auto");
                break;
            }
            //  Fall through: a duration
        case HR_OPT_MILLIS:
            if (number % 1000 == 0)
                snprintf (out, size, "%llds", (long long) (number / 1000));
            else
                snprintf (out, size, "%lldms", (long long) number);
            break;
        default:
            snprintf (out, size, "%lld", (long long) number);
            break;
    }
}

void
hr_config_help (FILE *out, const char *usage, const char *summary,
                const hr_option_t *options, const void *config)
{
    fprintf (out, "usage: %s\n\n%s\n\noptions (each also read from HERALD_<NAME>; flags win):\n",
             usage, summary);
    for (const hr_option_t *opt = options; opt->name; opt++) {
        char flag [96], value [64], env [128];
        snprintf (flag, sizeof flag, "--%s %s", opt->name,
                  opt->type == HR_OPT_BOOL? "": opt->metavar? opt->metavar: "VALUE");
        s_format_value (opt, config, value, sizeof value);
        s_env_name (opt->name, env, sizeof env);
        fprintf (out, "  %-30s %s\n  %-30s [default: %s; env %s]\n", flag, opt->help,
                 "", value, env);
    }
    fprintf (out, "  %-30s %s\n", "-h, --help", "show this help");
}

int
hr_config_host_port (const char *text, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr (text, ':');
    if (!colon)
        return -1;
    const char *start = text, *stop = colon;
    if (*start == '[') {
        if (stop == start || stop [-1] != ']')
            return -1;
        start++;
        stop--;
    }
    size_t len = (size_t) (stop - start);
    if (len >= host_size)
        return -1;
    memcpy (host, start, len);
    host [len] = 0;
    char *end;
    errno = 0;
    if (!isdigit ((unsigned char) colon [1]))
        return -1;
    long value = strtol (colon + 1, &end, 10);
    if (end == colon + 1 || *end || errno || value < 0 || value > 65535)
        return -1;
    *port = (int) value;
    return 0;
}

bool
hr_host_loopback (const char *host)
{
    char text [INET6_ADDRSTRLEN + 2];
    size_t len = strlen (host);
    if (len >= 2 && host [0] == '[' && host [len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof text)
        return false;
    memcpy (text, host, len);
    text [len] = 0;
    if (strcasecmp (text, "localhost") == 0)
        return true;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton (AF_INET, text, &v4) == 1)
        return (ntohl (v4.s_addr) >> 24) == 127;
    if (inet_pton (AF_INET6, text, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK (&v6)
            || (IN6_IS_ADDR_V4MAPPED (&v6) && v6.s6_addr [12] == 127);
    return false;
}

bool
hr_endpoint_loopback (const char *endpoint)
{
    if (!strncmp (endpoint, "inproc://", 9) || !strncmp (endpoint, "ipc://", 6))
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    char host [256];
    //  The port may be "*" or "!" (ZeroMQ's wildcards): only the host matters
    const char *colon = strrchr (endpoint + 6, ':');
    size_t len = colon? (size_t) (colon - (endpoint + 6)): 0;
    if (!colon || len >= sizeof host)
        return false;
    memcpy (host, endpoint + 6, len);
    host [len] = 0;
    return hr_host_loopback (host);
}
