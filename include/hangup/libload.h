/*
 * libload.h -- libpq and libmicrohttpd, loaded on first use.
 *
 * Only `--db postgresql://...` needs libpq and only `live --metrics`
 * needs libmicrohttpd, but linked the usual way the dynamic linker maps,
 * relocates and initialises both at every start, with what they pull in
 * (OpenSSL's libssl, GnuTLS, Kerberos, LDAP, SASL, p11-kit): 4.4 MB of
 * resident memory that a capture into SQLite never uses, the difference
 * between meeting the 128 MiB bound at 50,000 open connections and not
 * (docs/BENCHMARKS.md).  So hangup is not linked with them: libload.c
 * defines each libpq and libmicrohttpd function hangup calls, with the
 * library's own prototype (its header), as a call through a pointer that
 * dlopen and dlsym fill the first time any function of that library is
 * called.  Callers use the libraries' APIs unchanged.
 *
 * When a library cannot be loaded, its functions fail the way the library
 * fails without a server: PQconnectdb* returns NULL, PQstatus(NULL) says
 * CONNECTION_BAD, PQerrorMessage says why the library is missing (one
 * line), MHD_start_daemon returns NULL; the rest return NULL, 0 or
 * nothing.  Thread-safe: loading runs once (pthread_once).
 */
#ifndef HANGUP_LIBLOAD_H
#define HANGUP_LIBLOAD_H

/* Load libpq if not yet loaded; NULL when it is loaded, else why not
 * (static text, e.g. "libpq.so.5: cannot open shared object file: ..."). */
const char *hu_libload_pq_error(void);
/* The same for libmicrohttpd. */
const char *hu_libload_mhd_error(void);

#endif
