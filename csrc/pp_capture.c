/*
 * res_phoneprov (Rust) - answers ast_http_send cannot write as they must be:
 * - a 304: it writes "Content-Length: 0" into every answer, but a 304 carries either none or
 *   the length a 200 would have had (RFC 9110, 8.6);
 * - a body with NUL bytes kept in memory: it writes string bodies with "%s" (cut at the
 *   first NUL), and its descriptor path writes the head and the body separately, 256 bytes
 *   at a time.
 * The rest of what it writes depends on http.c's private settings (servername,
 * session_keep_alive) and on the request's private body and close flags, none of which a
 * module can read. So the answer is rendered by ast_http_send itself, without a body, into a
 * pipe standing in for the connection, and copied to the connection without its
 * Content-Length line: for a body, with the body's length and the body, in one write.
 * Whether ast_http_send closed the stand-in tells whether the connection must close.
 *
 * Stand-ins are kept in a small pool: making a pipe and closing both its ends cost more
 * system calls than the answer itself (8 per answer; 3 with a pooled stand-in).
 *
 * Licensed under the GNU General Public License version 2 only.
 */
#define AST_MODULE "res_phoneprov"
#define AST_MODULE_SELF_SYM __internal_res_phoneprov_self

#include "asterisk.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "asterisk/http.h"
#include "asterisk/iostream.h"
#include "asterisk/lock.h"
#include "asterisk/strings.h"
#include "asterisk/tcptls.h"

#include "pp_glue.h"

/* A pipe's write end as an iostream, and its read end. */
struct stand_in {
	struct ast_iostream *stream;
	int read_fd;
};

/* As many as answers are written at once, within reason: each holds two descriptors. */
#define POOL_SIZE 32

AST_MUTEX_DEFINE_STATIC(pool_lock);
static struct stand_in pool[POOL_SIZE];
static int pooled;

static void stand_in_close(struct stand_in *s)
{
	if (s->stream) {
		ast_iostream_close(s->stream);
	}
	close(s->read_fd);
}

/* A pooled stand-in, else a new one. Never blocking: with no time to wait, a write the pipe
 * cannot take whole is cut short (ast_iostream_write would otherwise wait for a reader, and
 * the reader is this thread); a cut head is refused below. */
static int stand_in_take(struct stand_in *s)
{
	int ends[2];

	ast_mutex_lock(&pool_lock);
	if (pooled) {
		*s = pool[--pooled];
		ast_mutex_unlock(&pool_lock);
		return 0;
	}
	ast_mutex_unlock(&pool_lock);
	if (pipe2(ends, O_CLOEXEC | O_NONBLOCK)) {
		return -1;
	}
	s->read_fd = ends[0];
	s->stream = ast_iostream_from_fd(&ends[1]);
	if (!s->stream) {
		close(ends[0]);
		close(ends[1]);
		return -1;
	}
	ast_iostream_set_timeout_inactivity(s->stream, 0);
	return 0;
}

/* Only an empty pipe goes back to the pool: the caller read all that was written. */
static void stand_in_give_back(struct stand_in *s)
{
	ast_mutex_lock(&pool_lock);
	if (pooled < POOL_SIZE) {
		pool[pooled++] = *s;
		s = NULL;
	}
	ast_mutex_unlock(&pool_lock);
	if (s) {
		stand_in_close(s);
	}
}

void pp_http_captures_clear(void)
{
	ast_mutex_lock(&pool_lock);
	while (pooled) {
		stand_in_close(&pool[--pooled]);
	}
	ast_mutex_unlock(&pool_lock);
}

/* Removes the header line starting with name (with its CRLF) from the header block. */
static size_t drop_header(char *text, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	char *end = memmem(text, len, "\r\n\r\n", 4);
	char *line = text;

	if (!end) {
		return len;
	}
	while (line < end) {
		char *next = memmem(line, end + 2 - line, "\r\n", 2);

		if (!next) {
			break;
		}
		next += 2;
		if (line != text && (size_t) (end - line) > name_len && !strncasecmp(line, name, name_len)) {
			memmove(line, next, text + len - next);
			return len - (next - line);
		}
		line = next;
	}
	return len;
}

static int ends_head(const char *head, size_t size)
{
	return size >= 4 && !memcmp(head + size - 4, "\r\n\r\n", 4);
}

void pp_http_send_captured(struct ast_tcptls_session_instance *ser, int method, int status,
	const char *title, const char *headers, const char *body, size_t body_len)
{
	struct ast_iostream *conn;
	struct ast_str *hdrs = NULL;
	struct stand_in capture;
	/* A head is a few hundred bytes; a larger one than this is refused, not cut. */
	char head[8192];
	char *text = NULL;
	size_t size = 0;
	ssize_t got;
	size_t len;
	int closing;

	if (!ser || !ser->stream) {
		return;
	}
	/* From the real connection: ast_http_send would otherwise read it from the stand-in. */
	ast_http_body_discard(ser);

	if (headers) {
		hdrs = pp_str_from(headers, strlen(headers));
		if (!hdrs) {
			/* Without its headers (type, validators) the answer would mislead a cache. */
			ast_http_error(ser, 500, "Server Error", "Out of memory");
			return;
		}
	}
	if (stand_in_take(&capture)) {
		/* Degraded: a 304 with its Content-Length: 0 is still valid framing; a body that
		 * cannot be framed is refused rather than cut. */
		if (status == 304) {
			ast_http_send(ser, method, status, title, hdrs, NULL, 0, 1);
		} else {
			ast_free(hdrs);
			ast_http_error(ser, 500, "Server Error", "Out of memory");
		}
		return;
	}

	conn = ser->stream;
	ser->stream = capture.stream;
	ast_http_send(ser, method, status, title, hdrs, NULL, 0, 1);
	closing = ser->stream == NULL;
	if (closing) {
		/* ast_http_send closed the stand-in's write end. */
		capture.stream = NULL;
	}
	ser->stream = conn;
	/* ast_http_send wrote the head in one write, which a pipe keeps whole: one read gets
	 * it. A pipe still open reads EAGAIN once empty, a closed one reads 0. */
	while (size < sizeof(head) && !ends_head(head, size)
		&& (got = read(capture.read_fd, head + size, sizeof(head) - size)) > 0) {
		size += got;
	}
	if (size < sizeof(head) && ends_head(head, size)) {
		text = ast_malloc(size + 48 + (body ? body_len : 0));
	}
	if (!text || closing) {
		stand_in_close(&capture);
	} else {
		stand_in_give_back(&capture);
	}

	if (!text) {
		/* Nothing was written to the connection yet: an answer that says so, after which
		 * Asterisk closes it (the head it rendered is lost). */
		ast_http_request_close_on_completion(ser);
		ast_http_error(ser, 500, "Server Error", "The answer could not be framed.");
		return;
	}
	memcpy(text, head, size);
	len = drop_header(text, size, "Content-Length:");
	if (body && len >= 2 && !memcmp(text + len - 2, "\r\n", 2)) {
		/* The head ends with its blank line: the length goes just before it. */
		len -= 2;
		len += sprintf(text + len, "Content-Length: %zu\r\n\r\n", body_len);
		if (method != AST_HTTP_HEAD) {
			memcpy(text + len, body, body_len);
			len += body_len;
		}
	}
	if (ast_iostream_write(conn, text, len) != (ssize_t) len) {
		closing = 1;
	}
	ast_free(text);
	if (closing) {
		ast_http_request_close_on_completion(ser);
		ast_tcptls_close_session_file(ser);
	}
}
