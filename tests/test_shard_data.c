/* A dataset read in parts, as processes read it: the parts' model lists
 * made common give the records, scores, costs, split flags and counts of
 * the whole-file load; records packed and unpacked come back the same;
 * dropping records keeps the rest in order. */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/util.h"
#include "data/dataset.h"
#include "dist/byte_range.h"
#include "dist/shard_data.h"

/* 60 records whose model sets change along the file: a, b; then a, c;
 * then b, d, a; a few labels null or missing. */
static const char *write_data(void)
{
    const char *path = tu_tmp("parts.jsonl");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 60; i++) {
        fprintf(f, "{\"id\":\"r%d\",\"prompt\":\"prompt number %d about topic %d\",\"task\":\"t%d\",", i, i, i % 4, i % 3);
        if (i < 20) fprintf(f, "\"scores\":{\"a\":%g,\"b\":%g},\"costs\":{\"a\":0.1,\"b\":0.2}}\n", (i % 5) / 4.0, (i % 2) * 1.0);
        else if (i < 40) fprintf(f, "\"scores\":{\"a\":%g,\"c\":%s},\"costs\":{\"a\":0.1,\"c\":0.3}}\n", (i % 3) / 2.0, i % 7 ? "1" : "null");
        else fprintf(f, "\"scores\":{\"b\":0.5,\"d\":%g,\"a\":1},\"costs\":{\"b\":0.2,\"d\":0.4%s}}\n", (i % 4) / 3.0, i % 9 ? ",\"a\":0.1" : "");
        if (i == 30) fputs("\n", f);   /* a blank line: counted in the numbering */
    }
    fclose(f);
    return path;
}

static void load_parts(const char *path, int R, tr_dataset **parts)
{
    char err[512];
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t first = 1;
    for (int r = 0; r < R; r++) {
        uint64_t b, e, lines;
        assert_int_equal(tr_range_start(fd, path, (uint64_t)st.st_size, r, R, &b, err, sizeof err), TR_OK);
        assert_int_equal(tr_range_start(fd, path, (uint64_t)st.st_size, r + 1, R, &e, err, sizeof err), TR_OK);
        assert_int_equal(tr_range_lines(fd, path, b, e, &lines, err, sizeof err), TR_OK);
        int rc = tr_dataset_load_range(path, b, e, (uint32_t)first, NULL, &parts[r], err, sizeof err);
        if (rc) fail_msg("part %d: %s", r, err);
        first += lines;
    }
    close(fd);
}

static void test_parts_equal_the_whole(void **state)
{
    (void)state;
    const char *path = write_data();
    char err[512];
    tr_dataset *whole = NULL;
    assert_int_equal(tr_dataset_load(path, NULL, &whole, err, sizeof err), TR_OK);
    for (int R = 1; R <= 7; R += 3) {
        tr_dataset *parts[7] = {0};
        load_parts(path, R, parts);
        tr_buf blob;
        tr_buf_init(&blob);
        for (int r = 0; r < R; r++) tr_models_blob(parts[r], &blob);
        char **names = NULL;
        size_t M = 0;
        assert_int_equal(tr_models_union((const char *)blob.data, blob.len, &names, &M, err, sizeof err), TR_OK);
        assert_int_equal(M, whole->n_models);
        for (size_t m = 0; m < M; m++) assert_string_equal(names[m], whole->models[m]);
        size_t at = 0;
        tr_load_stats sum = {0};
        for (int r = 0; r < R; r++) {
            tr_dataset *p = parts[r];
            assert_int_equal(tr_dataset_use_models(p, names, M, err, sizeof err), TR_OK);
            for (size_t i = 0; i < p->n; i++, at++) {
                const tr_record *a = &p->rec[i], *b = &whole->rec[at];
                assert_string_equal(a->id, b->id);
                assert_int_equal(a->line, b->line);
                assert_int_equal(a->is_test, b->is_test);
                assert_int_equal(a->complete, b->complete);
                for (size_t m = 0; m < M; m++) {
                    float x = tr_ds_score(p, i, m), y = tr_ds_score(whole, at, m);
                    assert_true((isnan(x) && isnan(y)) || x == y);
                    x = tr_ds_cost(p, i, m), y = tr_ds_cost(whole, at, m);
                    assert_true((isnan(x) && isnan(y)) || x == y);
                }
            }
            sum.kept += p->stats.kept; sum.train += p->stats.train;
            sum.test += p->stats.test; sum.test_complete += p->stats.test_complete;
        }
        assert_int_equal(at, whole->n);
        assert_int_equal(sum.kept, whole->stats.kept);
        assert_int_equal(sum.train, whole->stats.train);
        assert_int_equal(sum.test, whole->stats.test);
        assert_int_equal(sum.test_complete, whole->stats.test_complete);
        tr_models_free(names, M);
        tr_buf_free(&blob);
        for (int r = 0; r < R; r++) tr_dataset_free(parts[r]);
    }
    tr_dataset_free(whole);
}

