/*  hr_bench_http.h - the little HTTP/1.1 client side the generator needs

    URL templates, non-blocking connects from a chosen source address,
    response heads and chunked transfer decoding. Streaming parsers keep
    their state in small structs, since 20,000 subscribers each own one.
*/
#ifndef HR_BENCH_HTTP_H_INCLUDED
#define HR_BENCH_HTTP_H_INCLUDED

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char host [256];            //  as written, for the Host header
    uint16_t port;
    char path [1024];           //  path and query; may hold {ch}
    struct sockaddr_in addr;    //  resolved IPv4 address
} hr_bench_url_t;

//  Parses "http://host[:port]/path?query" and resolves host (IPv4).
//  Returns 0, or -1 with a message on stderr.
int
    hr_bench_url_parse (hr_bench_url_t *self, const char *url);

//  Writes the URL's path with every {ch} replaced by channel. Returns the
//  length, or 0 if buf is too small.
size_t
    hr_bench_url_path (const hr_bench_url_t *self, const char *channel,
                       char *buf, size_t size);

//  True when the URL's address is in 127.0.0.0/8, where any 127.x source
//  address may be used.
bool
    hr_bench_url_is_loopback (const hr_bench_url_t *self);

//  Opens a non-blocking TCP socket, binds it to 127.0.0.<src> when src is
//  non-zero, and starts connecting to the URL's address. Returns the socket,
//  -2 when bind failed, or -1 when the socket or connect failed.
int
    hr_bench_http_connect (const hr_bench_url_t *self, uint32_t src);

typedef struct {
    int status;
    bool chunked;
    bool has_length;
    bool close;                 //  Connection: close
    uint64_t content_length;
} hr_bench_http_head_t;

//  Parses a response head at the start of buf. Returns its length (status
//  line to the blank line), 0 when more bytes are needed, -1 if malformed.
ssize_t
    hr_bench_http_head_parse (const char *buf, size_t len, hr_bench_http_head_t *head);

//  Chunked transfer decoder; zero it to start.
typedef struct {
    uint8_t state;
    uint64_t size;              //  bytes left in the current chunk
} hr_bench_chunked_t;

typedef int (hr_bench_data_fn) (void *arg, const char *data, size_t len);

//  Feeds raw body bytes; calls fn (when not NULL) for each piece of chunk
//  data. Returns 1 once the last chunk and trailers are read (*used tells
//  how many bytes that took), 0 when more is needed, -1 on bad framing or
//  when fn returned non-zero.
int
    hr_bench_chunked_feed (hr_bench_chunked_t *self, const char *data, size_t len,
                           hr_bench_data_fn *fn, void *arg, size_t *used);

#endif
