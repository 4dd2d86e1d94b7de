/* tr_router_rename_task: a person names a task.  The file is rewritten at
 * the container level: the task section is read, changed and written back,
 * every other section (unknown ones included) is copied byte for byte, so
 * a rename changes nothing else and needs no retraining.  The name is
 * flagged as a person's (TR_TASK_NAMED), which warm-started retraining
 * keeps (retrain/warm_start.c). */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cluster/tasks.h"
#include "router/router_file.h"
#include "taskroute.h"

#define NAME_MAX_BYTES 200

/* A name is 1 to NAME_MAX_BYTES bytes of UTF-8 with no control characters
 * and not only spaces. */
static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_BYTES)
        return tr_errorf(err, errlen, TR_EINVAL, "task name: %zu bytes, a name has 1 to %d", n, NAME_MAX_BYTES);
    size_t bad = tr_utf8_invalid_at((const unsigned char *)name, n);
    if (bad < n) return tr_errorf(err, errlen, TR_EINVAL, "task name: not UTF-8 at byte %zu", bad);
    int visible = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return tr_errorf(err, errlen, TR_EINVAL, "task name: control character at byte %zu", i);
        visible |= c != ' ';
    }
    if (!visible) return tr_errorf(err, errlen, TR_EINVAL, "task name: only spaces");
    return TR_OK;
}

int tr_router_rename_task(const char *path_in, int id, const char *name, const char *path_out, char *err,
                          size_t errlen)
{
    if (!path_in || !name || !path_out) return tr_errorf(err, errlen, TR_EINVAL, "tr_router_rename_task: NULL argument");
    int rc = check_name(name, err, errlen);
    if (rc) return rc;
    tr_file *f = NULL;
    tr_file_writer *w = NULL;
    tr_tasks t = {0};
    tr_buf b;
    tr_buf_init(&b);
    if ((rc = tr_file_open(path_in, &f, err, errlen))) return rc;
    const void *p;
    size_t n;
    if (tr_file_section(f, TR_SEC_TASKS, &p, &n)) {
        rc = tr_errorf(err, errlen, TR_EFORMAT, "%s: no task section: not a taskroute router file", path_in);
        goto done;
    }
    if ((rc = tr_tasks_load(p, n, &t, err, errlen))) {
        tr_error_prefix(err, errlen, rc, "%s", path_in);
        goto done;
    }
    int k = tr_tasks_find_id(&t, (int32_t)id);
    if (k < 0) {
        char ids[256];
        size_t o = 0;
        for (size_t i = 0; i < t.n_tasks && o < sizeof ids - 16; i++)
            o += (size_t)snprintf(ids + o, sizeof ids - o, "%s%ld", i ? " " : "", (long)t.ids[i]);
        rc = tr_errorf(err, errlen, TR_ENOTFOUND, "%s: no task with id %d (its ids: %s)", path_in, id, ids);
        goto done;
    }
    for (size_t i = 0; i < t.n_tasks; i++)
        if ((int)i != k && !strcmp(t.names[i], name)) {
            rc = tr_errorf(err, errlen, TR_EINVAL, "%s: task %ld is already called \"%s\": names are unique", path_in,
                           (long)t.ids[i], name);
            goto done;
        }
    t.flags[k] |= TR_TASK_NAMED;
    t.flags[k] &= ~TR_TASK_LEGACY_NAME;
    if ((rc = tr_tasks_set_name(&t, (size_t)k, name)) || (rc = tr_tasks_save(&t, &b))) {
        rc = tr_errorf(err, errlen, TR_ENOMEM, "%s: out of memory", path_in);
        goto done;
    }
    if ((rc = tr_fw_open(path_out, &w, err, errlen))) goto done;
    for (size_t i = 0; i < tr_file_section_count(f); i++) {
        uint32_t tag;
        size_t len;
        tr_file_section_info(f, i, &tag, &len);
        if (tag == TR_SEC_TASKS) {
            tr_fw_section(w, tag, b.data, b.len);
        } else {
            tr_file_section(f, tag, &p, &n);
            tr_fw_section(w, tag, p, n);
        }
    }
    rc = tr_fw_commit(w, err, errlen);   /* reports a sticky section failure too */
    w = NULL;
done:
    tr_fw_abort(w);
    tr_buf_free(&b);
    tr_tasks_clear(&t);
    tr_file_close(f);
    return rc;
}
