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
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <unistd.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "asterisk/module.h"
#include "asterisk/logger.h"
#include "asterisk/options.h"
#include "asterisk/paths.h"
#include "asterisk/chanvars.h"
#include "asterisk/pbx.h"
#include "asterisk/strings.h"
#include "asterisk/config.h"
#include "asterisk/localtime.h"
#include "asterisk/http.h"
#include "asterisk/tcptls.h"
#include "asterisk/iostream.h"
#include "asterisk/cli.h"
#include "asterisk/utils.h"
#include "asterisk/manager.h"
#include "asterisk/acl.h"
#include "asterisk/netsock2.h"
#include "asterisk/security_events.h"
#include "asterisk/res_prometheus.h"

#include "pp_glue.h"

void pp_log(int level, const char *file, int line, const char *function, const char *message)
{
	ast_log(level, file, line, function, "%s", message);
}

int pp_debug_enabled(void)
{
	return DEBUG_ATLEAST(1);
}

char *pp_strdup(const char *s)
{
	return ast_strdup(s);
}

int pp_fully_booted(void)
{
	return ast_fully_booted ? 1 : 0;
}

const char *pp_data_dir(void)
{
	return ast_config_AST_DATA_DIR;
}

const char *pp_spool_dir(void)
{
	return ast_config_AST_SPOOL_DIR;
}

struct varshead *pp_vars_new(void)
{
	return ast_var_list_create();
}

void pp_vars_push(struct varshead *head, const char *name, const char *value)
{
	AST_VAR_LIST_INSERT_TAIL(head, ast_var_assign(name, value));
}

void pp_vars_free(struct varshead *head)
{
	ast_var_list_destroy(head);
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

size_t pp_str_length(const struct ast_str *s)
{
	return ast_str_strlen(s);
}

void pp_str_free(struct ast_str *s)
{
	ast_free(s);
}

struct ast_config *pp_config_load(const char *filename, int *status)
{
	struct ast_flags flags = { 0 };
	struct ast_config *cfg = ast_config_load2(filename, AST_MODULE, flags);

	if (!cfg) {
		*status = 1;
		return NULL;
	}
	if (cfg == CONFIG_STATUS_FILEINVALID) {
		*status = 2;
		return NULL;
	}
	*status = 0;
	return cfg;
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

void pp_thread_join(pthread_t thread)
{
	pthread_join(thread, NULL);
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

int pp_iface_ipv4(const char *iface, unsigned char out[4])
{
	struct ifreq ifr;
	int sock;
	int res;

	memset(&ifr, 0, sizeof(ifr));
	ast_copy_string(ifr.ifr_name, iface, sizeof(ifr.ifr_name));
	sock = socket(PF_INET, SOCK_DGRAM, IPPROTO_IP);
	if (sock < 0) {
		return -1;
	}
	res = ioctl(sock, SIOCGIFADDR, &ifr);
	close(sock);
	if (res < 0) {
		return -1;
	}
	memcpy(out, &((struct sockaddr_in *) &ifr.ifr_addr)->sin_addr, 4);
	return 0;
}

void pp_tz_info(const char *zone, int out[8])
{
	time_t now = time(NULL);
	int dst_enabled = 0;
	time_t start = 0;
	time_t end = 0;
	int offset = 0;
	struct ast_tm tm;
	struct timeval when = { 0, 0 };

	memset(out, 0, 8 * sizeof(int));
	ast_get_dst_info(&now, &dst_enabled, &start, &end, &offset, zone);
	out[0] = offset;
	out[1] = dst_enabled;
	if (!dst_enabled) {
		return;
	}
	when.tv_sec = start;
	ast_localtime(&when, &tm, zone);
	out[2] = tm.tm_mon + 1;
	out[3] = tm.tm_mday;
	out[4] = tm.tm_hour;
	when.tv_sec = end;
	ast_localtime(&when, &tm, zone);
	out[5] = tm.tm_mon + 1;
	out[6] = tm.tm_mday;
	out[7] = tm.tm_hour;
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

int pp_acl_allows(struct ast_acl_list *acl, const unsigned char *addr, int family)
{
	struct ast_sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *) &sa.ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sa.len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &sa.ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sa.len = sizeof(*sin6);
	}
	return ast_apply_acl_nolog(acl, &sa) == AST_SENSE_ALLOW ? 1 : 0;
}

static void sockaddr_set(struct ast_sockaddr *sa, const unsigned char *bytes, int family, int port)
{
	memset(sa, 0, sizeof(*sa));
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *) &sa->ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, bytes, 4);
		sin->sin_port = htons(port);
		sa->len = sizeof(*sin);
	} else if (family == 6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &sa->ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, bytes, 16);
		sin6->sin6_port = htons(port);
		sa->len = sizeof(*sin6);
	}
}

