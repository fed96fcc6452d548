/*
 * The least an Asterisk module can do to answer a provisioning request: one URI, one body
 * read from a file at load, sent with ast_http_send. `make bench` loads it beside ours to
 * show how close our dynamic route comes to Asterisk's HTTP server's own ceiling.
 *
 * Licensed under the GNU General Public License version 2 only.
 */
#define AST_MODULE "res_ppmin"
#define AST_MODULE_SELF_SYM __internal_res_ppmin_self

#include "asterisk.h"

#include <stdio.h>

#include "asterisk/module.h"
#include "asterisk/http.h"
#include "asterisk/paths.h"
#include "asterisk/strings.h"

static char body[1 << 16];
static size_t body_len;

static int answer(struct ast_tcptls_session_instance *ser, const struct ast_http_uri *urih,
	const char *uri, enum ast_http_method method, struct ast_variable *get_vars,
	struct ast_variable *headers)
{
	struct ast_str *hdr = ast_str_create(32);
	struct ast_str *out = ast_str_create(body_len + 1);

	ast_str_set(&hdr, 0, "Content-type: application/xml\r\n");
	ast_str_set(&out, 0, "%s", body);
	/* ast_http_send frees both strings. */
	ast_http_send(ser, method, 200, NULL, hdr, out, 0, 0);
	return 0;
}

static struct ast_http_uri ppmin_uri = {
	.callback = answer,
	.description = "Bench: minimal provisioning answer",
	.uri = "ppmin",
	.key = __FILE__,
};

static int load_module(void)
{
	char path[PATH_MAX];
	FILE *f;

	/* The bench writes the body our module returns for its phone here before loading. */
	snprintf(path, sizeof(path), "%s/ppmin.body", ast_config_AST_DATA_DIR);
	if (!(f = fopen(path, "r"))) {
		return AST_MODULE_LOAD_DECLINE;
	}
	body_len = fread(body, 1, sizeof(body) - 1, f);
	fclose(f);
	/* A body that fills the buffer may have been cut short. */
	if (body_len == sizeof(body) - 1 || ast_http_uri_link(&ppmin_uri)) {
		return AST_MODULE_LOAD_DECLINE;
	}
	return AST_MODULE_LOAD_SUCCESS;
}

static int unload_module(void)
{
	ast_http_uri_unlink(&ppmin_uri);
	return 0;
}

AST_MODULE_INFO(ASTERISK_GPL_KEY, AST_MODFLAG_DEFAULT, "Bench: minimal provisioning answer",
	.support_level = AST_MODULE_SUPPORT_EXTENDED,
	.load = load_module,
	.unload = unload_module,
	.requires = "http",
);
