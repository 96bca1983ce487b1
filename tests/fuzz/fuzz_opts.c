/*
 * fuzz_opts.c -- sanitizer defaults baked into the libFuzzer binaries.
 *
 * The fuzz build compiles UBSan recoverable (so a known report can be
 * suppressed with UBSAN_OPTIONS=suppressions=FILE while it waits for its
 * fix); these defaults make every other report stop the run, as
 * -fno-sanitize-recover would.  UBSAN_OPTIONS / ASAN_OPTIONS override.
 */
const char *__ubsan_default_options(void);
const char *__asan_default_options(void);

const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

const char *__asan_default_options(void)
{
    return "detect_leaks=1";
}
