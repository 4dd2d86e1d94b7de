/* The router file container: round trips, the corruption matrix (one flipped
 * byte in every region gives the right code and message), truncation at
 * every offset, version handling, crafted tables, atomic replace/abort, and
 * allocation failures. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/util.h"
#include "router/router_file.h"

#define TAG_ZZZZ TR_FOURCC('Z', 'Z', 'Z', 'Z')

/* A fresh empty directory under the test temp dir. */
static const char *fresh_dir(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_tmp(name));
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

/* Number of entries in dir whose name contains ".tmp.". */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) k++;
    closedir(d);
    return k;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n ? (size_t)n : 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const unsigned char *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void wr64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }

/* Recompute the header CRC after editing the header or table. */
static void fix_header_crc(unsigned char *img)
{
    size_t tend = 24 + 32 * (size_t)rd32(img + 12);
    wr32(img + tend, tr_crc32(0, img, tend));
}

static const char conf[] = "{\"dim\": 64}";
static const char modl[] = "model-a\0model-b\0model-c";

/* The small file of the matrix: CONF (12 bytes), MODL (24 bytes). */
static unsigned char *small_image(size_t *len)
{
    const char *dir = fresh_dir("rf_small");
    char path[600];
    snprintf(path, sizeof path, "%s/small.trm", dir);
    char err[256];
    tr_file_writer *w;
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, conf, sizeof conf), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_MODELS, modl, sizeof modl), TR_OK);
    assert_int_equal(tr_fw_commit(w, err, sizeof err), TR_OK);
    return slurp(path, len);
}

static void test_roundtrip(void **state)
{
    (void)state;
    const char *dir = fresh_dir("rf_rt");
    char path[600];
    snprintf(path, sizeof path, "%s/router.trm", dir);
    size_t big_n = tu_slow_mode() ? 300000 : 3000001; /* odd: padding after it */
    unsigned char *big = malloc(big_n);
    for (size_t i = 0; i < big_n; i++) big[i] = (unsigned char)(i * 2654435761u >> 13);
    const char unknown[] = "from a newer writer";

    char err[256] = "";
    tr_file_writer *w;
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, conf, sizeof conf - 1), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CALIB, NULL, 0), TR_OK); /* empty */
    assert_int_equal(tr_fw_section(w, TAG_ZZZZ, unknown, sizeof unknown), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_EMBED, big, big_n), TR_OK);
    assert_int_equal(count_tmp(dir), 1);
    assert_int_equal(tr_fw_commit(w, err, sizeof err), TR_OK);
    assert_int_equal(count_tmp(dir), 0);

    tr_file *f;
    assert_int_equal(tr_file_open(path, &f, err, sizeof err), TR_OK);
    assert_int_equal(tr_file_version(f), TR_FILE_VERSION);
    assert_int_equal(tr_file_section_count(f), 4);
    const void *p;
    size_t n;
    assert_int_equal(tr_file_section(f, TR_SEC_CONFIG, &p, &n), TR_OK);
    assert_int_equal(n, sizeof conf - 1);
    assert_memory_equal(p, conf, n);
    assert_int_equal(tr_file_section(f, TR_SEC_CALIB, &p, &n), TR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tr_file_section(f, TR_SEC_EMBED, &p, &n), TR_OK);
    assert_int_equal(n, big_n);
    assert_memory_equal(p, big, big_n);
    /* unknown sections are listed and skipped by readers that look them up by tag */
    uint32_t tag;
    tr_file_section_info(f, 2, &tag, &n);
    assert_true(tag == TAG_ZZZZ);
    assert_int_equal(n, sizeof unknown);
    tr_file_section_info(f, 99, &tag, &n);
    assert_true(tag == 0 && n == 0);
    assert_int_equal(tr_file_section(f, TR_SEC_HEADS, &p, &n), TR_ENOTFOUND);
    assert_null(p);
    tr_file_close(f);
    tr_file_close(NULL);

    /* layout: every body 8-byte aligned, the header's length is the file's */
    size_t len;
    unsigned char *img = slurp(path, &len);
    assert_memory_equal(img, "TRTROUTE", 8);
    assert_true(rd64(img + 16) == len);
    for (int i = 0; i < 4; i++) assert_int_equal(rd64(img + 24 + 32 * i + 8) % 8, 0);
    assert_int_equal(len, rd64(img + 24 + 32 * 3 + 8) + big_n);
    free(img);
    free(big);
}

static void test_empty_file_no_sections(void **state)
{
    (void)state;
    const char *dir = fresh_dir("rf_empty");
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/e.trm", dir);
    tr_file_writer *w;
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_commit(w, err, sizeof err), TR_OK);
    tr_file *f;
    assert_int_equal(tr_file_open(path, &f, err, sizeof err), TR_OK);
    assert_int_equal(tr_file_section_count(f), 0);
    tr_file_close(f);
}

