/*
 * res_phoneprov in Rust: C glue. Module registration and thin adapters over Asterisk
 * macros and inline functions. No provisioning logic lives here; see src/ and core/.
 *
 * Licensed under the GNU General Public License version 2 only.
 */
#define AST_MODULE "res_phoneprov"
#define AST_MODULE_SELF_SYM __internal_res_phoneprov_self

#include "asterisk.h"

#include <dlfcn.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <string.h>

#include "asterisk/module.h"
#include "asterisk/logger.h"
#include "asterisk/options.h"
#include "asterisk/chanvars.h"
#include "asterisk/pbx.h"
#include "asterisk/strings.h"
#include "asterisk/config.h"
#include "asterisk/http.h"
#include "asterisk/tcptls.h"
#include "asterisk/iostream.h"
#include "asterisk/cli.h"
#include "asterisk/utils.h"
#include "asterisk/manager.h"
#include "asterisk/netsock2.h"
#include "asterisk/paths.h"
#include "asterisk/res_prometheus.h"
#include "asterisk/stasis.h"
#include "asterisk/json.h"

#include "pp_glue.h"

void pp_log(int level, const char *file, int line, const char *function, const char *message)
{
	ast_log(level, file, line, function, "%s", message);
}

int pp_debug_enabled(void)
{
	return DEBUG_ATLEAST(1);
}

/* asterisk.conf [options] systemname, "" when not set. */
const char *pp_system_name(void)
{
	return ast_config_AST_SYSTEM_NAME ? ast_config_AST_SYSTEM_NAME : "";
}

int pp_fully_booted(void)
{
	return ast_fully_booted ? 1 : 0;
}

void pp_vars_push(struct varshead *head, const char *name, const char *value)
{
	AST_VAR_LIST_INSERT_TAIL(head, ast_var_assign(name, value));
}

const struct ast_var_t *pp_vars_first(const struct varshead *head)
{
	return AST_LIST_FIRST(head);
}

const struct ast_var_t *pp_vars_next(const struct ast_var_t *var)
{
	return AST_LIST_NEXT(var, entries);
}

struct ast_str *pp_substitute(const struct varshead *head, const char *template_text)
{
	struct ast_str *out = ast_str_create(strlen(template_text) + 64);

	if (out) {
		/* The substitution only reads the list; the cast drops a const the API lacks. */
		ast_str_substitute_variables_varshead(&out, 0, (struct varshead *) head, template_text);
	}
	return out;
}

struct ast_str *pp_global_var(const char *name)
{
	struct ast_str *out = ast_str_create(32);

	if (out && !ast_str_retrieve_variable(&out, 0, NULL, NULL, name)) {
		ast_free(out);
		return NULL;
	}
	return out;
}

const char *pp_str_buffer(const struct ast_str *s)
{
	return ast_str_buffer(s);
}

void pp_str_free(struct ast_str *s)
{
	ast_free(s);
}

static void *task_thread(void *task)
{
	pp_rs_run_task(task);
	return NULL;
}

int pp_thread_spawn(void *task, pthread_t *thread)
{
	return ast_pthread_create(thread, NULL, task_thread, task);
}

struct ast_config *pp_realtime_multi(const char *family, const char *field, const char *value)
{
	return ast_load_realtime_multientry(family, field, value, SENTINEL);
}

int pp_realtime_probe(const char *family)
{
	if (!ast_check_realtime(family)) {
		return -1;
	}
	/* A backend answers a requirement from its cache of table columns; forgetting that
	 * cache first makes it ask the database (res_config_pgsql, _odbc and _sqlite3 do). */
	ast_unload_realtime(family);
	return ast_realtime_require_field(family, SENTINEL) ? -1 : 0;
}

/* Requests inside http_callback. Asterisk calls a URI handler after releasing its URI list
 * lock, so unlinking the handler does not wait for them: unload waits for this to be 0. */
static int http_in_flight;

static int http_callback(struct ast_tcptls_session_instance *ser, const struct ast_http_uri *urih,
	const char *uri, enum ast_http_method method, struct ast_variable *get_vars,
	struct ast_variable *headers)
{
	ast_atomic_fetchadd_int(&http_in_flight, 1);
	if (!pp_rs_http(ser, uri, method, headers)) {
		/* A panic (or a path that forgot to answer) must not leave the client waiting. */
		ast_http_error(ser, 500, "Internal Error", "An internal error has occured.");
	}
	ast_atomic_fetchadd_int(&http_in_flight, -1);
	return 0;
}

int pp_http_in_flight(void)
{
	return ast_atomic_fetchadd_int(&http_in_flight, 0);
}

