#define _GNU_SOURCE
#include "shim.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef void *(*connect_fn)(int, char **);
typedef void (*close_fn)(void *);
typedef void *(*query_n_fn)(void *, const char *, size_t, const char *, size_t);
typedef void *(*query_params_n_fn)(void *, const char *, size_t, const char *, size_t, const char *const *,
                                   const size_t *, const char *const *, const size_t *, size_t);
typedef char *(*buffer_fn)(void *);
typedef size_t (*length_fn)(void *);
typedef const char *(*error_fn)(void *);
typedef uint64_t (*u64_fn)(void *);
typedef double (*elapsed_fn)(void *);
typedef void (*destroy_fn)(void *);
typedef void (*set_int_fn)(int);

static struct {
    connect_fn connect;
    close_fn close_conn;
    query_n_fn query_n;
    query_params_n_fn query_params_n;
    buffer_fn buffer;
    length_fn length;
    error_fn error;
    u64_fn rows_read, bytes_read, rows_written, bytes_written;
    elapsed_fn elapsed;
    destroy_fn destroy;
    set_int_fn set_signal_handlers_enabled;
} chdb;

static char load_error[1024];

#define RESOLVE(field, name)                                                                      \
    do {                                                                                          \
        *(void **)(&chdb.field) = dlsym(handle, name);                                            \
        if (chdb.field == NULL) {                                                                 \
            snprintf(load_error, sizeof load_error, "symbol %s not found in %s", name, path);     \
            return load_error;                                                                    \
        }                                                                                         \
    } while (0)

const char *shim_load(const char *path) {
    // RTLD_LOCAL keeps chDB's thousands of symbols out of the global namespace,
    // so they cannot interpose anything the Go runtime or libc resolves later.
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error, "%s", e ? e : "dlopen failed");
        return load_error;
    }
    RESOLVE(connect, "chdb_connect");
    RESOLVE(close_conn, "chdb_close_conn");
    RESOLVE(query_n, "chdb_query_n");
    RESOLVE(query_params_n, "chdb_query_with_params_n");
    RESOLVE(buffer, "chdb_result_buffer");
    RESOLVE(length, "chdb_result_length");
    RESOLVE(error, "chdb_result_error");
    RESOLVE(rows_read, "chdb_result_rows_read");
    RESOLVE(bytes_read, "chdb_result_bytes_read");
    RESOLVE(rows_written, "chdb_result_rows_written");
    RESOLVE(bytes_written, "chdb_result_bytes_written");
    RESOLVE(elapsed, "chdb_result_elapsed");
    RESOLVE(destroy, "chdb_destroy_query_result");
    // Optional: present since chDB 26.3.
    *(void **)(&chdb.set_signal_handlers_enabled) = dlsym(handle, "chdb_set_signal_handlers_enabled");
    return NULL;
}

void *shim_connect(int argc, char **argv) {
    // chdb_connect returns a chdb_connection* (pointer to the handle); the
    // query functions take the handle itself.
    void **conn = (void **)chdb.connect(argc, argv);
    if (conn == NULL) {
        return NULL;
    }
    return (void *)conn;
}

void shim_close(void *conn) { chdb.close_conn(conn); }

void *shim_query(void *conn, const char *query, size_t query_len, const char *format, size_t format_len) {
    return chdb.query_n(*(void **)conn, query, query_len, format, format_len);
}

void *shim_query_params(void *conn, const char *query, size_t query_len, const char *format, size_t format_len,
                        const char *const *names, const char *const *values, const size_t *value_lens, size_t count) {
    return chdb.query_params_n(*(void **)conn, query, query_len, format, format_len, names, NULL, values, value_lens,
                               count);
}

char *shim_result_buffer(void *res) { return chdb.buffer(res); }
size_t shim_result_length(void *res) { return chdb.length(res); }
const char *shim_result_error(void *res) { return chdb.error(res); }
uint64_t shim_result_rows_read(void *res) { return chdb.rows_read(res); }
uint64_t shim_result_bytes_read(void *res) { return chdb.bytes_read(res); }
uint64_t shim_result_rows_written(void *res) { return chdb.rows_written(res); }
uint64_t shim_result_bytes_written(void *res) { return chdb.bytes_written(res); }
double shim_result_elapsed(void *res) { return chdb.elapsed(res); }
void shim_destroy(void *res) { chdb.destroy(res); }

int shim_disable_signal_handlers(void) {
    if (chdb.set_signal_handlers_enabled == NULL) {
        return 0;
    }
    chdb.set_signal_handlers_enabled(0);
    return 1;
}

// The signals whose handlers the Go runtime installs and needs: the
// synchronous faults it turns into panics, SIGURG for goroutine preemption,
// SIGPROF for pprof, SIGCHLD/SIGPIPE/SIGTERM/SIGINT/SIGHUP/SIGQUIT for
// os/signal and os/exec. SIGUSR1/SIGUSR2 and the real-time signals are left
// to chDB: ClickHouse's query profiler and stack-trace collector use them on
// its own threads.
static const int guarded[] = {SIGHUP, SIGINT,  SIGQUIT, SIGILL,  SIGTRAP, SIGABRT, SIGBUS,  SIGFPE,
                              SIGSEGV, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU,
                              SIGURG,  SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGSYS};
#define GUARDED_COUNT ((int)(sizeof guarded / sizeof guarded[0]))
static struct sigaction saved[GUARDED_COUNT];

void shim_save_signals(void) {
    for (int i = 0; i < GUARDED_COUNT; i++) {
        sigaction(guarded[i], NULL, &saved[i]);
    }
}

// SA_RESTORER is added by glibc's sigaction wrapper on every install, so it
// says nothing about who installed a handler.
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

uint64_t shim_restore_signals(void) {
    uint64_t restored = 0;
    for (int i = 0; i < GUARDED_COUNT; i++) {
        struct sigaction now;
        sigaction(guarded[i], NULL, &now);
        if (now.sa_sigaction != saved[i].sa_sigaction ||
            (now.sa_flags & ~SA_RESTORER) != (saved[i].sa_flags & ~SA_RESTORER)) {
            sigaction(guarded[i], &saved[i], NULL);
            restored |= (uint64_t)1 << guarded[i];
        }
    }
    return restored;
}
