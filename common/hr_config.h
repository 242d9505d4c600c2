/*  hr_config: command-line flags and HERALD_* environment variables.

    Each command describes its options in a table of hr_option_t pointing
    into its own config struct, which holds the defaults before parsing.
    Values come from the environment (HERALD_MAX_EVENT for --max-event)
    and then from flags, so flags win. --help is generated from the table
    and shows each default. Strings are not copied: they point into argv,
    environ or the default literal, all of which outlive the command.  */
#ifndef HR_CONFIG_H
#define HR_CONFIG_H

#include "hr_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    HR_OPT_STRING,              //  const char *
    HR_OPT_INT,                 //  int64_t, within [min, max]
    HR_OPT_BOOL,                //  bool; "--flag" alone means true
    HR_OPT_BYTES,               //  int64_t bytes: 4096, 64K, 1M, 1G
    HR_OPT_MILLIS,              //  int64_t ms: 500ms, 15s, 5m, 1h; bare number = seconds
    HR_OPT_MILLIS_AUTO,         //  as HR_OPT_MILLIS, or "auto": HR_OPT_AUTO
} hr_opt_type_t;

//  The value of an HR_OPT_MILLIS_AUTO option set to "auto": the program
//  chooses, and may change its choice as it runs.
#define HR_OPT_AUTO (-1)

typedef struct {
    const char *name;           //  flag without "--", e.g. "max-event"
    hr_opt_type_t type;
    size_t offset;              //  offsetof the field in the config struct
    const char *metavar;        //  shown in --help, e.g. "HOST:PORT"
    const char *help;
    int64_t min, max;           //  bounds for numeric types (0, 0 = none)
} hr_option_t;

//  A table ends with an entry whose name is NULL.
#define HR_OPTIONS_END { NULL, HR_OPT_STRING, 0, NULL, NULL, 0, 0 }

typedef enum { HR_CONFIG_OK, HR_CONFIG_HELP, HR_CONFIG_ERROR } hr_config_rc_t;

//  Applies environment variables, then argv[1..argc) to config. Arguments
//  that are not flags are collected into positional (argv pointers, at most
//  max_positional; *positional_count receives how many). On error, a one-line
//  reason is left in err.
hr_config_rc_t hr_config_parse (const hr_option_t *options, void *config,
                                int argc, char **argv,
                                const char **positional, int max_positional,
                                int *positional_count, hr_buf_t *err);

//  Prints usage, summary and every option with its current value as default.
void hr_config_help (FILE *out, const char *usage, const char *summary,
                     const hr_option_t *options, const void *config);

//  Parses "HOST:PORT" (host may be empty for 0.0.0.0, or [v6]). Returns -1
//  when malformed. host receives at most host_size bytes.
int hr_config_host_port (const char *text, char *host, size_t host_size, int *port);

//  Parses a duration as HR_OPT_MILLIS does ("500ms", "15s", "5m", "1h"),
//  but only with a unit: a bare number is refused (-1), so a caller may
//  take it for something else (`herald revoke --until`: Unix seconds).
int hr_config_duration (const char *text, int64_t *ms);

//  True when host (no port; an IPv6 address with or without brackets) is a
//  loopback address: 127.0.0.0/8, ::1 (or ::ffff:127.x.y.z), or "localhost".
//  Anything else, "*", "" and interface names included, is not.
bool hr_host_loopback (const char *host);

//  True when a ZeroMQ endpoint cannot be reached from another machine:
//  inproc://, ipc://, or tcp:// whose host is loopback (hr_host_loopback).
//  Every other transport, and tcp://*:PORT or an interface name, is not.
bool hr_endpoint_loopback (const char *endpoint);

#endif
