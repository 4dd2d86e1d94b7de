/* FNV-1a 64 (base/hash.c): vectors computed outside C (a few lines of
 * /usr/bin/python3 over the UTF-8 bytes; "foobar" is FNV's own published
 * vector), and the streaming form agreeing with the one-shot form. */
#include "testutil.h"

#include "base/hash.h"

static void test_fnv_vectors(void **state)
{
    (void)state;
    assert_true(tr_fnv1a64("", 0) == 0xcbf29ce484222325ULL);
    assert_true(tr_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true(tr_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
    assert_true(tr_fnv1a64("70", 2) == 0x07f20607b4b4af12ULL);
    assert_true(tr_fnv1a64("train.0", 7) == 0xec081c7cefe12ecfULL);
    const char *h = "h\xc3\xa9llo"; /* héllo */
    assert_true(tr_fnv1a64(h, strlen(h)) == 0xa35ff71f960240e0ULL);
    const char *j = "\xe6\x97\xa5\xe6\x9c\xac"; /* 日本 */
    assert_true(tr_fnv1a64(j, strlen(j)) == 0x121d7e35a6d3ce91ULL);
}

static void test_fnv_streaming(void **state)
{
    (void)state;
    const char *s = "the quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint64_t whole = tr_fnv1a64(s, n);
    for (size_t cut = 0; cut <= n; cut++) {
        uint64_t h = tr_fnv1a64_update(TR_FNV1A64_OFFSET, s, cut);
        h = tr_fnv1a64_update(h, s + cut, n - cut);
        if (h != whole) fail_msg("split at %zu: %016llx != %016llx", cut, (unsigned long long)h,
                                 (unsigned long long)whole);
    }
    assert_true(tr_fnv1a64_update(TR_FNV1A64_OFFSET, NULL, 0) == TR_FNV1A64_OFFSET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv_vectors),
        cmocka_unit_test(test_fnv_streaming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
