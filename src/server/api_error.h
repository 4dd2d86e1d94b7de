/* The server's error vocabulary: every failure a client can see has one row
 * here (HTTP status, OpenAI-style "type", a stable "code" string), so the
 * JSON error body, the log line and the errors_total metric all agree.
 * Bodies follow OpenAI's shape: {"error": {"message", "type", "code"}}. */
#ifndef TR_SERVER_API_ERROR_H
#define TR_SERVER_API_ERROR_H

#include <stddef.h>

#define TR_API_ERROR_TABLE(X)                                                   \
    X(TR_API_BAD_JSON, 400, "invalid_request_error", "invalid_json")            \
    X(TR_API_BAD_FIELD, 400, "invalid_request_error", "invalid_field")          \
    X(TR_API_EMPTY_PROMPT, 400, "invalid_request_error", "empty_prompt")        \
    X(TR_API_UNKNOWN_MODEL, 400, "invalid_request_error", "unknown_model")      \
    X(TR_API_NO_CANDIDATE, 400, "invalid_request_error", "no_candidate_model")  \
    X(TR_API_BAD_FRAMING, 400, "invalid_request_error", "bad_framing")          \
    X(TR_API_UNAUTHORIZED, 401, "invalid_request_error", "unauthorized")        \
    X(TR_API_BAD_KEY, 401, "invalid_request_error", "invalid_api_key")          \
    X(TR_API_FORBIDDEN, 403, "invalid_request_error", "forbidden")              \
    X(TR_API_NOT_FOUND, 404, "invalid_request_error", "not_found")              \
    X(TR_API_BAD_METHOD, 405, "invalid_request_error", "method_not_allowed")    \
    X(TR_API_RELOAD_REFUSED, 409, "server_error", "reload_refused")             \
    X(TR_API_LENGTH_REQUIRED, 411, "invalid_request_error", "length_required")  \
    X(TR_API_TOO_LARGE, 413, "invalid_request_error", "body_too_large")         \
    X(TR_API_INTERNAL, 500, "server_error", "internal_error")                   \
    X(TR_API_UPSTREAM, 502, "upstream_error", "upstream_error")                 \
    X(TR_API_UNAVAILABLE, 503, "server_error", "unavailable")                   \
    X(TR_API_UPSTREAM_TIMEOUT, 504, "upstream_error", "upstream_timeout")

enum tr_api_error {
#define TR_X_(name, status, type, code) name,
    TR_API_ERROR_TABLE(TR_X_)
#undef TR_X_
    TR_API_ERROR_COUNT
};

int tr_api_error_status(int e);          /* HTTP status of error e */
const char *tr_api_error_code(int e);    /* static string, e.g. "invalid_json" */
const char *tr_api_error_type(int e);    /* static string */

/* The JSON body {"error": {"message": msg, "type", "code"}} for error e.
 * msg is borrowed (any bytes; cJSON escapes them).  Owned by the caller:
 * tr_free.  NULL only when out of memory. */
char *tr_api_error_json(int e, const char *msg);

#endif
