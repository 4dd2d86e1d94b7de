/* libFuzzer entry point for the routing JSONL reader: any bytes must give
 * TR_OK or an error status with a message, never a crash, a leak or an
 * out-of-bounds read.  Both modes are exercised (stop at the first bad line,
 * and skip_bad), chosen by the first byte so the corpus can steer it.
 *
 * Build and run (from the repository root):
 *   make fuzz
 *   build-fuzz/fuzz/fuzz_jsonl -max_total_time=60 tests/data/bad */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "data/dataset.h"

static void drop(void *ctx, const char *msg)
{
    (void)ctx;
    (void)strlen(msg); /* the message must be a valid string */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tr_load_options o;
    tr_load_options_default(&o);
    o.report = drop;
    if (size > 0) o.skip_bad = data[0] & 1;
    tr_dataset *ds = NULL;
    char err[512];
    err[0] = 0;
    int rc = tr_dataset_load_mem((const char *)data, size, "fuzz", &o, &ds, err, sizeof err);
    if (rc == TR_OK) {
        tr_load_stats st;
        tr_dataset_stats(ds, &st);
        /* invariants the rest of the library relies on */
        if (st.kept != tr_dataset_count(ds) || st.train + st.test != st.kept ||
            st.lines != st.kept + st.skipped)
            __builtin_trap();
        for (size_t i = 0; i < ds->n; i++)
            for (size_t m = 0; m < ds->n_models; m++) {
                float s = tr_ds_score(ds, i, m);
                if (s == s && (s < 0 || s > 1)) __builtin_trap();
            }
        tr_dataset_free(ds);
    } else if (ds || !err[0]) {
        __builtin_trap();
    }
    return 0;
}
