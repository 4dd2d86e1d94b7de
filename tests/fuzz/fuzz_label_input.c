/* libFuzzer entry point for `taskroute label`'s own readers: an input line
 * (prompt, messages, decision log) and a whole resume journal (torn last
 * line, damaged lines).  Any bytes must give TR_OK or an error status with
 * a message, never a crash, a leak or an out-of-bounds read.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_label_input -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "label/input.h"
#include "label/journal.h"
#include "taskroute.h"

static int touch(void *ctx, const tr_journal_entry *e)
{
    (void)ctx;
    return strlen(e->id) && strlen(e->model) ? TR_OK : TR_EINVAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    tr_label_item it;
    if (tr_label_item_parse((const char *)data, size, "gold", &it, err, sizeof err) == TR_OK) {
        (void)strlen(it.id);
        (void)strlen(it.prompt);
        tr_label_item_free(&it);
    } else {
        (void)strlen(err);
    }
    size_t good;
    int torn;
    err[0] = 0;
    if (tr_journal_scan((const char *)data, size, "fuzz", touch, NULL, &good, &torn, err, sizeof err) == TR_OK &&
        good > size)
        __builtin_trap();
    return 0;
}