void pp_security_event(int event, const char *account, const char *session, const char *detail,
	const unsigned char *local, int local_family, int local_port,
	const unsigned char *remote, int remote_family, int remote_port, int tls)
{
	struct ast_sockaddr local_sa;
	struct ast_sockaddr remote_sa;
	struct timeval now = ast_tvnow();
	enum ast_transport transport = tls ? AST_TRANSPORT_TLS : AST_TRANSPORT_TCP;
	struct ast_security_event_common common = {
		.service = "phoneprov",
		.module = AST_MODULE,
		.account_id = account,
		.session_id = session,
		.session_tv = &now,
		.local_addr = { .addr = &local_sa, .transport = transport },
		.remote_addr = { .addr = &remote_sa, .transport = transport },
	};

	sockaddr_set(&local_sa, local, local_family, local_port);
	sockaddr_set(&remote_sa, remote, remote_family, remote_port);
	switch (event) {
	case PP_SEC_FAILED_ACL: {
		struct ast_security_event_failed_acl e = { .common = common, .acl_name = detail };

		e.common.event_type = AST_SECURITY_EVENT_FAILED_ACL;
		e.common.version = AST_SECURITY_EVENT_FAILED_ACL_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	case PP_SEC_INVAL_ACCT_ID: {
		struct ast_security_event_inval_acct_id e = { .common = common };

		e.common.event_type = AST_SECURITY_EVENT_INVAL_ACCT_ID;
		e.common.version = AST_SECURITY_EVENT_INVAL_ACCT_ID_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	case PP_SEC_CHAL_RESP_FAILED: {
		struct ast_security_event_chal_resp_failed e = {
			.common = common, .challenge = detail, .response = "", .expected_response = "",
		};

		e.common.event_type = AST_SECURITY_EVENT_CHAL_RESP_FAILED;
		e.common.version = AST_SECURITY_EVENT_CHAL_RESP_FAILED_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	case PP_SEC_INVAL_PASSWORD: {
		struct ast_security_event_inval_password e = {
			.common = common, .challenge = detail, .received_challenge = "", .received_hash = "",
		};

		e.common.event_type = AST_SECURITY_EVENT_INVAL_PASSWORD;
		e.common.version = AST_SECURITY_EVENT_INVAL_PASSWORD_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	case PP_SEC_SUCCESSFUL_AUTH: {
		struct ast_security_event_successful_auth e = { .common = common, .using_password = 1 };

		e.common.event_type = AST_SECURITY_EVENT_SUCCESSFUL_AUTH;
		e.common.version = AST_SECURITY_EVENT_SUCCESSFUL_AUTH_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	case PP_SEC_CHAL_SENT: {
		struct ast_security_event_chal_sent e = { .common = common, .challenge = detail };

		e.common.event_type = AST_SECURITY_EVENT_CHAL_SENT;
		e.common.version = AST_SECURITY_EVENT_CHAL_SENT_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	case PP_SEC_REQ_NOT_ALLOWED: {
		struct ast_security_event_req_not_allowed e = {
			.common = common, .request_type = detail, .request_params = "",
		};

		e.common.event_type = AST_SECURITY_EVENT_REQ_NOT_ALLOWED;
		e.common.version = AST_SECURITY_EVENT_REQ_NOT_ALLOWED_VERSION;
		ast_security_event_report(AST_SEC_EVT(&e));
		break;
	}
	}
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

void pp_http_prefix(char *buf, int len)
{
	ast_http_prefix(buf, len);
}

int pp_function_exists(const char *name)
{
	return ast_custom_function_find(name) ? 1 : 0;
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

/* The CLI commands: one handler for all, which finds its command by the entry it is called
 * for (the entries and this table are in the same order). */
struct cli_command {
	int command;
	const char *name;
	const char *usage;
	/* The extra words the command takes, at least and at most. */
	int min_extra;
	int max_extra;
};

static const struct cli_command cli_commands[] = {
	{ PP_CLI_SHOW_ROUTES, "phoneprov show routes",
		"Usage: phoneprov show routes\n"
		"       Lists all registered phoneprov http routes.\n",
		0, 0 },
	{ PP_CLI_SHOW_PHONE, "phoneprov show phone",
		"Usage: phoneprov show phone <mac>\n"
		"       Shows a phone's lines, their variables (secrets masked), its last 10\n"
		"       fetches and its routes.\n",
		1, 1 },
	{ PP_CLI_SHOW_PHONES, "phoneprov show phones",
		"Usage: phoneprov show phones\n"
		"       Lists every phone: MAC, profile, lines and its last fetch.\n",
		0, 0 },
	{ PP_CLI_TOKEN, "phoneprov token",
		"Usage: phoneprov token <mac> [ttl] [qr]\n"
		"       Makes a single-use enrollment URL for the phone, valid ttl seconds\n"
		"       (default 86400), serving its profile's enroll_file. With qr, also\n"
		"       prints it as a QR code to scan (needs serveraddr or serveriface).\n",
		1, 3 },
	{ PP_CLI_SHOW_TOKENS, "phoneprov show tokens",
		"Usage: phoneprov show tokens\n"
		"       Lists enrollment tokens: MAC, expiry, used or not (never the token).\n",
		0, 0 },
	{ PP_CLI_SHOW_STATUS, "phoneprov show status",
		"Usage: phoneprov show status\n"
		"       Phones, routes, and the last load or reload: how long it took, and how\n"
		"       much of it was Asterisk's config API (loading and walking the files).\n",
		0, 0 },
	{ PP_CLI_RESYNC, "phoneprov resync",
		"Usage: phoneprov resync <mac>|profile <name>|all\n"
		"       Sends a SIP NOTIFY (through res_pjsip_notify) to the registered contacts of\n"
		"       the phones' PJSIP endpoints (their first line's USERNAME), with their\n"
		"       profile's resync_event (default check-sync), so they fetch their files\n"
		"       again. Phones without an endpoint or a registered contact are listed.\n",
		1, 2 },
	{ PP_CLI_RENDER, "phoneprov render",
		"Usage: phoneprov render <uri> [secrets]\n"
		"       Prints what /phoneprov/<uri> serves (SERVER: serveraddr, else 127.0.0.1).\n"
		"       Values of variables named *SECRET* or *PASS* are masked, unless 'secrets'.\n",
		1, 2 },
	{ PP_CLI_CHECK, "phoneprov check",
		"Usage: phoneprov check [mac]\n"
		"       Renders every dynamic route (or those of one phone) and reports missing\n"
		"       templates, substitution errors and, for XML content types, where a body\n"
		"       is not well-formed.\n",
		0, 1 },
};

static char *cli_handler(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a);

static struct ast_cli_entry pp_cli_entries[] = {
	AST_CLI_DEFINE(cli_handler, "Show registered phoneprov http routes"),
	AST_CLI_DEFINE(cli_handler, "Show a provisioned phone"),
	AST_CLI_DEFINE(cli_handler, "List provisioned phones and their last fetch"),
	AST_CLI_DEFINE(cli_handler, "Make a single-use enrollment URL for a phone"),
	AST_CLI_DEFINE(cli_handler, "List enrollment tokens"),
	AST_CLI_DEFINE(cli_handler, "Show phoneprov figures and the last reload's timing"),
	AST_CLI_DEFINE(cli_handler, "Tell phones to fetch their phoneprov files again"),
	AST_CLI_DEFINE(cli_handler, "Print what a phoneprov URI serves"),
	AST_CLI_DEFINE(cli_handler, "Check every phoneprov route renders cleanly"),
};

_Static_assert(ARRAY_LEN(pp_cli_entries) == ARRAY_LEN(cli_commands),
	"one CLI entry per command");

/* Runs the entry's command in Rust when the argument count is within its bounds. */
static char *cli_handler(struct ast_cli_entry *e, int cmd, struct ast_cli_args *a)
{
	const struct cli_command *c = &cli_commands[e - pp_cli_entries];

	switch (cmd) {
	case CLI_INIT:
		e->command = (char *) c->name;
		e->usage = c->usage;
		return NULL;
	case CLI_GENERATE:
		return pp_rs_cli_complete(c->command, a->line, a->word, a->pos, a->n);
	}
	if (a->argc < e->args + c->min_extra || a->argc > e->args + c->max_extra) {
		return CLI_SHOWUSAGE;
	}
	pp_rs_cli(c->command, a->fd, a->argc, a->argv);
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

/* Answers an action with what Rust said (text, freed here): Success with it as the
 * message when ok, else Error. */
static int manager_answer(struct mansession *s, const struct message *m, char *text, int ok)
{
	if (!text) {
		astman_send_error(s, m, "Internal error");
		return 0;
	}
	if (ok) {
		astman_send_ack(s, m, text);
	} else {
		astman_send_error(s, m, text);
	}
	pp_rs_free_string(text);
	return 0;
}

static int manager_resync(struct mansession *s, const struct message *m)
{
	int ok = 0;
	char *text = pp_rs_resync(astman_get_header(m, "MAC"), astman_get_header(m, "Profile"),
		astman_get_header(m, "All"), &ok);

	return manager_answer(s, m, text, ok);
}

static int manager_token(struct mansession *s, const struct message *m)
{
	int ok = 0;
	/* The URL's path is the ack's Message. */
	char *text = pp_rs_token(astman_get_header(m, "MAC"), astman_get_header(m, "TTL"), &ok);

	return manager_answer(s, m, text, ok);
}

int pp_manager_register(void)
{
	/* Making a URL that serves a phone's secrets needs the config write permission;
	 * telling phones to fetch (and maybe reboot) the system one, as PJSIPNotify does. */
	return ast_manager_register2("PhoneprovToken", EVENT_FLAG_CONFIG, manager_token,
		AST_MODULE_SELF, "Make a single-use phoneprov enrollment URL", NULL)
		| ast_manager_register2("PhoneprovResync", EVENT_FLAG_SYSTEM, manager_resync,
		AST_MODULE_SELF, "Tell phones to fetch their phoneprov files again (SIP NOTIFY)", NULL);
}

void pp_manager_unregister(void)
{
	ast_manager_unregister("PhoneprovToken");
	ast_manager_unregister("PhoneprovResync");
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

/*
 * One read and one read2 callback and the registration structure per function.
 *
 * The documentation is given as static strings: with a synopsis or description already set,
 * Asterisk's registration neither looks the function up in its XML documentation (which
 * knows only the stock module's functions, and warns for the others) nor allocates the
 * string fields, and unregistration frees nothing that is not its own. Nothing to free here
 * either: the strings live in this object file.
 */
#define PP_FUNCTION(var, fname, id, since_text, synopsis_text, syntax_text, arguments_text, desc_text, seealso_text) \
	static int var##_read(struct ast_channel *chan, const char *cmd, char *data, char *buf, size_t len) \
	{ \
		return function_read(id, data, buf, len); \
	} \
	static int var##_read2(struct ast_channel *chan, const char *cmd, char *data, struct ast_str **buf, ssize_t len) \
	{ \
		return function_read2(id, data, buf, len); \
	} \
	static struct ast_custom_function var##_function = { \
		.name = fname, \
		.synopsis = synopsis_text, \
		.syntax = syntax_text, \
		.arguments = arguments_text, \
		.desc = desc_text, \
		.seealso = seealso_text, \
		.since = since_text, \
		.provided_by = AST_MODULE, \
		.read = var##_read, \
		.read2 = var##_read2, \
	};

#define PP_OURS "res_phoneprov (Rust) " PP_VERSION

PP_FUNCTION(each_user, "PP_EACH_USER", PP_FUNC_EACH_USER, "1.6.0",
	"Renders a template once for every provisioned phone.",
	"PP_EACH_USER(template[,exclude_mac])",
	"    template:    the text rendered for each phone; write %{NAME} where a variable of\n"
	"                 the phone (MAC, USERNAME, DISPLAY_NAME, SECRET, PP_PHONE_INDEX, ...)\n"
	"                 belongs: ${NAME} would be replaced once, before the function runs.\n"
	"    exclude_mac: a MAC address (any case) whose phone is left out, usually ${MAC}.",
	"Renders the template for every phone phoneprov knows, with the variables of the\n"
	"phone's first line, and returns the results one after another, in the order of the\n"
	"configuration. PP_PHONE_INDEX is the phone's position in that order, from 1.\n"
	"Meant for directory and busy-lamp templates of phoneprov profiles, for example\n"
	"${PP_EACH_USER(<entry><name>%{PP_XML(%{DISPLAY_NAME})}</name></entry>,${MAC})}.\n"
	"The template is an argument of a dialplan function: Asterisk removes its double\n"
	"quotes, so use single-quoted attributes, and a comma ends it unless escaped.",
	"PP_EACH_EXTENSION, PP_XML")

PP_FUNCTION(each_extension, "PP_EACH_EXTENSION", PP_FUNC_EACH_EXTENSION, "1.6.0",
	"Renders a template file once for every line of a phone.",
	"PP_EACH_EXTENSION(mac,template_file)",
	"    mac:           the MAC address of a provisioned phone (any case), usually ${MAC}.\n"
	"    template_file: a file below AST_DATA_DIR/phoneprov/.",
	"Reads the template file and renders it once for each line (extension) of the phone\n"
	"with that MAC, with the variables of that line, and returns the results one after\n"
	"another. Returns nothing, and logs a warning, when the phone or the file is missing.\n"
	"Meant for phoneprov templates whose phones carry several lines, for example\n"
	"${PP_EACH_EXTENSION(${MAC},polycom-line.cfg)}.",
	"PP_EACH_USER")

PP_FUNCTION(xml, "PP_XML", PP_FUNC_XML, PP_OURS,
	"Escapes text for XML.",
	"PP_XML(text)",
	"    text: any text; commas are part of it.",
	"Returns the text with & < > \" and ' replaced by XML entities, and the control\n"
	"characters XML 1.0 cannot carry removed, so that the result can go into XML text\n"
	"and into single- or double-quoted attribute values. phoneprov inserts values into\n"
	"templates as they are; wrap every value that goes into an XML file, for example\n"
	"<name>${PP_XML(${DISPLAY_NAME})}</name>, or %{PP_XML(%{DISPLAY_NAME})} inside a\n"
	"PP_EACH_USER template.",
	"PP_EACH_USER, PP_QRCODE")

PP_FUNCTION(qrcode, "PP_QRCODE", PP_FUNC_QRCODE, PP_OURS,
	"Draws text as a QR code in SVG.",
	"PP_QRCODE(text)",
	"    text: the text to encode (commas are part of it), usually a provisioning URL.",
	"Returns an SVG image of a QR code (error correction level M) that encodes the text,\n"
	"for softphones that scan their provisioning URL, for example\n"
	"${PP_QRCODE(${PP_BASE_URL}linphone/${MAC}.xml)}. Returns nothing, and logs a warning,\n"
	"when the text is too long for a QR code.",
	"PP_XML")

int pp_functions_register(void)
{
	int res = ast_custom_function_register(&each_user_function);

	res |= ast_custom_function_register(&each_extension_function);
	res |= ast_custom_function_register(&xml_function);
	res |= ast_custom_function_register(&qrcode_function);
	return res;
}

void pp_functions_unregister(void)
{
	ast_custom_function_unregister(&each_user_function);
	ast_custom_function_unregister(&each_extension_function);
	ast_custom_function_unregister(&xml_function);
	ast_custom_function_unregister(&qrcode_function);
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
static int prometheus_registered;

/* res_prometheus is optional: its functions are looked up when it is loaded (it exports
 * them globally) instead of being linked, so this module loads and works without it. */
int pp_prometheus_register(void)
{
	int (*reg)(struct prometheus_callback *);

	if (prometheus_registered) {
		return 0;
	}
	reg = (int (*)(struct prometheus_callback *)) dlsym(RTLD_DEFAULT, "prometheus_callback_register");
	if (!reg || reg(&prometheus_callback)) {
		return -1;
	}
	prometheus_registered = 1;
	return 0;
}

void pp_prometheus_unregister(void)
{
	void (*unreg)(struct prometheus_callback *);

	if (!prometheus_registered) {
		return;
	}
	unreg = (void (*)(struct prometheus_callback *)) dlsym(RTLD_DEFAULT, "prometheus_callback_unregister");
	if (unreg) {
		unreg(&prometheus_callback);
	}
	prometheus_registered = 0;
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
