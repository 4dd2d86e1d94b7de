/* Renaming a task (tr_router_rename_task, router/rename.c): the name and its
 * slug change, the task is marked as named by a person, every other section
 * is the same bytes, the file is replaced atomically (in place or to
 * another path), and bad requests are refused with a message: an unknown id
 * (naming the ids there are), a name another task has, empty, too long, a
 * control character, broken UTF-8.  The fixture is a router file written by
 * an older taskroute (task section format 1): it loads, and a rename
 * upgrades its task section. */
#include "testutil.h"

#include <sys/stat.h>

#include "cluster/tasks.h"
#include "router/router.h"
#include "router/router_file.h"

#define FIXTURE "tests/data/router-v1.trm"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static const char *copy_fixture(const char *name)
{
    size_t n;
    char *b = slurp(FIXTURE, &n);
    assert_non_null(b);
    const char *p = tu_tmp(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
    return p;
}

static void test_rename_in_place(void **state)
{
    (void)state;
    char src[512], err[512];
    snprintf(src, sizeof src, "%s", copy_fixture("r.trm"));
    tr_router *r = NULL;
    assert_int_equal(tr_router_open(src, &r, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_task_count(r), 3);
    int id = tr_router_task_id(r, 1);
    char before1[256];
    snprintf(before1, sizeof before1, "%s", tr_router_task_name(r, 0));
    tr_router_close(r);
    assert_int_equal(tr_router_rename_task(src, id, "Billing & refunds", src, err, sizeof err), TR_OK);
    assert_int_equal(tr_router_open(src, &r, err, sizeof err), TR_OK);
    assert_string_equal(tr_router_task_name(r, 1), "Billing & refunds");
    assert_string_equal(tr_router_task_slug(r, 1), "billing-refunds");
    assert_string_equal(tr_router_task_name(r, 0), before1);
    assert_true(r->tasks.flags[1] & TR_TASK_NAMED);
    assert_false(r->tasks.flags[1] & TR_TASK_LEGACY_NAME);
    assert_true(r->tasks.flags[0] & TR_TASK_LEGACY_NAME);
    tr_router_close(r);
    /* every section but the task table is the same bytes, in the same order */
    tr_file *a = NULL, *b = NULL;
    assert_int_equal(tr_file_open(FIXTURE, &a, err, sizeof err), TR_OK);
    assert_int_equal(tr_file_open(src, &b, err, sizeof err), TR_OK);
    assert_int_equal(tr_file_section_count(a), tr_file_section_count(b));
    for (size_t i = 0; i < tr_file_section_count(a); i++) {
        uint32_t ta, tb;
        size_t la, lb;
        tr_file_section_info(a, i, &ta, &la);
        tr_file_section_info(b, i, &tb, &lb);
        assert_int_equal(ta, tb);
        if (ta == TR_SEC_TASKS) continue;
        const void *pa, *pb;
        tr_file_section(a, ta, &pa, &la);
        tr_file_section(b, tb, &pb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(pa, pb, la);
    }
    tr_file_close(a);
    tr_file_close(b);
    /* to another path: the source is untouched */
    const char *dst = tu_tmp("renamed.trm");
    size_t n0, n1;
    char *s0 = slurp(src, &n0);
    assert_int_equal(tr_router_rename_task(src, id, "Refunds", dst, err, sizeof err), TR_OK);
    char *s1 = slurp(src, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(s0, s1, n0);
    free(s0);
    free(s1);
    assert_int_equal(tr_router_open(dst, &r, err, sizeof err), TR_OK);
    assert_string_equal(tr_router_task_name(r, 1), "Refunds");
    tr_router_close(r);
    /* no temporary file left beside it */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", src, (long)getpid());
    struct stat st;
    assert_int_not_equal(stat(tmp, &st), 0);
}

static void test_rename_refused(void **state)
{
    (void)state;
    char src[512], err[512];
    snprintf(src, sizeof src, "%s", copy_fixture("bad.trm"));
    size_t n0, n1;
    char *orig = slurp(src, &n0);
    assert_int_equal(tr_router_rename_task(src, 99, "x", src, err, sizeof err), TR_ENOTFOUND);
    assert_non_null(strstr(err, "no task with id 99"));
    assert_non_null(strstr(err, "its ids: 0 1 2"));
    tr_router *r = NULL;
    assert_int_equal(tr_router_open(src, &r, err, sizeof err), TR_OK);
    char other[256];
    snprintf(other, sizeof other, "%s", tr_router_task_name(r, 2));
    int id0 = tr_router_task_id(r, 0), id2 = tr_router_task_id(r, 2);
    tr_router_close(r);
    assert_int_equal(tr_router_rename_task(src, id0, other, src, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "names are unique"));
    char longname[300];
    memset(longname, 'a', 250);
    longname[250] = 0;
    static const char *bad[] = {"", "   ", "tab\there", "\xc3\x28", NULL};
    for (int i = 0; bad[i]; i++) assert_int_equal(tr_router_rename_task(src, id0, bad[i], src, err, sizeof err), TR_EINVAL);
    assert_int_equal(tr_router_rename_task(src, id0, longname, src, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "250 bytes"));
    assert_int_equal(tr_router_rename_task("/nonexistent/r.trm", 0, "x", src, err, sizeof err), TR_EIO);
    /* nothing was written */
    char *now = slurp(src, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(orig, now, n0);
    free(orig);
    free(now);
    /* a task may be given the name it has (it becomes a person's) */
    assert_int_equal(tr_router_rename_task(src, id2, other, src, err, sizeof err), TR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rename_in_place),
        cmocka_unit_test(test_rename_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
