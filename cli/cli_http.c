/*  cli_http: a tiny blocking HTTP/1.0 GET (cli_http.h).  */
#include "cli_http.h"
#include "hr_config.h"
#include "hr_time.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

//  Waits until fd is ready for events or the deadline (monotonic ms)
//  passes; false on the deadline.
static bool
s_wait (int fd, short events, uint64_t deadline)
{
    while (true) {
        uint64_t now = hr_mono_ms ();
        if (now >= deadline)
            return false;
        struct pollfd item = { fd, events, 0 };
        int rc = poll (&item, 1, (int) (deadline - now));
        if (rc > 0)
            return true;
        if (rc < 0 && errno != EINTR)
            return false;
    }
}

//  A connected non-blocking socket to host:port, or -1 with why in err.
static int
s_connect (const char *host, int port, uint64_t deadline, hr_buf_t *err)
{
    char service [16];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
    int rc = getaddrinfo (host, service, &hints, &list);
    if (rc != 0) {
        hr_buf_printf (err, "%s: %s", host, gai_strerror (rc));
        return -1;
    }
    int fd = -1;
    const char *why = "no address";
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket (ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     ai->ai_protocol);
        if (fd < 0) {
            why = strerror (errno);
            continue;
        }
        int error = 0;
        socklen_t len = sizeof error;
        if (connect (fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
            error = errno;
        else
        if (!s_wait (fd, POLLOUT, deadline))
            error = ETIMEDOUT;
        else
            getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error) {
            why = strerror (error);
            close (fd);
            fd = -1;
        }
    }
    freeaddrinfo (list);
    if (fd < 0)
        hr_buf_printf (err, "cannot connect: %s", why);
    return fd;
}

//  Sends all of data; false with why in err.
static bool
s_send (int fd, const char *data, size_t size, uint64_t deadline, hr_buf_t *err)
{
    while (size > 0) {
        if (!s_wait (fd, POLLOUT, deadline)) {
            hr_buf_puts (err, "timed out sending the request");
            return false;
        }
        ssize_t sent = send (fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR) {
            hr_buf_printf (err, "send: %s", strerror (errno));
            return false;
        }
        if (sent > 0) {
            data += sent;
            size -= (size_t) sent;
        }
    }
    return true;
}

//  Reads until the server closes; false with why in err.
static bool
s_receive (int fd, hr_buf_t *in, uint64_t deadline, hr_buf_t *err)
{
    while (true) {
        if (!s_wait (fd, POLLIN, deadline)) {
            hr_buf_puts (err, "timed out waiting for the answer");
            return false;
        }
        hr_buf_reserve (in, 4096);
        ssize_t got = recv (fd, in->data + in->size, 4096, 0);
        if (got == 0)
            return true;
        if (got < 0 && errno != EAGAIN && errno != EINTR) {
            hr_buf_printf (err, "recv: %s", strerror (errno));
            return false;
        }
        if (got > 0) {
            in->size += (size_t) got;
            in->data [in->size] = 0;
        }
        if (in->size > CLI_HTTP_MAX) {
            hr_buf_printf (err, "the answer is over %d bytes", CLI_HTTP_MAX);
            return false;
        }
    }
}

char *
cli_http_get (const char *address, const char *path, int64_t timeout_ms, hr_buf_t *err)
{
    char host [256];
    int port;
    if (hr_config_host_port (address, host, sizeof host, &port) != 0 || !*host) {
        hr_buf_puts (err, "not HOST:PORT");
        return NULL;
    }
    uint64_t deadline = hr_mono_ms () + (uint64_t) (timeout_ms > 0? timeout_ms: 0);
    int fd = s_connect (host, port, deadline, err);
    if (fd < 0)
        return NULL;
    hr_buf_t request = HR_BUF_INIT, in = HR_BUF_INIT;
    hr_buf_printf (&request, "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n",
                   path, address);
    char *body = NULL;
    if (s_send (fd, request.data, request.size, deadline, err)
    &&  s_receive (fd, &in, deadline, err)) {
        int minor = 0, status = 0;
        const char *end = in.data? strstr (in.data, "\r\n\r\n"): NULL;
        if (!end || sscanf (in.data, "HTTP/1.%d %d", &minor, &status) != 2)
            hr_buf_puts (err, "not an HTTP answer");
        else
        if (status != 200)
            hr_buf_printf (err, "answered HTTP %d", status);
        else
            body = hr_strdup (end + 4);
    }
    close (fd);
    hr_buf_free (&request);
    hr_buf_free (&in);
    return body;
}
