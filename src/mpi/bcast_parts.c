/* Copying the sample router's parts to every rank (bcast_parts.h). */
#include "mpi/bcast_parts.h"

#include <string.h>

#include "base/buf.h"
#include "base/util.h"

/* One blob: u8 flags (1 embedder, 2 classifier, 4 tasks, 8 heads), then
 * each present part's section(s) as tr_buf_bytes. */
static void pack(const mpi_ctx *c, const tr_embedder *emb, const tr_softmax *clf, const tr_tasks *tasks,
                 const tr_heads *heads, tr_buf *b)
{
    uint8_t flags = (emb ? 1 : 0) | (clf ? 2 : 0) | (tasks ? 4 : 0) | (heads ? 8 : 0);
    tr_buf_u8(b, flags);
    tr_buf s[4];
    for (int i = 0; i < 4; i++) tr_buf_init(&s[i]);
    if (emb) {
        if (tr_embedder_save(emb, &s[0])) mpi_fail(c, "out of memory saving the embedder");
        tr_buf_bytes(b, s[0].data, s[0].len);
        s[0].len = 0;
    }
    if (clf) {
        tr_softmax_save(clf, &s[0]);
        tr_buf_bytes(b, s[0].data, s[0].len);
        s[0].len = 0;
    }
    if (tasks) {
        tr_tasks_save(tasks, &s[0]);
        tr_buf_bytes(b, s[0].data, s[0].len);
        s[0].len = 0;
    }
    if (heads) {
        tr_heads_save(heads, &s[0], &s[1], &s[2], &s[3]);
        for (int i = 0; i < 4; i++) tr_buf_bytes(b, s[i].data, s[i].len);
    }
    for (int i = 0; i < 4; i++) {
        if (tr_buf_ok(&s[i])) mpi_fail(c, "out of memory saving the sample's router");
        tr_buf_free(&s[i]);
    }
    if (tr_buf_ok(b)) mpi_fail(c, "out of memory saving the sample's router");
}

void mpi_parts_bcast(mpi_ctx *c, const tr_embedder *emb, const tr_softmax *clf, const tr_tasks *tasks,
                     const tr_heads *heads, mpi_parts *out)
{
    memset(out, 0, sizeof *out);
    tr_buf b;
    tr_buf_init(&b);
    if (c->rank == 0) pack(c, emb, clf, tasks, heads, &b);
    void *p = b.data;
    size_t n = b.len;
    mpi_bcast_bytes(c, 0, &p, &n);
    char err[1024];
    tr_cursor cur;
    tr_cursor_init(&cur, p, n);
    uint8_t flags = 0;
    tr_get_u8(&cur, &flags);
    const void *q[4];
    size_t ql[4];
    if (flags & 1) {
        tr_get_bytes(&cur, &q[0], &ql[0]);
        if (cur.err) goto bad;
        mpi_check(c, tr_embedder_load(q[0], ql[0], &out->emb, err, sizeof err), err);
    }
    if (flags & 2) {
        tr_get_bytes(&cur, &q[0], &ql[0]);
        if (cur.err) goto bad;
        tr_cursor cc;
        tr_cursor_init(&cc, q[0], ql[0]);
        mpi_check(c, tr_softmax_load(&cc, &out->clf, err, sizeof err), err);
    }
    if (flags & 4) {
        tr_get_bytes(&cur, &q[0], &ql[0]);
        if (cur.err) goto bad;
        mpi_check(c, tr_tasks_load(q[0], ql[0], &out->tasks, err, sizeof err), err);
    }
    if (flags & 8) {
        for (int i = 0; i < 4; i++) tr_get_bytes(&cur, &q[i], &ql[i]);
        if (cur.err) goto bad;
        mpi_check(c, tr_heads_load(q[0], ql[0], q[1], ql[1], q[2], ql[2], q[3], ql[3], &out->heads, err, sizeof err), err);
    }
    if (c->rank == 0) tr_buf_free(&b);
    else tr_free(p);
    return;
bad:
    mpi_fail(c, "the sample's router arrived cut short (%zu bytes)", n);
}

void mpi_parts_free(mpi_parts *p)
{
    if (!p) return;
    tr_embedder_free(p->emb);
    tr_softmax_free(p->clf);
    tr_tasks_clear(&p->tasks);
    tr_heads_free(p->heads);
    memset(p, 0, sizeof *p);
}
