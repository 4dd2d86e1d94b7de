/* libFuzzer target for the parsers the task table and its names brought:
 * the task section (formats 1 and 2: names, ids, flags, counts checked
 * against the bytes left) and the CONF entry of the out-of-distribution
 * calibration.  Any byte string must give TR_OK or an error with a message,
 * never a crash, a leak or a read outside the input; a section that loads
 * has unique ids and valid slugs.  Build with `make fuzz`; run e.g.
 *   build-fuzz/fuzz/fuzz_task_section -max_total_time=60 corpus/ */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/ood.h"
#include "cluster/tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tr_tasks t;
    char err[256];
    err[0] = 0;
    if (tr_tasks_load(data, size, &t, err, sizeof err) == 0) {
        for (size_t i = 0; i < t.n_tasks; i++) {
            size_t n = strlen(t.slugs[i]);
            if (n == 0 || n > TR_SLUG_MAX || tr_tasks_find_id(&t, t.ids[i]) != (int)i) __builtin_trap();
        }
        tr_tasks_clear(&t);
    } else if (!err[0]) {
        __builtin_trap();
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    tr_ood o;
    tr_ood_from_config(text, &o);
    if (o.calibrated && !(o.e_scale > 0 && o.k_scale > 0)) __builtin_trap();
    free(text);
    return 0;
}
