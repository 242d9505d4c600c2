/*  hr_error: Herald's stable error codes.

    One enum for every error a client can see, on any transport. Each code
    has a wire name (docs/protocol.md §2.2 and §9), an HTTP status and a
    default message. Functions that can fail on network input return one of
    these, so callers can tell failures apart and count them by code.  */
#ifndef HR_ERROR_H
#define HR_ERROR_H

typedef enum {
    HR_OK = 0,
    //  MessagePack frames (docs/protocol.md §2.2)
    HR_E_FRAME_TOO_LARGE,
    HR_E_TRUNCATED,
    HR_E_BAD_LENGTH,
    HR_E_BAD_MSGPACK,
    HR_E_TOO_DEEP,
    HR_E_TRAILING_BYTES,
    HR_E_BAD_TYPE,
    HR_E_MISSING_FIELD,
    HR_E_DUPLICATE_FIELD,
    HR_E_BAD_FIELD,
    HR_E_BAD_CHANNEL,
    //  Requests (docs/protocol.md §9)
    HR_E_TOO_MANY_CHANNELS,
    HR_E_BAD_CURSOR,
    HR_E_BAD_JSON,
    HR_E_BAD_REQUEST,
    HR_E_NOT_FOUND,
    HR_E_METHOD_NOT_ALLOWED,
    HR_E_BODY_TOO_LARGE,
    HR_E_HEADERS_TOO_LARGE,
    HR_E_BROKER_UNAVAILABLE,
    HR_E_OVERLOADED,
    HR_E_INTERNAL,
    HR_E_FORBIDDEN,
    HR_E_UPGRADE_REQUIRED,
    //  Tokens and limits (docs/security.md)
    HR_E_TOKEN_MISSING,
    HR_E_TOKEN_EXPIRED,
    HR_E_TOKEN_NOT_YET_VALID,
    HR_E_TOKEN_REVOKED,
    HR_E_TOKEN_INVALID,
    HR_E_UNSUPPORTED_MEDIA_TYPE,
    HR_E_RATE_LIMITED,
    HR_E_TOO_MANY_CONNECTIONS,
    HR_E_UNAVAILABLE,           //  no broker may sequence the channel now (failover)
    HR_E_STORAGE_FULL,          //  the broker's durable history is full (--history-disk)
    HR_E_COUNT
} hr_error_t;

//  The wire name, e.g. "bad_channel". Static string.
const char *hr_error_code (hr_error_t error);

//  The HTTP status that goes with the code (400, 404, 413, 503...).
int hr_error_http_status (hr_error_t error);

//  A one-line explanation for the client. Static string.
const char *hr_error_message (hr_error_t error);

#endif
