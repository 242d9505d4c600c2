/*  hr_error: names, statuses and messages of the error codes.  */
#include "hr_error.h"

typedef struct {
    const char *code;
    int status;
    const char *message;
} s_error_info_t;

static const s_error_info_t s_errors [HR_E_COUNT] = {
    [HR_OK] = { "ok", 200, "ok" },
    [HR_E_FRAME_TOO_LARGE] = { "frame_too_large", 413, "frame exceeds the maximum event size" },
    [HR_E_TRUNCATED] = { "truncated", 400, "frame ends in the middle of a value" },
    [HR_E_BAD_LENGTH] = { "bad_length", 400, "declared length is larger than the bytes left" },
    [HR_E_BAD_MSGPACK] = { "bad_msgpack", 400, "frame is not valid MessagePack" },
    [HR_E_TOO_DEEP] = { "too_deep", 400, "data nests deeper than 32 levels" },
    [HR_E_TRAILING_BYTES] = { "trailing_bytes", 400, "bytes after the end of the frame's map" },
    [HR_E_BAD_TYPE] = { "bad_type", 400, "frame must be a map with string keys and typed fields" },
    [HR_E_MISSING_FIELD] = { "missing_field", 400, "a required field (channel, data) is missing" },
    [HR_E_DUPLICATE_FIELD] = { "duplicate_field", 400, "a field appears twice" },
    [HR_E_BAD_FIELD] = { "bad_field", 400, "unknown field, or a field out of its format" },
    [HR_E_BAD_CHANNEL] = { "bad_channel", 400, "channel name must be 1-128 bytes of [A-Za-z0-9_.:@/-]" },
    [HR_E_TOO_MANY_CHANNELS] = { "too_many_channels", 400, "at most 64 channels per connection" },
    [HR_E_BAD_CURSOR] = { "bad_cursor", 400, "Last-Event-ID is not a valid cursor for these channels" },
    [HR_E_BAD_JSON] = { "bad_json", 400, "body must be a JSON event object or an array of them" },
    [HR_E_BAD_REQUEST] = { "bad_request", 400, "malformed request" },
    [HR_E_NOT_FOUND] = { "not_found", 404, "no such route" },
    [HR_E_METHOD_NOT_ALLOWED] = { "method_not_allowed", 405, "method not allowed on this route" },
    [HR_E_BODY_TOO_LARGE] = { "body_too_large", 413, "request body is too large" },
    [HR_E_HEADERS_TOO_LARGE] = { "headers_too_large", 431, "request line and headers are too large" },
    [HR_E_BROKER_UNAVAILABLE] = { "broker_unavailable", 503, "broker unavailable" },
    [HR_E_OVERLOADED] = { "overloaded", 503, "connection limit reached; retry later" },
    [HR_E_INTERNAL] = { "internal", 500, "internal error" },
    [HR_E_FORBIDDEN] = { "forbidden", 403, "not allowed" },
    [HR_E_UPGRADE_REQUIRED] = { "upgrade_required", 426, "WebSocket version 13 is required" },
    [HR_E_TOKEN_MISSING] = { "token_missing", 401, "a token is required" },
    [HR_E_TOKEN_EXPIRED] = { "token_expired", 401, "the token has expired" },
    [HR_E_TOKEN_NOT_YET_VALID] = { "token_not_yet_valid", 401, "the token is not valid yet (nbf or iat in the future)" },
    [HR_E_TOKEN_REVOKED] = { "token_revoked", 401, "the token has been revoked" },
    [HR_E_TOKEN_INVALID] = { "token_invalid", 401, "the token is invalid" },
    [HR_E_UNSUPPORTED_MEDIA_TYPE] = { "unsupported_media_type", 415, "Content-Type must be application/json" },
    [HR_E_RATE_LIMITED] = { "rate_limited", 429, "too many publishes; retry later" },
    [HR_E_TOO_MANY_CONNECTIONS] = { "too_many_connections", 429, "too many connections from this address" },
    [HR_E_UNAVAILABLE] = { "unavailable", 503, "no broker may sequence this channel now (a failover, or this broker is cut off from the majority); retry with the same id" },
    [HR_E_STORAGE_FULL] = { "storage_full", 507, "the broker cannot store the event: its history is over --history-disk and nothing older can be evicted; retry later with the same id" },
};

const char *
hr_error_code (hr_error_t error)
{
    return error < HR_E_COUNT? s_errors [error].code: "internal";
}

int
hr_error_http_status (hr_error_t error)
{
    return error < HR_E_COUNT? s_errors [error].status: 500;
}

const char *
hr_error_message (hr_error_t error)
{
    return error < HR_E_COUNT? s_errors [error].message: "internal error";
}
