/*
 * What bindgen reads: the Asterisk API this module calls directly, and the glue.
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

#include "pp_glue.h"
