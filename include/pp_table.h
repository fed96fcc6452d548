/*
 * res_phoneprov in Rust: what the module registers with Asterisk, declared once.
 *
 * Each list below is an X-macro: the glue expands it into the registration structures and
 * their documentation (csrc/pp_glue.c), and into the enums at the end of this file, which
 * bindgen hands to Rust. src/ffi/host.rs mirrors each enum with compile-time assertions, so
 * an entry added here and not in Rust, or the other way round, fails the build; Rust's
 * exhaustive matches then ask for its code.
 *
 * Licensed under the GNU General Public License version 2 only.
 */
#ifndef PP_TABLE_H
#define PP_TABLE_H

/* CLI commands: X(id, command words, summary, usage, extra words at least, at most).
 * The glue checks the number of extra words and hands Rust only those. */
#define PP_CLI_COMMANDS(X) \
	X(PP_CLI_SHOW_ROUTES, "phoneprov show routes", "Show registered phoneprov http routes", \
		"Usage: phoneprov show routes\n" \
		"       Lists all registered phoneprov http routes.\n", \
		0, 0) \
	X(PP_CLI_SHOW_PHONE, "phoneprov show phone", "Show a provisioned phone", \
		"Usage: phoneprov show phone <mac>\n" \
		"       Shows a phone's lines, their variables (secrets masked), its last 10\n" \
		"       fetches and its routes.\n", \
		1, 1) \
	X(PP_CLI_RENDER, "phoneprov render", "Print what a phoneprov URI serves", \
		"Usage: phoneprov render <uri> [secrets]\n" \
		"       Prints what /phoneprov/<uri> serves (SERVER: serveraddr, else 127.0.0.1).\n" \
		"       Values of variables named *SECRET* or *PASS* are masked, unless 'secrets'.\n", \
		1, 2) \
	X(PP_CLI_CHECK, "phoneprov check", "Check every phoneprov route renders cleanly", \
		"Usage: phoneprov check [mac]\n" \
		"       Renders every dynamic route (or those of one phone) and reports missing\n" \
		"       templates, substitution errors and, for XML content types, where a body\n" \
		"       is not well-formed.\n", \
		0, 1) \
	X(PP_CLI_SHOW_PHONES, "phoneprov show phones", \
		"List provisioned phones and their last fetch", \
		"Usage: phoneprov show phones\n" \
		"       Lists every phone: MAC, profile, lines and its last fetch.\n", \
		0, 0) \
	X(PP_CLI_TOKEN, "phoneprov token", "Make a single-use enrollment URL for a phone", \
		"Usage: phoneprov token <mac> [ttl] [qr]\n" \
		"       Makes a single-use enrollment URL for the phone, valid ttl seconds\n" \
		"       (default 86400), serving its profile's enroll_file. With qr, also\n" \
		"       prints it as a QR code to scan (needs serveraddr or serveriface).\n", \
		1, 3) \
	X(PP_CLI_SHOW_TOKENS, "phoneprov show tokens", "List enrollment tokens", \
		"Usage: phoneprov show tokens\n" \
		"       Lists enrollment tokens: MAC, expiry, used or not (never the token).\n", \
		0, 0) \
	X(PP_CLI_SHOW_STATUS, "phoneprov show status", \
		"Show phoneprov figures and the last reload's timing", \
		"Usage: phoneprov show status\n" \
		"       Phones, routes, and the last load or reload: how long it took, and how\n" \
		"       much of it was Asterisk's config API (loading and walking the files).\n", \
		0, 0) \
	X(PP_CLI_RESYNC, "phoneprov resync", "Tell phones to fetch their phoneprov files again", \
		"Usage: phoneprov resync <mac>|profile <name>|all\n" \
		"       Sends a SIP NOTIFY (through res_pjsip_notify) to the registered contacts of\n" \
		"       the phones' PJSIP endpoints (their first line's USERNAME), with their\n" \
		"       profile's resync_event (default check-sync), so they fetch their files\n" \
		"       again. Phones without an endpoint or a registered contact are listed.\n", \
		1, 2)

/* Dialplan functions: X(name, since, synopsis, syntax, arguments, description, see also).
 * The name is also the id, so that Rust, which sees only the enum, knows the names too.
 * PP_OURS, the version of this module, is defined by the glue. */
