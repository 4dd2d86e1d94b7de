/* Loading and validating the upstream table (format in upstreams.h). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/upstreams.h"
#include "base/util.h"

static char *read_file(const char *path, size_t *len, char *err, size_t errlen, int *rc)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    *rc = TR_EIO;
    if (!f) { tr_errorf(err, errlen, TR_EIO, "%s: cannot open", path); return NULL; }
    size_t cap = 4096, n = 0;
    buf = tr_malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        if (cap > (1u << 24)) { tr_errorf(err, errlen, TR_EFORMAT, "%s: larger than 16 MiB", path); goto fail; }
        char *p = tr_realloc(buf, cap * 2);
        if (!p) break;
        buf = p;
        cap *= 2;
    }
    if (!buf) { *rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    if (ferror(f)) { tr_errorf(err, errlen, TR_EIO, "%s: read error", path); goto fail; }
    fclose(f);
    *len = n;
    *rc = TR_OK;
    return buf;
fail:
    fclose(f);
    tr_free(buf);
    return NULL;
}

int tr_upstreams_load(const char *path, const char *fallback_override, tr_upstreams **out,
                      char *err, size_t errlen)
{
    int rc;
    size_t len = 0;
    char *text = read_file(path, &len, err, errlen, &rc);
    if (!text) return rc;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, NULL, 0);
    tr_upstreams *u = tr_calloc(1, sizeof *u);
    rc = TR_ENOMEM;
    if (!u) { tr_errorf(err, errlen, rc, "out of memory"); goto fail; }
    u->fallback = -1;
    u->timeout_ms = 30000;
    rc = TR_EFORMAT;
    if (!root) { tr_errorf(err, errlen, rc, "%s: malformed JSON", path); goto fail; }
    if (!cJSON_IsObject(root)) { tr_errorf(err, errlen, rc, "%s: not a JSON object", path); goto fail; }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsObject(models) || !models->child) {
        tr_errorf(err, errlen, rc, "%s: \"models\" must be a non-empty object", path);
        goto fail;
    }
    size_t n = (size_t)cJSON_GetArraySize(models);
    u->u = tr_calloc(n, sizeof *u->u);
    if (!u->u) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
    const cJSON *m;
    cJSON_ArrayForEach(m, models) {
        const char *name = m->string;
        const cJSON *base = cJSON_GetObjectItemCaseSensitive(m, "base_url");
        const cJSON *um = cJSON_GetObjectItemCaseSensitive(m, "model");
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(m, "api_key_env");
        if (!cJSON_IsObject(m)) { tr_errorf(err, errlen, rc, "%s: models.%s must be an object", path, name); goto fail; }
        if (!cJSON_IsString(base) || (strncmp(base->valuestring, "http://", 7) && strncmp(base->valuestring, "https://", 8))) {
            tr_errorf(err, errlen, rc, "%s: models.%s.base_url must be an http:// or https:// URL", path, name);
            goto fail;
        }
        if (um && !cJSON_IsString(um)) { tr_errorf(err, errlen, rc, "%s: models.%s.model must be a string", path, name); goto fail; }
        if (env && !cJSON_IsString(env)) {
            tr_errorf(err, errlen, rc, "%s: models.%s.api_key_env must be a string", path, name);
            goto fail;
        }
        if (tr_upstreams_find(u, name) >= 0) { tr_errorf(err, errlen, rc, "%s: model %s listed twice", path, name); goto fail; }
        tr_upstream *e = &u->u[u->n++];
        size_t bl = strlen(base->valuestring);
        while (bl && base->valuestring[bl - 1] == '/') bl--;
        e->name = tr_strdup(name);
        e->model = tr_strdup(um ? um->valuestring : name);
        e->url = tr_malloc(bl + sizeof "/chat/completions");
        if (!e->name || !e->model || !e->url) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
        memcpy(e->url, base->valuestring, bl);
        memcpy(e->url + bl, "/chat/completions", sizeof "/chat/completions");
        const char *key = env ? getenv(env->valuestring) : NULL;
        if (key && *key) {
            if (strpbrk(key, "\r\n")) {
                tr_errorf(err, errlen, rc, "%s: the key in $%s holds a line break", path, env->valuestring);
                goto fail;
            }
            size_t kl = strlen(key) + sizeof "Authorization: Bearer ";
            e->auth_header = tr_malloc(kl);
            if (!e->auth_header) { rc = tr_errorf(err, errlen, TR_ENOMEM, "out of memory"); goto fail; }
            snprintf(e->auth_header, kl, "Authorization: Bearer %s", key);
        }
    }
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(root, "timeout_ms");
    if (to) {
        if (!cJSON_IsNumber(to) || !(to->valuedouble >= 1 && to->valuedouble <= 3600000)) {
            tr_errorf(err, errlen, rc, "%s: \"timeout_ms\" must be a number in [1, 3600000]", path);
            goto fail;
        }
        u->timeout_ms = (long)to->valuedouble;
    }
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(root, "fallback");
    const char *fbname = fallback_override;
    if (!fbname && fb && !cJSON_IsNull(fb)) {
        if (!cJSON_IsString(fb)) { tr_errorf(err, errlen, rc, "%s: \"fallback\" must be a model name", path); goto fail; }
        fbname = fb->valuestring;
    }
    if (fbname) {
        u->fallback = tr_upstreams_find(u, fbname);
        if (u->fallback < 0) {
            tr_errorf(err, errlen, rc, "%s: fallback model '%s' has no entry in \"models\"", path, fbname);
            goto fail;
        }
    }
    cJSON_Delete(root);
    tr_free(text);
    *out = u;
    return TR_OK;
fail:
    cJSON_Delete(root);
    tr_free(text);
    tr_upstreams_free(u);
    return rc;
}

void tr_upstreams_free(tr_upstreams *u)
{
    if (!u) return;
    for (size_t i = 0; i < u->n; i++) {
        tr_free(u->u[i].name);
        tr_free(u->u[i].url);
        tr_free(u->u[i].model);
        tr_free(u->u[i].auth_header);
    }
    tr_free(u->u);
    tr_free(u);
}

int tr_upstreams_find(const tr_upstreams *u, const char *name)
{
    for (size_t i = 0; u && i < u->n; i++)
        if (u->u[i].name && !strcmp(u->u[i].name, name)) return (int)i;
    return -1;
}
