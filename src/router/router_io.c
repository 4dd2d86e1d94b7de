/* Router file <-> router object.  The container (sections, CRCs, atomic
 * write) is router_file.c; this file decides which sections a router has and
 * hands each to its module's loader.  Sections: CONF (JSON), MODL, EMBD
 * (absent for a router on caller-supplied embeddings), TASK, CLSF, and for a
 * full router HEAD. */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "heads/heads.h"
#include "router/router.h"
#include "router/router_file.h"

void tr_router_free_parts(tr_router *r)
{
    if (!r) return;
    tr_free(r->config_json);
    if (r->models)
        for (size_t i = 0; i < r->n_models; i++) tr_free(r->models[i]);
    tr_free(r->models);
    tr_embedder_free(r->emb);
    tr_tasks_clear(&r->tasks);
    tr_softmax_free(r->clf);
    tr_heads_free(r->heads);
    tr_free(r->ref_price);
    tr_free(r->cost_scale);
    memset(r, 0, sizeof *r);
}

void tr_router_close(tr_router *r)
{
    if (!r) return;
    tr_router_free_parts(r);
    tr_free(r);
}

static int save_models(const tr_router *r, tr_buf *b)
{
    tr_buf_u32(b, 1);
    tr_buf_u64(b, r->n_models);
    for (size_t m = 0; m < r->n_models; m++) tr_buf_str(b, r->models[m]);
    return tr_buf_ok(b);
}

static int load_models(tr_router *r, const void *data, size_t len, char *err, size_t errlen)
{
    tr_cursor c;
    tr_cursor_init(&c, data, len);
    uint32_t ver;
    uint64_t n;
    tr_get_u32(&c, &ver);
    tr_get_u64(&c, &n);
    if (c.err) return tr_errorf(err, errlen, c.err, "model section: truncated");
    if (ver != 1) return tr_errorf(err, errlen, TR_EVERSION, "model section: format %u unknown", ver);
    if (tr_cursor_check_count(&c, n, 4, "model count"))
        return tr_errorf(err, errlen, TR_EFORMAT, "model section: %llu models cannot fit in %zu bytes",
                         (unsigned long long)n, len);
    r->models = tr_calloc(n ? n : 1, sizeof *r->models);
    if (!r->models) return tr_errorf(err, errlen, TR_ENOMEM, "model section: out of memory");
    r->n_models = n;
    for (size_t m = 0; m < n; m++) {
        tr_get_str(&c, &r->models[m]);
        if (!c.err && !r->models[m]) c.err = TR_EFORMAT;
    }
    if (c.err) return tr_errorf(err, errlen, c.err, "model section: bad model name");
    return TR_OK;
}

