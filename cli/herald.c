/*  herald: the command. Dispatches to the subcommands.  */
#include "cli.h"
#include "hr_bench.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run) (int argc, char **argv);
    const char *summary;
} s_command_t;

static const s_command_t s_commands [] = {
    { "run", cmd_run, "broker and gateway in one process: the embedded default" },
    { "broker", cmd_broker, "the broker alone: sequencing, history, the event stream" },
    { "gateway", cmd_gateway, "the HTTP edge alone (SSE, publish, history), fed by a broker" },
    { "pub", cmd_pub, "publish one event from the shell" },
    { "sub", cmd_sub, "print a broker's events as JSON lines" },
    { "revoke", cmd_revoke, "revoke a subject's or a token's tokens at every gateway" },
    { "keygen", cmd_keygen, "make a key: token signing (JWK/JWKS) or CURVE certificates" },
    { "token", cmd_token, "mint a token for development and tests" },
    { "cluster", cmd_cluster, "a cluster's view, and which broker owns a channel" },
    { "bench", hr_bench_main, "load generator: subscribers, publish rate, latency, loss" },
};

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: herald COMMAND [OPTIONS]\n\n"
                  "Herald %s: a real-time event broker. Backends publish; browsers\n"
                  "receive events over Server-Sent Events and never silently miss one.\n\n"
                  "commands:\n", HERALD_VERSION);
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands [0]; i++)
        fprintf (out, "  %-10s %s\n", s_commands [i].name, s_commands [i].summary);
    fprintf (out, "\n`herald COMMAND --help` shows a command's options.\n"
                  "herald --version prints the version.\n");
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    const char *name = argv [1];
    if (!strcmp (name, "--version") || !strcmp (name, "version")) {
        printf ("herald %s\n", HERALD_VERSION);
        return 0;
    }
    if (!strcmp (name, "--help") || !strcmp (name, "-h") || !strcmp (name, "help")) {
        s_usage (stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands [0]; i++)
        if (!strcmp (name, s_commands [i].name))
            return s_commands [i].run (argc - 1, argv + 1);
    fprintf (stderr, "herald: unknown command '%s'\n\n", name);
    s_usage (stderr);
    return 2;
}