static void test_pack_unpack_and_keep(void **state)
{
    (void)state;
    const char *path = write_data();
    char err[512];
    tr_dataset *ds = NULL;
    assert_int_equal(tr_dataset_load(path, NULL, &ds, err, sizeof err), TR_OK);
    size_t rows[4] = {0, 7, 33, 59};
    tr_buf b;
    tr_buf_init(&b);
    tr_records_pack(ds, rows, 4, &b);
    assert_int_equal(tr_buf_ok(&b), TR_OK);
    tr_dataset *u = NULL;
    assert_int_equal(tr_records_unpack(b.data, b.len, path, ds->models, ds->n_models, 0, &u, err, sizeof err), TR_OK);
    assert_int_equal(u->n, 4);
    for (size_t r = 0; r < 4; r++) {
        const tr_record *a = &u->rec[r], *x = &ds->rec[rows[r]];
        assert_string_equal(a->id, x->id);
        assert_string_equal(a->prompt, x->prompt);
        assert_int_equal(a->prompt_len, x->prompt_len);
        assert_string_equal(a->task, x->task);
        assert_int_equal(a->line, x->line);
        assert_int_equal(a->is_test, x->is_test);
        assert_int_equal(a->complete, x->complete);
        assert_memory_equal(u->scores + r * u->n_models, ds->scores + rows[r] * ds->n_models, ds->n_models * sizeof(float));
    }
    /* cut short: refused, naming the record */
    tr_dataset *bad = NULL;
    assert_int_equal(tr_records_unpack(b.data, b.len - 3, path, ds->models, ds->n_models, 0, &bad, err, sizeof err), TR_EFORMAT);
    assert_null(bad);
    assert_non_null(strstr(err, "record 4"));
    tr_dataset_free(u);
    tr_buf_free(&b);
    /* keep every other record */
    unsigned char keep[60];
    for (int i = 0; i < 60; i++) keep[i] = i % 2 == 0;
    assert_int_equal(tr_dataset_keep_records(ds, keep, err, sizeof err), TR_OK);
    assert_int_equal(ds->n, 30);
    assert_string_equal(ds->rec[5].id, "r10");
    assert_int_equal(ds->stats.skipped, 30);
    assert_int_equal(ds->stats.train + ds->stats.test, 30);
    tr_dataset_free(ds);
}

static void test_empty_part_and_bad_blob(void **state)
{
    (void)state;
    const char *path = write_data();
    char err[512];
    tr_dataset *p = NULL;
    assert_int_equal(tr_dataset_load_range(path, 10, 10, 5, NULL, &p, err, sizeof err), TR_OK);
    assert_int_equal(p->n, 0);
    tr_dataset_free(p);
    /* a part's error names the file's own line */
    const char *bad = tu_tmp("bad.jsonl");
    FILE *f = fopen(bad, "wb");
    fputs("{\"id\":\"x\",\"prompt\":\"p\"}\n{\"id\":\"y\",\"prompt\":3}\n", f);
    fclose(f);
    assert_int_equal(tr_dataset_load_range(bad, 24, 46, 41, NULL, &p, err, sizeof err), TR_EFORMAT);
    assert_non_null(strstr(err, ":41:"));
    char **names;
    size_t M;
    assert_int_equal(tr_models_union("ab\0c", 4, &names, &M, err, sizeof err), TR_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_equal_the_whole),
        cmocka_unit_test(test_pack_unpack_and_keep),
        cmocka_unit_test(test_empty_part_and_bad_blob),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
