// Run-time binding to libchdb.so.
//
// libchdb.so ships without a header, and it is only present after `npm ci`.
// Resolving its symbols with dlopen/dlsym instead of linking against it keeps
// `go build ./...` and `go vet ./...` working on a checkout where the library
// has not been installed yet; only running the embedded server needs it.
//
// The prototypes mirror chdb-io/chdb programs/local/chdb.h (the
// chdb_connection / chdb_result API, chDB >= 26.1) and were checked against
// `nm -D --defined-only libchdb.so` for @chdb/lib-linux-x64-gnu 26.5.3.
#ifndef MESHMETRICS_CHDB_SHIM_H
#define MESHMETRICS_CHDB_SHIM_H

#include <stddef.h>
#include <stdint.h>

// Loads the library and resolves every symbol used below. Returns NULL on
// success, or a message owned by the shim (valid until the next call).
const char *shim_load(const char *path);

// Opens a connection with the given command-line style arguments
// (argv[0] is a program name, then e.g. "--path=<dir>"). Returns NULL when
// chDB refused to connect; details go to stderr from chDB itself.
void *shim_connect(int argc, char **argv);
void shim_close(void *conn);

// Runs one statement. The result must be released with shim_destroy.
void *shim_query(void *conn, const char *query, size_t query_len, const char *format, size_t format_len);

// Runs one statement with named {name:Type} parameters bound server side.
void *shim_query_params(void *conn, const char *query, size_t query_len, const char *format, size_t format_len,
                        const char *const *names, const char *const *values, const size_t *value_lens, size_t count);

char *shim_result_buffer(void *res);
size_t shim_result_length(void *res);
const char *shim_result_error(void *res);
uint64_t shim_result_rows_read(void *res);
uint64_t shim_result_bytes_read(void *res);
uint64_t shim_result_rows_written(void *res);
uint64_t shim_result_bytes_written(void *res);
double shim_result_elapsed(void *res);
void shim_destroy(void *res);

// Tells chDB not to install its own fatal-signal handlers. Returns 0 when the
// library does not export the switch (older releases).
int shim_disable_signal_handlers(void);

// Saves / restores the dispositions of the signals the Go runtime relies on.
// chDB's connect replaces (or resets to SIG_DFL) the handlers of SIGSEGV,
// SIGBUS, SIGABRT, ...; without the Go runtime's handlers a nil dereference
// or a recovered panic hangs the process instead of being handled.
void shim_save_signals(void);
// Returns a bit mask (bit n = signal n) of the dispositions that differed
// and were put back.
uint64_t shim_restore_signals(void);

#endif