/* Open an image expecting 'code' and a message that contains name and 'text'. */
static void expect(const unsigned char *img, size_t len, int code, const char *text)
{
    char err[512] = "";
    tr_file *f = (tr_file *)1;
    int rc = tr_file_open_mem(img, len, "m.trm", &f, err, sizeof err);
    if (rc != code || !strstr(err, text) || !strstr(err, "m.trm"))
        fail_msg("len %zu: got %s '%s', want %s with '%s'", len, tr_strerror_name(rc), err,
                 tr_strerror_name(code), text);
    assert_null(f);
}

static void test_corruption_matrix(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = small_image(&len);
    char err[256];
    tr_file *f;
    assert_int_equal(tr_file_open_mem(img, len, "m.trm", &f, err, sizeof err), TR_OK);
    tr_file_close(f);

    size_t tend = 24 + 2 * 32 + 4;
    uint64_t off_conf = rd64(img + 24 + 8), off_modl = rd64(img + 24 + 32 + 8);
    assert_int_equal(off_conf, 96);
    assert_int_equal(off_modl, 96 + 16);
    int seen_pad = 0;
    for (size_t i = 0; i < len; i++) {
        img[i] ^= 0xFF;
        if (i < 8)
            expect(img, len, TR_EFORMAT, "bad magic");
        else if (i < 12)
            expect(img, len, TR_EVERSION, "newer than this reader");
        else if (i < 16)
            expect(img, len, TR_ECHECKSUM, "header corrupted");
        else if (i < tend)
            expect(img, len, TR_ECHECKSUM, "header checksum mismatch");
        else if (i < off_conf || (i >= off_conf + sizeof conf && i < off_modl)) {
            expect(img, len, TR_ECHECKSUM, "non-zero padding");
            seen_pad++;
        } else if (i < off_conf + sizeof conf)
            expect(img, len, TR_ECHECKSUM, "section 'CONF' checksum mismatch");
        else
            expect(img, len, TR_ECHECKSUM, "section 'MODL' checksum mismatch");
        img[i] ^= 0xFF;
    }
    assert_true(seen_pad > 0);
    free(img);
}

static void test_truncation_every_offset(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = small_image(&len);
    for (size_t k = 0; k < len; k++) {
        /* an exact-size copy, so ASan sees any read past the end */
        unsigned char *cut = malloc(k ? k : 1);
        memcpy(cut, img, k);
        expect(cut, k, TR_ETRUNC, "truncated");
        free(cut);
    }
    /* trailing bytes are not silently ignored */
    unsigned char *longer = calloc(1, len + 8);
    memcpy(longer, img, len);
    expect(longer, len + 8, TR_EFORMAT, "trailing data");
    free(longer);
    free(img);
}

static void test_version(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = small_image(&len);
    wr32(img + 8, TR_FILE_VERSION + 1);
    fix_header_crc(img);
    expect(img, len, TR_EVERSION, "format version 2 is newer than this reader's (1)");
    wr32(img + 8, 0);
    fix_header_crc(img);
    expect(img, len, TR_EFORMAT, "invalid format version 0");
    wr32(img + 8, TR_FILE_VERSION);
    fix_header_crc(img);
    char err[256];
    tr_file *f;
    assert_int_equal(tr_file_open_mem(img, len, "m.trm", &f, err, sizeof err), TR_OK);
    tr_file_close(f);
    free(img);
}

/* Tables whose CRC is right but whose content is not. */
static void test_crafted_tables(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = small_image(&len);
    unsigned char *e0 = img + 24, *e1 = img + 56;

    wr64(e1 + 8, rd64(e0 + 8) + 8); /* MODL starts inside CONF */
    fix_header_crc(img);
    expect(img, len, TR_EFORMAT, "sections 'CONF' and 'MODL' overlap");
    free(img);

    img = small_image(&len);
    e0 = img + 24; e1 = img + 56;
    wr32(e1, TR_SEC_CONFIG);
    fix_header_crc(img);
    expect(img, len, TR_EFORMAT, "section 'CONF' appears twice");
    free(img);

    img = small_image(&len);
    e1 = img + 56;
    wr64(e1 + 8, rd64(e1 + 8) + 4);
    fix_header_crc(img);
    expect(img, len, TR_EFORMAT, "not 8-byte aligned");
    free(img);

    img = small_image(&len);
    e1 = img + 56;
    wr64(e1 + 16, UINT64_MAX - 4); /* length that overflows offset + length */
    fix_header_crc(img);
    expect(img, len, TR_EFORMAT, "section 1 ('MODL')");
    wr64(e1 + 16, sizeof modl);
    wr64(e1 + 8, 8); /* inside the table */
    fix_header_crc(img);
    expect(img, len, TR_EFORMAT, "outside the body");
    free(img);

    img = small_image(&len);
    wr32(img + 12, 0x7FFFFFFF); /* huge count: refused before allocating */
    expect(img, len, TR_ECHECKSUM, "2147483647 sections cannot fit");
    free(img);
}

