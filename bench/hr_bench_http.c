/*  hr_bench_http.c - the little HTTP/1.1 client side the generator needs

    Strict enough to notice a broken stream, lenient where servers differ
    (header case, optional chunk extensions and trailers).
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hr_bench_http.h"

int
hr_bench_url_parse (hr_bench_url_t *self, const char *url)
{
    memset (self, 0, sizeof *self);
    if (strncmp (url, "http://", 7) != 0) {
        fprintf (stderr, "hr-bench: only http:// URLs are supported: %s\n", url);
        return -1;
    }
    const char *host = url + 7;
    const char *slash = strchr (host, '/');
    const char *host_end = slash? slash: host + strlen (host);
    const char *colon = memchr (host, ':', (size_t) (host_end - host));
    const char *name_end = colon? colon: host_end;
    if (name_end == host || (size_t) (host_end - host) >= sizeof self->host
    ||  strlen (slash? slash: "/") >= sizeof self->path) {
        fprintf (stderr, "hr-bench: bad URL: %s\n", url);
        return -1;
    }
    memcpy (self->host, host, (size_t) (host_end - host));
    strcpy (self->path, slash? slash: "/");
    self->port = 80;
    if (colon) {
        char *end;
        long port = strtol (colon + 1, &end, 10);
        if (end != host_end || port < 1 || port > 65535) {
            fprintf (stderr, "hr-bench: bad port in URL: %s\n", url);
            return -1;
        }
        self->port = (uint16_t) port;
    }
    char name [256];
    snprintf (name, sizeof name, "%.*s", (int) (name_end - host), host);
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *found = NULL;
    int rc = getaddrinfo (name, NULL, &hints, &found);
    if (rc != 0 || !found) {
        fprintf (stderr, "hr-bench: cannot resolve %s: %s\n", name, gai_strerror (rc));
        return -1;
    }
    memcpy (&self->addr, found->ai_addr, sizeof self->addr);
    self->addr.sin_port = htons (self->port);
    freeaddrinfo (found);
    return 0;
}

size_t
hr_bench_url_path (const hr_bench_url_t *self, const char *channel, char *buf, size_t size)
{
    size_t out = 0;
    size_t channel_len = strlen (channel);
    for (const char *cursor = self->path; *cursor; ) {
        if (strncmp (cursor, "{ch}", 4) == 0) {
            if (out + channel_len >= size)
                return 0;
            memcpy (buf + out, channel, channel_len);
            out += channel_len;
            cursor += 4;
        }
        else {
            if (out + 1 >= size)
                return 0;
            buf [out++] = *cursor++;
        }
    }
    buf [out] = '\0';
    return out;
}

bool
hr_bench_url_is_loopback (const hr_bench_url_t *self)
{
    return (ntohl (self->addr.sin_addr.s_addr) >> 24) == 127;
}

int
hr_bench_http_connect (const hr_bench_url_t *self, uint32_t src)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (src > 0) {
        //  Let connect() pick the port, so the kernel can reuse one port
        //  for different destinations instead of reserving it at bind().
        int on = 1;
        setsockopt (fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
        struct sockaddr_in local = {
            .sin_family = AF_INET,
            .sin_addr.s_addr = htonl (0x7f000000u | src)
        };
        if (bind (fd, (struct sockaddr *) &local, sizeof local) != 0) {
            close (fd);
            return -2;
        }
    }
    if (connect (fd, (const struct sockaddr *) &self->addr, sizeof self->addr) != 0
    &&  errno != EINPROGRESS) {
        int saved = errno;
        close (fd);
        errno = saved;
        return -1;
    }
    return fd;
}

//  Case-insensitive: does the header line start with name and a colon?
//  Returns the value with leading blanks skipped, or NULL.
static const char *
s_header_value (const char *line, const char *line_end, const char *name)
{
    size_t name_len = strlen (name);
    if ((size_t) (line_end - line) <= name_len
    ||  strncasecmp (line, name, name_len) != 0 || line [name_len] != ':')
        return NULL;
    const char *value = line + name_len + 1;
    while (value < line_end && (*value == ' ' || *value == '\t'))
        value++;
    return value;
}

ssize_t
hr_bench_http_head_parse (const char *buf, size_t len, hr_bench_http_head_t *head)
{
    const char *end = memmem (buf, len, "\r\n\r\n", 4);
    if (!end)
        return len > 16384? -1: 0;     //  no server we test sends such heads
    memset (head, 0, sizeof *head);
    if (end - buf < 12 || strncmp (buf, "HTTP/1.", 7) != 0 || buf [8] != ' ')
        return -1;
    int status = 0;
    for (int digit = 9; digit < 12; digit++) {
        if (buf [digit] < '0' || buf [digit] > '9')
            return -1;
        status = status * 10 + (buf [digit] - '0');
    }
    head->status = status;
    const char *line = (const char *) memchr (buf, '\n', (size_t) (end + 2 - buf)) + 1;
    while (line < end + 2) {
        const char *line_end = memchr (line, '\r', (size_t) (end + 2 - line));
        const char *value;
        if ((value = s_header_value (line, line_end, "transfer-encoding"))) {
            if (memmem (value, (size_t) (line_end - value), "chunked", 7))
                head->chunked = true;
        }
        else
        if ((value = s_header_value (line, line_end, "content-length"))) {
            char *number_end;
            head->content_length = strtoull (value, &number_end, 10);
            if (number_end == value)
                return -1;
            head->has_length = true;
        }
        else
        if ((value = s_header_value (line, line_end, "connection"))) {
            if (strncasecmp (value, "close", 5) == 0)
                head->close = true;
        }
        line = line_end + 2;
    }
    if (buf [7] == '0')
        head->close = true;     //  HTTP/1.0 closes unless told otherwise
    return end + 4 - buf;
}

enum {
    S_SIZE_FIRST, S_SIZE, S_EXT, S_SIZE_LF, S_DATA, S_DATA_CR, S_DATA_LF,
    S_TRAILER_START, S_TRAILER_LINE, S_END_LF, S_DONE
};

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int
hr_bench_chunked_feed (hr_bench_chunked_t *self, const char *data, size_t len,
                       hr_bench_data_fn *fn, void *arg, size_t *used)
{
    size_t at = 0;
    while (at < len && self->state != S_DONE) {
        char c = data [at];
        switch (self->state) {
            case S_SIZE_FIRST:
                if (s_hex (c) < 0)
                    return -1;
                self->size = (uint64_t) s_hex (c);
                self->state = S_SIZE;
                at++;
                break;
            case S_SIZE:
                if (s_hex (c) >= 0) {
                    if (self->size >> 40)
                        return -1;      //  a terabyte chunk is a broken stream
                    self->size = self->size * 16 + (uint64_t) s_hex (c);
                }
                else if (c == ';' || c == ' ' || c == '\t')
                    self->state = S_EXT;
                else if (c == '\r')
                    self->state = S_SIZE_LF;
                else
                    return -1;
                at++;
                break;
            case S_EXT:
                if (c == '\r')
                    self->state = S_SIZE_LF;
                at++;
                break;
            case S_SIZE_LF:
                if (c != '\n')
                    return -1;
                self->state = self->size? S_DATA: S_TRAILER_START;
                at++;
                break;
            case S_DATA: {
                size_t part = len - at < self->size? len - at: (size_t) self->size;
                if (fn && fn (arg, data + at, part) != 0)
                    return -1;
                self->size -= part;
                at += part;
                if (self->size == 0)
                    self->state = S_DATA_CR;
                break;
            }
            case S_DATA_CR:
                if (c != '\r')
                    return -1;
                self->state = S_DATA_LF;
                at++;
                break;
            case S_DATA_LF:
                if (c != '\n')
                    return -1;
                self->state = S_SIZE_FIRST;
                at++;
                break;
            case S_TRAILER_START:
                self->state = c == '\r'? S_END_LF: S_TRAILER_LINE;
                at++;
                break;
            case S_TRAILER_LINE:
                if (c == '\n')
                    self->state = S_TRAILER_START;
                at++;
                break;
            case S_END_LF:
                if (c != '\n')
                    return -1;
                self->state = S_DONE;
                at++;
                break;
        }
    }
    if (used)
        *used = at;
    return self->state == S_DONE? 1: 0;
}
