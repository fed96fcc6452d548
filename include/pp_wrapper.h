/*
 * What bindgen reads: the Asterisk API this module calls directly, the system calls it makes
 * itself, and the glue.
 * Licensed under the GNU General Public License version 2 only.
 */
#define AST_MODULE "res_phoneprov"
#define AST_MODULE_SELF_SYM __internal_res_phoneprov_self

#include "asterisk.h"
#include "asterisk/module.h"
#include "asterisk/config.h"
#include "asterisk/http.h"
#include "asterisk/chanvars.h"
#include "asterisk/phoneprov.h"
#include "asterisk/astdb.h"
#include "asterisk/utils.h"
#include "asterisk/acl.h"
#include "asterisk/iostream.h"
#include "asterisk/tcptls.h"
#include "asterisk/manager.h"
#include "asterisk/paths.h"
#include "asterisk/ast_version.h"
#include "asterisk/pbx.h"
#include "asterisk/localtime.h"
#include "asterisk/netsock2.h"
#include "asterisk/security_events.h"

/* Pipes for the stand-ins (src/ffi/http/capture.rs), files sent on connections
 * (src/ffi/http/stream.rs), inotify (src/ffi/watch.rs), the scan for listening sockets
 * (src/ffi/http/mod.rs), an interface's address and threads (src/ffi/host.rs, thread.rs),
 * and waiting for TFTP's sockets (src/ffi/poll.rs). */
#include <fcntl.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/vfs.h>

#include "pp_glue.h"