int tr_router_save(const tr_router *r, const char *path, char *err, size_t errlen)
{
    if (!r || !path) return tr_errorf(err, errlen, TR_EINVAL, "tr_router_save: %s is NULL", r ? "path" : "r");
    tr_file_writer *w = NULL;
    tr_buf b;
    tr_buf_init(&b);
    int rc = tr_fw_open(path, &w, err, errlen);
    if (rc) return rc;
#define SECTION(tag, fill)                                                     \
    do {                                                                       \
        b.len = 0;                                                             \
        if ((rc = (fill)) || (rc = tr_fw_section(w, tag, b.data, b.len))) {    \
            tr_errorf(err, errlen, rc, "%s: writing section %s: %s", path, #tag, tr_strerror(rc)); \
            goto fail;                                                         \
        }                                                                      \
    } while (0)
    const char *conf = r->config_json ? r->config_json : "{}";
    if ((rc = tr_fw_section(w, TR_SEC_CONFIG, conf, strlen(conf)))) {
        tr_errorf(err, errlen, rc, "%s: writing the config section", path);
        goto fail;
    }
    SECTION(TR_SEC_MODELS, save_models(r, &b));
    if (r->emb) SECTION(TR_SEC_EMBED, tr_embedder_save(r->emb, &b));
    SECTION(TR_SEC_TASKS, tr_tasks_save(&r->tasks, &b));
    SECTION(TR_SEC_CLASSIF, (tr_softmax_save(r->clf, &b), tr_buf_ok(&b)));
#undef SECTION
    if (r->heads) {
        tr_buf hb[4];
        for (int i = 0; i < 4; i++) tr_buf_init(&hb[i]);
        tr_heads_save(r->heads, &hb[0], &hb[1], &hb[2], &hb[3]);
        static const uint32_t tags[4] = {TR_SEC_HEADS, TR_SEC_CALIB, TR_SEC_COST, TR_SEC_SELECT};
        for (int i = 0; i < 4 && !rc; i++) {
            rc = tr_buf_ok(&hb[i]);
            if (!rc) rc = tr_fw_section(w, tags[i], hb[i].data, hb[i].len);
        }
        for (int i = 0; i < 4; i++) tr_buf_free(&hb[i]);
        if (rc) {
            tr_errorf(err, errlen, rc, "%s: writing the heads: %s", path, tr_strerror(rc));
            goto fail;
        }
    }
    tr_buf_free(&b);
    return tr_fw_commit(w, err, errlen);
fail:
    tr_buf_free(&b);
    tr_fw_abort(w);
    return rc;
}

/* Borrow a section the router cannot do without. */
static int need(const tr_file *f, const char *path, uint32_t tag, const char *what,
                const void **p, size_t *n, char *err, size_t errlen)
{
    if (tr_file_section(f, tag, p, n) == TR_OK) return TR_OK;
    return tr_errorf(err, errlen, TR_EFORMAT, "%s: no %s section: not a taskroute router file", path, what);
}

int tr_router_open(const char *path, tr_router **out, char *err, size_t errlen)
{
    if (!out) return tr_errorf(err, errlen, TR_EINVAL, "tr_router_open: out is NULL");
    *out = NULL;
    if (!path) return tr_errorf(err, errlen, TR_EINVAL, "tr_router_open: path is NULL");
    tr_file *f = NULL;
    int rc = tr_file_open(path, &f, err, errlen);
    if (rc) return rc;
    tr_router *r = tr_calloc(1, sizeof *r);
    if (!r) { tr_file_close(f); return tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", path); }
    const void *p;
    size_t n;
    if ((rc = need(f, path, TR_SEC_CONFIG, "config", &p, &n, err, errlen))) goto fail;
    if (!(r->config_json = tr_strndup(p, n))) { rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", path); goto fail; }
    tr_ood_from_config(r->config_json, &r->ood);
    if ((rc = need(f, path, TR_SEC_MODELS, "model", &p, &n, err, errlen))) goto fail;
    if ((rc = load_models(r, p, n, err, errlen))) goto prefix;
    if (tr_file_section(f, TR_SEC_EMBED, &p, &n) == TR_OK) {
        if ((rc = tr_embedder_load(p, n, &r->emb, err, errlen))) goto prefix;
    }
    if ((rc = need(f, path, TR_SEC_TASKS, "task", &p, &n, err, errlen))) goto fail;
    if ((rc = tr_tasks_load(p, n, &r->tasks, err, errlen))) goto prefix;
    r->dim = r->tasks.dim;
    if (r->emb && tr_embedder_dim(r->emb) != r->dim) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: embedder dimension %zu but tasks have %zu", path,
                       tr_embedder_dim(r->emb), r->dim);
        goto fail;
    }
    if (r->tasks.n_models && r->tasks.n_models != r->n_models) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: task section has %zu models, model section %zu", path,
                       r->tasks.n_models, r->n_models);
        goto fail;
    }
    if ((rc = need(f, path, TR_SEC_CLASSIF, "classifier", &p, &n, err, errlen))) goto fail;
    tr_cursor cc;
    tr_cursor_init(&cc, p, n);
    if ((rc = tr_softmax_load(&cc, &r->clf, err, errlen))) goto prefix;
    if (r->clf->d != r->dim || r->clf->T != r->tasks.n_tasks) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: classifier shape (%zu x %zu) does not match tasks (%zu x %zu)",
                       path, r->clf->T, r->clf->d, r->tasks.n_tasks, r->dim);
        goto fail;
    }
    if (tr_file_section(f, TR_SEC_HEADS, &p, &n) == TR_OK) {
        const void *pc, *pk, *ps;
        size_t nc, nk, ns;
        if ((rc = need(f, path, TR_SEC_CALIB, "calibration", &pc, &nc, err, errlen)) ||
            (rc = need(f, path, TR_SEC_COST, "cost model", &pk, &nk, err, errlen)) ||
            (rc = need(f, path, TR_SEC_SELECT, "selection", &ps, &ns, err, errlen)))
            goto fail;
        if ((rc = tr_heads_load(p, n, pc, nc, pk, nk, ps, ns, &r->heads, err, errlen))) goto prefix;
        if (tr_heads_models(r->heads) != r->n_models || tr_heads_tasks(r->heads) != r->tasks.n_tasks ||
            tr_heads_dim(r->heads) != r->dim) {
            rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: heads do not match the router's models, tasks or dimension", path);
            goto fail;
        }
    }
    if ((rc = tr_router_config_extras(r))) { tr_errorf(err, errlen, rc, "%s: out of memory", path); goto fail; }
    for (size_t i = 0; i < tr_file_section_count(f) && i < 32; i++) {
        tr_file_section_info(f, i, &r->sec_tag[i], &r->sec_len[i]);
        r->n_sections = i + 1;
    }
    tr_file_close(f);
    *out = r;
    return TR_OK;
prefix:
    tr_error_prefix(err, errlen, rc, "%s", path);
fail:
    tr_file_close(f);
    tr_router_close(r);
    return rc;
}
