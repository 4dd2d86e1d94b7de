/* Byte ranges aligned to line starts: for files of short, long, empty and
 * unterminated lines and every part count up to more parts than lines, the
 * parts tile the file, start at line starts, split no line, and their line
 * counts add up (and give each part's first line number). */
#include "testutil.h"

#include <fcntl.h>

#include "dist/byte_range.h"

static int open_text(const char *name, const char *text, size_t len)
{
    const char *path = tu_tmp(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

static void check_parts(const char *text, size_t size, int fd)
{
    char err[256];
    size_t total_lines = 0;
    for (size_t i = 0; i < size; i++) total_lines += text[i] == '\n';
    if (size && text[size - 1] != '\n') total_lines++;
    for (int R = 1; R <= 12; R++) {
        uint64_t prev = 0, lines = 0;
        for (int r = 0; r <= R; r++) {
            uint64_t s;
            assert_int_equal(tr_range_start(fd, "t", size, r, R, &s, err, sizeof err), TR_OK);
            assert_true(s >= prev && s <= size);
            if (r == 0) assert_true(s == 0);
            if (r == R) assert_true(s == size);
            if (s > 0 && s < size) assert_true(text[s - 1] == '\n');           /* a line start */
            if (r > 0 && r < R) {
                uint64_t nom = tr_range_nominal(size, r, R);
                assert_true(s >= nom);
                for (uint64_t b = nom ? nom - 1 : 0; b + 1 < s; b++) assert_true(text[b] != '\n');   /* the first one */
            }
            if (r > 0) {
                uint64_t k;
                assert_int_equal(tr_range_lines(fd, "t", prev, s, &k, err, sizeof err), TR_OK);
                lines += k;
            }
            prev = s;
        }
        assert_int_equal(lines, total_lines);
    }
}

static void test_short_lines(void **state)
{
    (void)state;
    char text[4000];
    size_t n = 0;
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(text + n, sizeof text - n, "{\"id\":\"%d\"}\n", i * 37);
    int fd = open_text("short.jsonl", text, n);
    check_parts(text, n, fd);
    close(fd);
}

static void test_long_line_and_no_final_newline(void **state)
{
    (void)state;
    static char text[20000];
    size_t n = 0;
    text[n++] = 'a'; text[n++] = '\n';
    for (int i = 0; i < 15000; i++) text[n++] = 'x';   /* one line longer than most parts */
    text[n++] = '\n';
    text[n++] = '\n';                                  /* a blank line */
    for (int i = 0; i < 100; i++) text[n++] = 'y';     /* no final newline */
    int fd = open_text("long.jsonl", text, n);
    check_parts(text, n, fd);
    /* 8 parts: the long line swallows the middle ones, which are empty */
    char err[256];
    uint64_t s3, s4;
    assert_int_equal(tr_range_start(fd, "t", n, 3, 8, &s3, err, sizeof err), TR_OK);
    assert_int_equal(tr_range_start(fd, "t", n, 4, 8, &s4, err, sizeof err), TR_OK);
    assert_true(s3 == s4);
    close(fd);
}

static void test_tiny_files(void **state)
{
    (void)state;
    int fd = open_text("empty.jsonl", "", 0);
    check_parts("", 0, fd);
    close(fd);
    fd = open_text("one.jsonl", "\n", 1);
    check_parts("\n", 1, fd);
    close(fd);
    char err[256];
    uint64_t s;
    assert_int_equal(tr_range_start(0, "t", 10, 3, 2, &s, err, sizeof err), TR_EINVAL);
    /* a read error names the file */
    assert_int_equal(tr_range_start(-1, "gone.jsonl", 10, 1, 2, &s, err, sizeof err), TR_EIO);
    assert_non_null(strstr(err, "gone.jsonl"));
}

static void test_nominal_no_overflow(void **state)
{
    (void)state;
    uint64_t big = UINT64_MAX - 5;
    assert_true(tr_range_nominal(big, 7, 7) == big);
    assert_true(tr_range_nominal(big, 1, 2) == big / 2);
    assert_true(tr_range_nominal(10, 1, 3) == 3);
    assert_true(tr_range_nominal(10, 2, 3) == 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_lines),
        cmocka_unit_test(test_long_line_and_no_final_newline),
        cmocka_unit_test(test_tiny_files),
        cmocka_unit_test(test_nominal_no_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