static struct ast_http_uri phoneprov_uri = {
	.callback = http_callback,
	.description = "Asterisk HTTP Phone Provisioning Tool",
	.uri = "phoneprov",
	.has_subtree = 1,
	/* The module decodes the URI itself: a decoded %00 would silently shorten the C string. */
	.no_decode_uri = 1,
	.key = __FILE__,
};

int pp_http_link(void)
{
	return ast_http_uri_link(&phoneprov_uri);
}

void pp_http_unlink(void)
{
	ast_http_uri_unlink(&phoneprov_uri);
}

int pp_local_address(struct ast_tcptls_session_instance *ser, unsigned char out[16], int *family,
	int *port)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof(addr);

	if (!ser || !ser->stream || getsockname(ast_iostream_get_fd(ser->stream), (struct sockaddr *) &addr, &len)) {
		return -1;
	}
	if (addr.ss_family == AF_INET) {
		memcpy(out, &((struct sockaddr_in *) &addr)->sin_addr, 4);
		*port = ntohs(((struct sockaddr_in *) &addr)->sin_port);
		*family = 4;
		return 0;
	}
	if (addr.ss_family == AF_INET6) {
		memcpy(out, &((struct sockaddr_in6 *) &addr)->sin6_addr, 16);
		*port = ntohs(((struct sockaddr_in6 *) &addr)->sin6_port);
		*family = 6;
		return 0;
	}
	return -1;
}

int pp_remote_address(struct ast_tcptls_session_instance *ser, unsigned char out[16], int *family,
	int *port)
{
	const struct ast_sockaddr *addr;

	if (!ser) {
		return -1;
	}
	addr = &ser->remote_address;
	*port = ast_sockaddr_port(addr);
	if (addr->ss.ss_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *) &addr->ss)->sin_addr, 4);
		*family = 4;
		return 0;
	}
	if (addr->ss.ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *) &addr->ss)->sin6_addr, 16);
		*family = 6;
		return 0;
	}
	return -1;
}

int pp_is_tls(struct ast_tcptls_session_instance *ser)
{
	return ser && ser->stream && ast_iostream_get_ssl(ser->stream) ? 1 : 0;
}

int pp_client_address(struct ast_tcptls_session_instance *ser, char *buf, int len)
{
	if (!ser || len <= 0) {
		return -1;
	}
	ast_copy_string(buf, ast_sockaddr_stringify_addr(&ser->remote_address), len);
	return 0;
}

void pp_event_fetch(struct pp_bytes mac, struct pp_bytes uri, struct pp_bytes client,
	struct pp_bytes user_agent, struct pp_bytes model, struct pp_bytes firmware, int tls,
	int status)
{
	manager_event(EVENT_FLAG_SECURITY, "PhoneprovFetch",
		"MAC: %.*s\r\nURI: %.*s\r\nClientAddress: %.*s\r\nUserAgent: %.*s\r\n"
		"Model: %.*s\r\nFirmware: %.*s\r\nTLS: %s\r\nStatus: %d\r\n",
		mac.len, mac.data, uri.len, uri.data, client.len, client.data,
		user_agent.len, user_agent.data, model.len, model.data, firmware.len, firmware.data,
		tls ? "yes" : "no", status);
}

struct ast_str *pp_str_from(const char *data, size_t len)
{
	struct ast_str *s;

	if (!data) {
		return NULL;
	}
	s = ast_str_create(len + 1);
	/* A plain copy: ast_str_set_substr copies byte by byte (slow for large directories)
	 * and reads *data even for a zero length, where a Rust pointer may dangle. */
	if (s && len) {
		memcpy(ast_str_buffer(s), data, len);
		ast_str_buffer(s)[len] = '\0';
		ast_str_update(s);
	}
	return s;
}

void pp_http_send(struct ast_tcptls_session_instance *ser, int method, int status,
	const char *title, const char *headers, const char *body, size_t body_len, int fd,
	int static_content)
{
	ast_http_send(ser, method, status, title, pp_str_from(headers, headers ? strlen(headers) : 0),
		pp_str_from(body, body_len), fd, static_content);
}

void pp_http_error(struct ast_tcptls_session_instance *ser, int status, const char *title,
	const char *text)
{
	ast_http_error(ser, status, title, text);
}

ssize_t pp_http_body_read(struct ast_tcptls_session_instance *ser, void *buf, size_t len)
{
	if (!ser || !ser->stream) {
		return -1;
	}
	/* The HTTP worker set the stream to wait for input up to its inactivity timeout. */
	return ast_iostream_read(ser->stream, buf, len);
}

ssize_t pp_http_body_gets(struct ast_tcptls_session_instance *ser, char *buf, size_t size)
{
	if (!ser || !ser->stream || size < 2) {
		return -1;
	}
	/* Reads ahead into the stream's own buffer, which later reads drain first: nothing of
	 * the next request is lost. */
	return ast_iostream_gets(ser->stream, buf, size);
}

void pp_http_body_status(struct ast_tcptls_session_instance *ser, int ok)
{
	ast_http_body_read_status(ser, ok);
}

int pp_http_continue(struct ast_tcptls_session_instance *ser)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!ser || !ser->stream) {
		return -1;
	}
	return ast_iostream_write(ser->stream, line, sizeof(line) - 1) == sizeof(line) - 1 ? 0 : -1;
}

void pp_http_close_on_completion(struct ast_tcptls_session_instance *ser)
{
	ast_http_request_close_on_completion(ser);
}

void pp_event_upload(struct pp_bytes mac, struct pp_bytes uri, struct pp_bytes client,
	struct pp_bytes user_agent, long long size, int tls, int status)
{
	manager_event(EVENT_FLAG_SECURITY, "PhoneprovUpload",
		"MAC: %.*s\r\nURI: %.*s\r\nClientAddress: %.*s\r\nUserAgent: %.*s\r\n"
		"Size: %lld\r\nTLS: %s\r\nStatus: %d\r\n",
		mac.len, mac.data, uri.len, uri.data, client.len, client.data,
		user_agent.len, user_agent.data, size, tls ? "yes" : "no", status);
}

void pp_cli_print(int fd, const char *text)
{
	ast_cli(fd, "%s", text);
}

/* The CLI commands of the table (include/pp_table.h): one handler for all, which knows its
 * command by the entry it is called for (an entry's index is its id). */
struct cli_command {
	const char *name;
	const char *usage;
	/* The extra words the command takes, at least and at most. */
	int min_extra;
	int max_extra;
};

#define PP_CLI_ROW(id, words, summary, usage_text, min, max) [id] = { words, usage_text, min, max },
static const struct cli_command cli_commands[] = { PP_CLI_COMMANDS(PP_CLI_ROW) };

static char *cli_handler(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a);

#define PP_CLI_ENTRY(id, words, summary, ...) [id] = AST_CLI_DEFINE(cli_handler, summary),
static struct ast_cli_entry pp_cli_entries[] = { PP_CLI_COMMANDS(PP_CLI_ENTRY) };

/* Runs the entry's command in Rust when the number of extra words is within its bounds.
 * Rust sees only the words after the command's own, and positions counted from them. */
static char *cli_handler(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	const int id = e - pp_cli_entries;
	const struct cli_command *c = &cli_commands[id];

	switch (cmd) {
	case CLI_INIT:
		e->command = (char *) c->name;
		e->usage = c->usage;
		return NULL;
	case CLI_GENERATE:
		return pp_rs_cli_complete(id, a->line, a->word, a->pos - e->args, a->n);
	}
	if (a->argc < e->args + c->min_extra || a->argc > e->args + c->max_extra) {
		return CLI_SHOWUSAGE;
	}
	pp_rs_cli(id, a->fd, a->argc - e->args, a->argv + e->args);
	return CLI_SUCCESS;
}

int pp_cli_register(void)
{
	return ast_cli_register_multiple(pp_cli_entries, ARRAY_LEN(pp_cli_entries));
}

void pp_cli_unregister(void)
{
	ast_cli_unregister_multiple(pp_cli_entries, ARRAY_LEN(pp_cli_entries));
}

/* What an action run through ast_hook_send_action answers, for the thread running it (the
 * hook is called synchronously, on that thread): no lock is held across the call. */
static __thread struct ast_str *action_answer;

static int capture_answer(int category, const char *event, char *body)
{
	if (action_answer && body) {
		ast_str_append(&action_answer, 0, "%s", body);
	}
	return 0;
}

static struct manager_custom_hook answer_hook = {
	.file = __FILE__,
	.helper = capture_answer,
};

struct ast_str *pp_manager_action(const char *msg)
{
	struct ast_str *out = ast_str_create(256);

	if (!out) {
		return NULL;
	}
	action_answer = out;
	ast_hook_send_action(&answer_hook, msg);
	out = action_answer;
	action_answer = NULL;
	return out;
}

/* The manager actions of the table: a callback each (Asterisk tells a callback nothing of
 * the action it runs for), which Rust answers. */
#define PP_MANAGER_CALLBACK(id, ...) \
	static int id##_action(struct mansession *s, const struct message *m) \
	{ \
		return pp_rs_manager(id, s, m); \
	}
PP_MANAGER_ACTIONS(PP_MANAGER_CALLBACK)

static const struct {
	const char *name;
	int authority;
	int (*callback)(struct mansession *s, const struct message *m);
	const char *synopsis;
} manager_actions[] = {
#define PP_MANAGER_ROW(id, name, authority, synopsis) [id] = { name, authority, id##_action, synopsis },
	PP_MANAGER_ACTIONS(PP_MANAGER_ROW)
};

int pp_manager_register(void)
{
	int res = 0;
	size_t i;

	for (i = 0; i < ARRAY_LEN(manager_actions); i++) {
		res |= ast_manager_register2(manager_actions[i].name, manager_actions[i].authority,
			manager_actions[i].callback, AST_MODULE_SELF, manager_actions[i].synopsis, NULL);
	}
	return res;
}

void pp_manager_unregister(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(manager_actions); i++) {
		ast_manager_unregister(manager_actions[i].name);
	}
}

static int function_read(int function, char *data, char *buf, size_t len)
{
	char *result = pp_rs_function(function, data);

	if (!result) {
		buf[0] = '\0';
		return 0;
	}
	ast_copy_string(buf, result, len);
	pp_rs_free_string(result);
	return 0;
}

static int function_read2(int function, char *data, struct ast_str **buf, ssize_t len)
{
	char *result = pp_rs_function(function, data);

	if (result) {
		ast_str_append(buf, len, "%s", result);
		pp_rs_free_string(result);
	}
	return 0;
}

/* The dialplan functions of the table: a read and a read2 callback each (Asterisk tells
 * them the name they were called by, not which structure they belong to). */
#define PP_FUNCTION_CALLBACKS(id, ...) \
	static int id##_read(struct ast_channel *chan, const char *cmd, char *data, char *buf, \
		size_t len) \
	{ \
		return function_read(id, data, buf, len); \
	} \
	static int id##_read2(struct ast_channel *chan, const char *cmd, char *data, \
		struct ast_str **buf, ssize_t len) \
	{ \
		return function_read2(id, data, buf, len); \
	}
PP_FUNCTIONS(PP_FUNCTION_CALLBACKS)

#define PP_OURS "res_phoneprov (Rust) " PP_VERSION

/*
 * The documentation is given as static strings: with a synopsis or description already set,
 * Asterisk's registration neither looks the function up in its XML documentation (which
 * knows only the stock module's functions, and warns for the others) nor allocates the
 * string fields, and unregistration frees nothing that is not its own. Nothing to free here
 * either: the strings live in this object file.
 */
#define PP_FUNCTION_ENTRY(id, since_text, synopsis_text, syntax_text, arguments_text, desc_text, \
	seealso_text) \
	[id] = { \
		.name = #id, \
		.synopsis = synopsis_text, \
		.syntax = syntax_text, \
		.arguments = arguments_text, \
		.desc = desc_text, \
		.seealso = seealso_text, \
		.since = since_text, \
		.provided_by = AST_MODULE, \
		.read = id##_read, \
		.read2 = id##_read2, \
	},
static struct ast_custom_function functions[] = { PP_FUNCTIONS(PP_FUNCTION_ENTRY) };

int pp_functions_register(void)
{
	int res = 0;
	size_t i;

	for (i = 0; i < ARRAY_LEN(functions); i++) {
		res |= ast_custom_function_register(&functions[i]);
	}
	return res;
}

void pp_functions_unregister(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(functions); i++) {
		ast_custom_function_unregister(&functions[i]);
	}
}

static void prometheus_scrape(struct ast_str **output)
{
	char *text = pp_rs_metrics();

	if (text) {
		ast_str_append(output, 0, "%s", text);
		pp_rs_free_string(text);
	}
}

static struct prometheus_callback prometheus_callback = {
	.name = "res_phoneprov",
	.callback_fn = prometheus_scrape,
};

/* res_prometheus is optional: its functions are looked up when it is loaded (it exports
 * them globally) instead of being linked, so this module loads and works without it. When
 * to register is decided in Rust (src/module/telemetry/offer.rs): registering twice would
 * list the series twice.
 *
 * Looked up through a handle of res_prometheus.so opened with RTLD_NOLOAD (only if it is
 * mapped already), never with dlsym(RTLD_DEFAULT): glibc makes the library that defines a
 * symbol found that way a dependency of the caller, so res_prometheus would stay mapped
 * after its unload, its next load would reuse that image, and this module's unload would
 * then unmap res_prometheus under its own running URI handler (the next /metrics request
 * crashes Asterisk). The handle also keeps it mapped while its function runs here. */
static void *prometheus_open(void)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/res_prometheus.so", ast_config_AST_MODULE_DIR) >= (int) sizeof(path)) {
		return NULL;
	}
	return dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
}

int pp_prometheus_register(void)
{
	int (*reg)(struct prometheus_callback *);
	void *lib = prometheus_open();
	int res = -1;

	if (!lib) {
		return -1;
	}
	reg = (int (*)(struct prometheus_callback *)) dlsym(lib, "prometheus_callback_register");
	if (reg && !reg(&prometheus_callback)) {
		res = 0;
	}
	dlclose(lib);
	return res;
}

/* Removes ours, if there; nothing when it is not. */
void pp_prometheus_unregister(void)
{
	void (*unreg)(struct prometheus_callback *);
	void *lib = prometheus_open();

	if (!lib) {
		return;
	}
	unreg = (void (*)(struct prometheus_callback *)) dlsym(lib, "prometheus_callback_unregister");
	if (unreg) {
		unreg(&prometheus_callback);
	}
	dlclose(lib);
}

/* What the loader and the core publish on the manager topic that decides when the metrics
 * callback is (re)registered (src/module/telemetry/offer.rs): FullyBooted (res_prometheus
 * has run its load_module by then, if it is to load at boot), and the Load and Unload of
 * res_prometheus (its unload frees the callbacks registered with it; its load makes a new,
 * empty list). Delivered on the subscription's own thread, never inside the loader; Rust
 * only queues what it is told here, so unsubscribing from unload (which Asterisk calls with
 * its module list locked) waits for nothing that waits for that lock. */
static struct stasis_subscription *module_events;

/* "res_prometheus" as the administrator typed it: with ".so" or without. */
static int is_prometheus(const char *module)
{
	static const char name[] = "res_prometheus";

	return module && !strncmp(module, name, sizeof(name) - 1)
		&& (!module[sizeof(name) - 1] || !strcmp(module + sizeof(name) - 1, ".so"));
}

static void module_event(void *data, struct stasis_subscription *sub, struct stasis_message *msg)
{
	struct ast_json_payload *payload;
	struct ast_json *event;
	const char *type, *module, *status;

	if (!ast_manager_get_generic_type() || stasis_message_type(msg) != ast_manager_get_generic_type()) {
		return;
	}
	payload = stasis_message_data(msg);
	if (!payload) {
		return;
	}
	type = ast_json_string_get(ast_json_object_get(payload->json, "type"));
	if (!type) {
		return;
	}
	if (!strcmp(type, "FullyBooted")) {
		pp_rs_prometheus_changed(PP_PROMETHEUS_BOOTED);
		return;
	}
	event = ast_json_object_get(payload->json, "event");
	module = ast_json_string_get(ast_json_object_get(event, "Module"));
	status = ast_json_string_get(ast_json_object_get(event, "Status"));
	if (!is_prometheus(module)) {
		return;
	}
	if (!strcmp(type, "Unload")) {
		pp_rs_prometheus_changed(PP_PROMETHEUS_UNLOADED);
	} else if (!strcmp(type, "Load") && status && !strcmp(status, "Success")) {
		pp_rs_prometheus_changed(PP_PROMETHEUS_LOADED);
	}
}

int pp_module_events_subscribe(void)
{
	/* No topic yet when the module is preloaded: the caller tries again. */
	if (!module_events && ast_manager_get_topic()) {
		module_events = stasis_subscribe(ast_manager_get_topic(), module_event, NULL);
	}
	return module_events ? 0 : -1;
}

/* Returns once no callback of the subscription runs any more. */
void pp_module_events_unsubscribe(void)
{
	module_events = stasis_unsubscribe_and_join(module_events);
}

static int load_module(void)
{
	return pp_rs_load();
}

static int unload_module(void)
{
	return pp_rs_unload();
}

static int reload_module(void)
{
	return pp_rs_reload();
}

/* PP_BUILD_ID comes from build.rs. `module show` cuts descriptions at 40 characters: this one
 * is exactly 40 with the 8 hex digits of the id. */
AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_GLOBAL_SYMBOLS | AST_MODFLAG_LOAD_ORDER,
	"HTTP Phone Provisioning (Rust, " PP_BUILD_ID ")",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.reload = reload_module,
	.load_pri = AST_MODPRI_CHANNEL_DEPEND,
	.requires = "http",
);
