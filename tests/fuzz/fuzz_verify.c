/* libFuzzer entry point for the reader of a verifier's answer
 * (src/upstream/verify.c): any bytes give a confidence in [0, 1] or a
 * status with a message, never a crash, a leak or a read out of bounds.
 *
 * Build and run: make fuzz; build-fuzz/fuzz/fuzz_verify -max_total_time=60 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "upstream/verify.c"

/* verify.c's one call into the client is not reached here */
int tr_upstream_client_call(tr_upstream_client *c, const tr_upstream_call *call, tr_upstream_result *res)
{
    (void)c; (void)call;
    memset(res, 0, sizeof *res);
    return TR_EINVAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    double conf;
    int votes;
    err[0] = 0;
    int rc = tr_verify_confidence((const char *)data, size, &conf, &votes, err, sizeof err);
    if (rc == TR_OK && !(conf >= 0 && conf <= 1)) __builtin_trap();
    if (rc != TR_OK && (!err[0] || !isnan(conf))) __builtin_trap();
    if (votes < 0 || votes > (int)size) __builtin_trap();
    return 0;
}
