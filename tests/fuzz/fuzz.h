/*
 * fuzz.h -- the libFuzzer entry point every harness defines.
 *
 * Each fuzz_*.c is linked either with libFuzzer (-fsanitize=fuzzer) or
 * with replay.c, a plain main() that runs the same function over files.
 */
#ifndef HANGUP_FUZZ_H
#define HANGUP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a message when an invariant of the API does not hold, so a
 * wrong answer is reported like a crash (with the input saved). */
#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                     \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif
