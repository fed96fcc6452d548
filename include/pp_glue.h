/*
 * res_phoneprov in Rust: the C glue's declarations.
 *
 * The glue exists for what bindgen cannot reach: macros (AST_MODULE_INFO, ast_log,
 * ast_var_assign, ast_cli_register_multiple, ast_custom_function_register), static
 * registration structures, varargs, and small adapters over Asterisk's inline functions
 * (ast_str_create and the other ast_str calls). Everything here is a thin, logic-free
 * bridge; what bindgen reaches (functions, struct fields, system calls) is called from Rust.
 *
 * Licensed under the GNU General Public License version 2 only.
 */
#ifndef PP_GLUE_H
#define PP_GLUE_H

#include <stddef.h>
#include <sys/types.h>

struct ast_tcptls_session_instance;
struct ast_variable;
struct ast_config;
struct varshead;
struct ast_var_t;
struct ast_str;
struct mansession;
struct message;

#include "pp_table.h"

/* Log levels as ast_log knows them (LOG_DEBUG .. LOG_ERROR). */
enum pp_log_level {
	PP_LOG_DEBUG = 0,
	PP_LOG_NOTICE = 2,
	PP_LOG_WARNING = 3,
	PP_LOG_ERROR = 4,
	PP_LOG_VERBOSE = 5,
};

/* Entry points the glue calls in Rust (src/exports/entry.rs). Each one catches panics on the
 * Rust side. Commands, functions and actions are numbered as in pp_table.h. */
int pp_rs_load(void);
int pp_rs_unload(void);
int pp_rs_reload(void);
/* Returns 1 when the request was answered, 0 when the glue must still answer it. */
int pp_rs_http(struct ast_tcptls_session_instance *ser, const char *uri, int method,
	struct ast_variable *headers);
/* argv: the words after the command's own; pos counts from the first of them. */
void pp_rs_cli(int command, int fd, int argc, const char *const *argv);
char *pp_rs_cli_complete(int command, const char *line, const char *word, int pos, int state);
char *pp_rs_function(int function, const char *data);
/* Answers the action (0), or does not (-1: Asterisk then closes the manager session). */
int pp_rs_manager(int action, struct mansession *s, const struct message *m);
void pp_rs_free_string(char *s);
/* Runs, on a thread the glue made, the task pp_thread_spawn was given. */
void pp_rs_run_task(void *task);

/* Logging: the message is always passed as a "%s" argument, never as a format. */
void pp_log(int level, const char *file, int line, const char *function, const char *message);
int pp_debug_enabled(void);

/* Whether Asterisk has finished loading every module. */
int pp_fully_booted(void);

/* Variable lists (struct varshead). */
void pp_vars_push(struct varshead *head, const char *name, const char *value);
const struct ast_var_t *pp_vars_first(const struct varshead *head);
const struct ast_var_t *pp_vars_next(const struct ast_var_t *var);

/* Substitution: returns a new ast_str the caller frees with pp_str_free. */
struct ast_str *pp_substitute(const struct varshead *head, const char *template_text);
/* A global variable's value (a new ast_str), or NULL when there is none. */
struct ast_str *pp_global_var(const char *name);
const char *pp_str_buffer(const struct ast_str *s);
void pp_str_free(struct ast_str *s);
/* A new ast_str holding len bytes of data (NULL for NULL data or out of memory): here
 * because ast_str_create is an inline function, which bindgen cannot call. */
struct ast_str *pp_str_from(const char *data, size_t len);

/* A thread of the module's own (listed by `core show threads`) running pp_rs_run_task(task);
 * 0 on success. */
int pp_thread_spawn(void *task, pthread_t *thread);

/* The rows of realtime `family` whose `field` equals `value`; NULL when there are none or the
 * lookup failed (the realtime API does not tell which). */
struct ast_config *pp_realtime_multi(const char *family, const char *field, const char *value);
/* 0 when `family` is mapped and its storage answers now; -1 otherwise. */
int pp_realtime_probe(const char *family);

/* HTTP. */
int pp_http_link(void);
void pp_http_unlink(void);
/* How many requests are inside the HTTP callback right now. */
int pp_http_in_flight(void);
/* The local address of the connection, family 4 (4 bytes) or 6 (16 bytes), and port. */
int pp_local_address(struct ast_tcptls_session_instance *ser, unsigned char out[16], int *family,
	int *port);
