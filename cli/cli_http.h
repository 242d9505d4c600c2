/*  cli_http: a tiny blocking HTTP/1.0 GET, for `herald cluster` asking a
    broker's --http address. One request per connection, the whole answer
    read until the server closes, everything within one deadline.  */
#ifndef HERALD_CLI_HTTP_H
#define HERALD_CLI_HTTP_H

#include "hr_buf.h"

#include <stdint.h>

//  Largest answer read; a longer one is refused.
#define CLI_HTTP_MAX (1 << 20)

//  GETs path (starting with '/', already escaped) from address HOST:PORT
//  within timeout_ms in all. Returns the body when the status is 200 (the
//  caller frees it), or NULL with why not in err.
char *cli_http_get (const char *address, const char *path, int64_t timeout_ms,
                    hr_buf_t *err);

#endif