static void test_missing_dir(void **state)
{
    (void)state;
    const char *dir = fresh_dir("rf_missing");
    char path[600], err[512] = "";
    snprintf(path, sizeof path, "%s/no/such/dir/r.trm", dir);
    tr_file_writer *w = (tr_file_writer *)1;
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_EIO);
    assert_null(w);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file or directory"));

    tr_file *f = (tr_file *)1;
    assert_int_equal(tr_file_open(path, &f, err, sizeof err), TR_EIO);
    assert_null(f);
    assert_non_null(strstr(err, path));
    assert_int_equal(tr_file_open(dir, &f, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "not a regular file"));
}

static void write_one(const char *path, const char *body)
{
    char err[256];
    tr_file_writer *w;
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, body, strlen(body)), TR_OK);
    assert_int_equal(tr_fw_commit(w, err, sizeof err), TR_OK);
}

static void assert_config(const char *path, const char *body)
{
    char err[256];
    tr_file *f;
    assert_int_equal(tr_file_open(path, &f, err, sizeof err), TR_OK);
    const void *p;
    size_t n;
    assert_int_equal(tr_file_section(f, TR_SEC_CONFIG, &p, &n), TR_OK);
    assert_int_equal(n, strlen(body));
    assert_memory_equal(p, body, n);
    tr_file_close(f);
}

static void test_replace_and_abort(void **state)
{
    (void)state;
    const char *dir = fresh_dir("rf_replace");
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/r.trm", dir);
    write_one(path, "old");
    write_one(path, "new, longer than the old one");
    assert_config(path, "new, longer than the old one");
    assert_int_equal(count_tmp(dir), 0);

    tr_file_writer *w;
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, "abandoned", 9), TR_OK);
    assert_int_equal(count_tmp(dir), 1);
    tr_fw_abort(w);
    tr_fw_abort(NULL);
    assert_config(path, "new, longer than the old one");
    assert_int_equal(count_tmp(dir), 0);

    /* a repeated tag fails the commit, which cleans up */
    assert_int_equal(tr_fw_open(path, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, "a", 1), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, "b", 1), TR_EINVAL);
    assert_int_equal(tr_fw_commit(w, err, sizeof err), TR_EINVAL);
    assert_non_null(strstr(err, "section 'CONF' added twice"));
    assert_non_null(strstr(err, path));
    assert_config(path, "new, longer than the old one");
    assert_int_equal(count_tmp(dir), 0);

    /* the rename fails (path is a non-empty directory): temp file removed */
    char sub[700];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/adir/keep", dir);
    write_one(sub, "x");
    snprintf(sub, sizeof sub, "%s/adir", dir);
    assert_int_equal(tr_fw_open(sub, &w, err, sizeof err), TR_OK);
    assert_int_equal(tr_fw_section(w, TR_SEC_CONFIG, "y", 1), TR_OK);
    assert_int_equal(tr_fw_commit(w, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "cannot rename"));
    assert_non_null(strstr(err, sub));
    assert_int_equal(count_tmp(dir), 0);
    snprintf(sub, sizeof sub, "%s/adir/keep", dir);
    assert_config(sub, "x");
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *dir = fresh_dir("rf_oom");
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/o.trm", dir);
    write_one(path, "previous");
    int done = 0, failures = 0;
    for (long k = 0; k < 200 && !done; k++) {
        tr_alloc_fail_after(k);
        tr_file_writer *w = NULL;
        tr_file *f = NULL;
        int rc = tr_fw_open(path, &w, err, sizeof err);
        if (rc == TR_OK) {
            tr_fw_section(w, TR_SEC_CONFIG, "fresh", 5);
            for (uint32_t t = 0; t < 20; t++) tr_fw_section(w, TR_FOURCC('S', 'X', 'X', 'A' + t), "abc", 3);
            rc = tr_fw_commit(w, err, sizeof err);
        }
        int committed = rc == TR_OK;
        if (rc == TR_OK) rc = tr_file_open(path, &f, err, sizeof err);
        long failed = tr_alloc_fail_after(-1);
        if (rc == TR_OK) {
            assert_int_equal(failed, 0);
            tr_file_close(f);
            assert_config(path, "fresh");
            done = 1;
        } else {
            assert_int_equal(rc, TR_ENOMEM);
            assert_non_null(strstr(err, "out of memory"));
            assert_non_null(strstr(err, path));
            failures++;
            if (!committed) assert_config(path, "previous");
        }
        assert_int_equal(count_tmp(dir), 0);
        if (!done && committed) write_one(path, "previous");
    }
    assert_true(done);
    assert_true(failures >= 5);

    /* open_mem fails cleanly too */
    size_t len;
    unsigned char *img = small_image(&len);
    for (long k = 0; k < 4; k++) {
        tr_alloc_fail_after(k);
        tr_file *f = NULL;
        int rc = tr_file_open_mem(img, len, "m.trm", &f, err, sizeof err);
        tr_alloc_fail_after(-1);
        if (rc == TR_OK) { tr_file_close(f); break; }
        assert_int_equal(rc, TR_ENOMEM);
        assert_null(f);
    }
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty_file_no_sections),
        cmocka_unit_test(test_corruption_matrix),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_crafted_tables),
        cmocka_unit_test(test_missing_dir),
        cmocka_unit_test(test_replace_and_abort),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