/* The client's address and port: family 4 (4 bytes) or 6 (16 bytes). */
int pp_remote_address(struct ast_tcptls_session_instance *ser, unsigned char out[16], int *family,
	int *port);
/* Whether the connection is TLS (1) or plain (0). */
int pp_is_tls(struct ast_tcptls_session_instance *ser);
/* The client's address (no port) as text; 0 on success. */
int pp_client_address(struct ast_tcptls_session_instance *ser, char *buf, int len);
/* Bytes printed with "%.*s": no NUL needed after them, none inside. */
struct pp_bytes {
	const char *data;
	int len;
};
/* The AMI event PhoneprovFetch; each value is printed on its own line: they must hold no
 * CR or LF. */
void pp_event_fetch(struct pp_bytes mac, struct pp_bytes uri, struct pp_bytes client,
	struct pp_bytes user_agent, struct pp_bytes model, struct pp_bytes firmware, int tls,
	int status);
/* Sends a complete answer. headers: extra header lines, each ending in \r\n. */
void pp_http_send(struct ast_tcptls_session_instance *ser, int method, int status,
	const char *title, const char *headers, const char *body, size_t body_len, int fd,
	int static_content);
void pp_http_error(struct ast_tcptls_session_instance *ser, int status, const char *title,
	const char *text);

/* The request body, read by the module itself (Asterisk's own reader keeps bodies in memory
 * and stops at 40 KB). Reads at most len bytes; 0 at the end of the stream or on Asterisk's
 * inactivity timeout; -1 on error. */
ssize_t pp_http_body_read(struct ast_tcptls_session_instance *ser, void *buf, size_t len);
/* One line of the body (a chunk size or trailer): at most size - 1 bytes, NUL-terminated,
 * never past the line's \n. Returns its length, 0 at the end of the stream, -1 on error. */
ssize_t pp_http_body_gets(struct ast_tcptls_session_instance *ser, char *buf, size_t size);
/* Tells Asterisk the body was consumed (ok 1) or must not be read further (ok 0: the
 * connection closes after the answer). Without it, Asterisk reads the body itself before
 * answering. */
void pp_http_body_status(struct ast_tcptls_session_instance *ser, int ok);
/* Sends the interim "100 Continue" a client with "Expect: 100-continue" waits for; 0 on
 * success. */
int pp_http_continue(struct ast_tcptls_session_instance *ser);
/* The connection closes after the answer (an unread body is then never read). */
void pp_http_close_on_completion(struct ast_tcptls_session_instance *ser);

/* The AMI event PhoneprovUpload (class security); values as for pp_event_fetch. */
void pp_event_upload(struct pp_bytes mac, struct pp_bytes uri, struct pp_bytes client,
	struct pp_bytes user_agent, long long size, int tls, int status);

/* Runs a manager action inside Asterisk (ast_hook_send_action) and returns what it answered
 * (an ast_str to free with pp_str_free), NULL on failure. msg: "Key: value\r\n" lines. */
struct ast_str *pp_manager_action(const char *msg);

/* The metrics callback of res_prometheus, when that module is loaded: 0 when registered.
 * Unregistering what was never registered does nothing. */
int pp_prometheus_register(void);
/* asterisk.conf's systemname ("" when not set); lives as long as Asterisk. */
const char *pp_system_name(void);
void pp_prometheus_unregister(void);
/* Follows FullyBooted and the loader's Load and Unload of res_prometheus
 * (pp_rs_prometheus_changed). */
int pp_module_events_subscribe(void);
void pp_module_events_unsubscribe(void);
/* What pp_rs_prometheus_changed is told. */
enum pp_prometheus_event {
	PP_PROMETHEUS_UNLOADED = 0,
	PP_PROMETHEUS_LOADED = 1,
	PP_PROMETHEUS_BOOTED = 2,
};
/* Implemented in Rust: an event of enum pp_prometheus_event. */
void pp_rs_prometheus_changed(int event);
/* Implemented in Rust: the metrics text (free with pp_rs_free_string), NULL on failure. */
char *pp_rs_metrics(void);

/* The CLI commands, dialplan functions and manager actions of pp_table.h. */
int pp_cli_register(void);
void pp_cli_unregister(void);
int pp_manager_register(void);
void pp_manager_unregister(void);
void pp_cli_print(int fd, const char *text);
int pp_functions_register(void);
void pp_functions_unregister(void);

#endif /* PP_GLUE_H */