#define PP_FUNCTIONS(X) \
	X(PP_EACH_USER, "1.6.0", \
		"Renders a template once for every provisioned phone.", \
		"PP_EACH_USER(template[,exclude_mac])", \
		"    template:    the text rendered for each phone; write %{NAME} where a variable of\n" \
		"                 the phone (MAC, USERNAME, DISPLAY_NAME, SECRET, PP_PHONE_INDEX, ...)\n" \
		"                 belongs: ${NAME} would be replaced once, before the function runs.\n" \
		"    exclude_mac: a MAC address (any case) whose phone is left out, usually ${MAC}.", \
		"Renders the template for every phone phoneprov knows, with the variables of the\n" \
		"phone's first line, and returns the results one after another, in the order of the\n" \
		"configuration. PP_PHONE_INDEX is the phone's position in that order, from 1.\n" \
		"Meant for directory and busy-lamp templates of phoneprov profiles, for example\n" \
		"${PP_EACH_USER(<entry><name>%{PP_XML(%{DISPLAY_NAME})}</name></entry>,${MAC})}.\n" \
		"The template is an argument of a dialplan function: Asterisk removes its double\n" \
		"quotes, so use single-quoted attributes, and a comma ends it unless escaped.", \
		"PP_EACH_EXTENSION, PP_XML") \
	X(PP_EACH_EXTENSION, "1.6.0", \
		"Renders a template file once for every line of a phone.", \
		"PP_EACH_EXTENSION(mac,template_file)", \
		"    mac:           the MAC address of a provisioned phone (any case), usually ${MAC}.\n" \
		"    template_file: a file below AST_DATA_DIR/phoneprov/.", \
		"Reads the template file and renders it once for each line (extension) of the phone\n" \
		"with that MAC, with the variables of that line, and returns the results one after\n" \
		"another. Returns nothing, and logs a warning, when the phone or the file is missing.\n" \
		"Meant for phoneprov templates whose phones carry several lines, for example\n" \
		"${PP_EACH_EXTENSION(${MAC},polycom-line.cfg)}.", \
		"PP_EACH_USER") \
	X(PP_XML, PP_OURS, \
		"Escapes text for XML.", \
		"PP_XML(text)", \
		"    text: any text; commas are part of it.", \
		"Returns the text with & < > \" and ' replaced by XML entities, and the control\n" \
		"characters XML 1.0 cannot carry removed, so that the result can go into XML text\n" \
		"and into single- or double-quoted attribute values. phoneprov inserts values into\n" \
		"templates as they are; wrap every value that goes into an XML file, for example\n" \
		"<name>${PP_XML(${DISPLAY_NAME})}</name>, or %{PP_XML(%{DISPLAY_NAME})} inside a\n" \
		"PP_EACH_USER template.", \
		"PP_EACH_USER, PP_QRCODE") \
	X(PP_QRCODE, PP_OURS, \
		"Draws text as a QR code in SVG.", \
		"PP_QRCODE(text)", \
		"    text: the text to encode (commas are part of it), usually a provisioning URL.", \
		"Returns an SVG image of a QR code (error correction level M) that encodes the text,\n" \
		"for softphones that scan their provisioning URL, for example\n" \
		"${PP_QRCODE(${PP_BASE_URL}linphone/${MAC}.xml)}. Returns nothing, and logs a warning,\n" \
		"when the text is too long for a QR code.", \
		"PP_XML")

/* Manager actions: X(id, name, permission, synopsis). Making a URL that serves a phone's
 * secrets needs the config write permission; telling phones to fetch (and maybe reboot)
 * the system one, as PJSIPNotify does. */
#define PP_MANAGER_ACTIONS(X) \
	X(PP_AMI_TOKEN, "PhoneprovToken", EVENT_FLAG_CONFIG, \
		"Make a single-use phoneprov enrollment URL") \
	X(PP_AMI_RESYNC, "PhoneprovResync", EVENT_FLAG_SYSTEM, \
		"Tell phones to fetch their phoneprov files again (SIP NOTIFY)")

/* The ids: each list's entries numbered from 0 in their order, then how many there are. */
#define PP_TABLE_ID(id, ...) id,

enum pp_cli_command {
	PP_CLI_COMMANDS(PP_TABLE_ID)
	PP_CLI_COUNT
};

enum pp_function {
	PP_FUNCTIONS(PP_TABLE_ID)
	PP_FUNCTION_COUNT
};

enum pp_manager_action {
	PP_MANAGER_ACTIONS(PP_TABLE_ID)
	PP_MANAGER_ACTION_COUNT
};

#endif /* PP_TABLE_H */
