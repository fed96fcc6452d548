//! Differential tests: each configuration runs through the stock C res_phoneprov and through
//! ours, in the same sandbox; every route must answer the same status, Content-Type and
//! bytes. Only the differences docs/differences.md lists are kept out, by leaving them out of these
//! configurations (they have tests of their own in tests/differences.rs).

mod common;
mod differential;

use differential::{compare, Case};

/// Every standard variable, so a body shows what a line holds.
const ALL_VARS: &[u8] = b"MAC=${MAC} PROFILE=${PROFILE} USERNAME=${USERNAME} \
DISPLAY_NAME=${DISPLAY_NAME} SECRET=${SECRET} LABEL=${LABEL} CALLERID=${CALLERID} \
TIMEZONE=${TIMEZONE} LINE=${LINE} LINEKEYS=${LINEKEYS} SERVER=${SERVER} \
SERVER_PORT=${SERVER_PORT} VOICEMAIL_EXTEN=${VOICEMAIL_EXTEN} \
EXTENSION_LENGTH=${EXTENSION_LENGTH} TZOFFSET=${TZOFFSET} DST_ENABLE=${DST_ENABLE} \
DST=${DST_START_MONTH}/${DST_START_MDAY}/${DST_START_HOUR}-${DST_END_MONTH}/${DST_END_MDAY}/${DST_END_HOUR}\n";

const USERS: &[u8] = b"\
[general]
vmexten = *97
localextenlength = 4

[6001]
username = 6001
autoprov = yes
macaddress = 0004f2000001
fullname = Alice Example
secret = alice-secret
label = Alice
cid_number = 6001
timezone = America/New_York

[6002]
username = 6002
autoprov = yes
macaddress = 0004F2000002
fullname = Bob Example
secret = bob-secret
linekeys = 2
";

const SIMPLE: &[u8] = b"\
[general]
default_profile = pol

[pol]
${MAC}.cfg => all.cfg
";

/// A firmware image too large to keep in memory (streamed from the file), every byte value
/// in it.
static FIRMWARE: [u8; 300_000] = {
    let mut a = [0u8; 300_000];
    let mut i = 0;
    while i < a.len() {
        a[i] = (i * 7 % 251) as u8;
        i += 1;
    }
    a
};

static FIRMWARE_FILES: [(&str, &[u8]); 2] = [("fw/image.bin", &FIRMWARE), ("small.cfg", b"s")];

fn run(case: Case) {
    let n = compare(&case);
    assert!(n >= 2, "only {n} URIs compared");
}

macro_rules! parity {
    ($($name:ident => $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                run($case);
            }
        )*
    };
}

parity! {
    static_files_and_mime_rules => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\nstaticdir => configs/\n\
            static_file => early.bin\nmime_type => text/xml\n\
            static_file => sip.ld,application/octet-stream\nstatic_file => sip.cfg\n\
            static_file => spaced.cfg, text/spaced\n",
        files: &[("configs/early.bin", b"e"), ("configs/sip.ld", b"\x01\x02bin"),
            ("configs/sip.cfg", b"<sip/>\n"), ("configs/spaced.cfg", b"s")],
        ..Case::default()
    };
    staticdir_without_slash_and_subdirectories => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\nstaticdir => fw\n\
            static_file => boot.ld\n[other]\nstatic_file => a/b/c.txt\n",
        files: &[("fwboot.ld", b"boot"), ("a/b/c.txt", b"deep")],
        ..Case::default()
    };
    uris_longer_than_the_cli_column => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n\
            static_file => firmware/vendor-model-revision-0123456789/bootrom.ld,text/plain\n\
            provisioning/${MAC}/configuration-for-${USERNAME}.cfg => all.cfg\n",
        users: Some(USERS),
        files: &[("firmware/vendor-model-revision-0123456789/bootrom.ld", b"boot\n"),
            ("all.cfg", ALL_VARS)],
        must_serve: &[b"firmware/vendor-model-revision-0123456789/bootrom.ld",
            b"provisioning/0004f2000001/configuration-for-6001.cfg"],
        ..Case::default()
    };
    large_static_file => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n\
            static_file => fw/image.bin,application/octet-stream\nstatic_file => small.cfg\n",
        files: &FIRMWARE_FILES,
        must_serve: &[b"fw/image.bin", b"small.cfg"],
        ..Case::default()
    };
    missing_static_file => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\nstatic_file => gone.bin\n",
        ..Case::default()
    };
    dynamic_file_with_every_variable => Case {
        phoneprov: SIMPLE,
        users: Some(USERS),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    function_in_uri_template => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n\
            ${TOLOWER(${MAC})}.cfg => all.cfg\n${TOUPPER(${MAC})}-${USERNAME}.xml => all.cfg\n",
        users: Some(USERS),
        preload: &["func_strings"],
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    subdirectories_in_uri_templates => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n\
            phones/${MAC}/config.xml => sub/phone.xml,application/xml\n",
        users: Some(USERS),
        files: &[("sub/phone.xml", b"<p u=\"${USERNAME}\"/>\n")],
        ..Case::default()
    };
    two_lines_on_one_mac => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => phone.cfg\n",
        users: Some(b"[6001]\nusername = 6001\nautoprov = yes\nmacaddress = 000000000001\n\
            fullname = Line One\nsecret = one\n\n[6002]\nusername = 6002\nautoprov = yes\n\
            macaddress = 000000000001\nlinenumber = 2\nfullname = Line Two\nsecret = two\n"),
        files: &[("phone.cfg", b"first=${USERNAME}\n${PP_EACH_EXTENSION(${MAC},line.cfg)}end\n"),
            ("line.cfg", b"[${LINE}:${USERNAME}:${SECRET}:${SERVER}]")],
        after_reload: true,
        ..Case::default()
    };
    lines_added_out_of_order => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => phone.cfg\n",
        users: Some(b"[6002]\nusername = 6002\nautoprov = yes\nmacaddress = 000000000001\n\
            linenumber = 2\n\n[6001]\nusername = 6001\nautoprov = yes\n\
            macaddress = 000000000001\nlinenumber = 1\n"),
        files: &[("phone.cfg", b"${USERNAME}|${PP_EACH_EXTENSION(${MAC},line.cfg)}\n"),
            ("line.cfg", b"${LINE}=${USERNAME};")],
        ..Case::default()
    };
    duplicate_line_number_is_rejected => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => phone.cfg\n",
        users: Some(b"[6001]\nusername = 6001\nautoprov = yes\nmacaddress = 000000000001\n\n\
            [6002]\nusername = 6002\nautoprov = yes\nmacaddress = 000000000001\n\
            linenumber = 1\n"),
        files: &[("phone.cfg", b"${PP_EACH_EXTENSION(${MAC},line.cfg)}\n"),
            ("line.cfg", b"${LINE}=${USERNAME};")],
        ..Case::default()
    };
    setvar_with_user_variables => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => vars.cfg\n\
            setvar => GREETING=Hello ${DISPLAY_NAME} (${USERNAME})\n\
            setvar => LABEL=label-${USERNAME}\nsetvar =>  SPACED  =  padded value  \n\
            setvar => CHAINED=${GREETING}!\nsetvar => EMPTY=\nsetvar => =novalue\n\
            setvar => noequals\n",
        users: Some(USERS),
        files: &[("vars.cfg", b"G=${GREETING} L=${LABEL} S=[${SPACED}] C=${CHAINED} E=${EMPTY}\n")],
        ..Case::default()
    };
    setvar_with_a_function => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => vars.cfg\n\
            setvar => SHOUT=${TOUPPER(${DISPLAY_NAME})}\n",
        users: Some(USERS),
        preload: &["func_strings"],
        files: &[("vars.cfg", b"${SHOUT}\n")],
        ..Case::default()
    };
    pp_each_user_directory => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}-dir.xml => dir.xml\n",
        users: Some(USERS),
        files: &[("dir.xml", b"<list>${PP_EACH_USER(<item><fn>%{DISPLAY_NAME}</fn>\
            <ct>%{CALLERID}</ct></item>,${MAC})}</list>\n\
            <all>${PP_EACH_USER(<i>%{USERNAME}</i>,)}</all>\n\
            <up>${PP_EACH_USER(<i>%{TOUPPER(%{DISPLAY_NAME})}</i>,${MAC})}</up>\n")],
        modules: &["func_strings"],
        unordered: Some(("<i>", "</i>")),
        ..Case::default()
    };
    pp_each_user_strips_quotes => Case {
        phoneprov: b"[general]\ndefault_profile = snom\n\n[snom]\n${MAC}.xml => keys.xml\n",
        users: Some(USERS),
        files: &[("keys.xml", b"<keys>${PP_EACH_USER(<fkey context=\"active\" \
            label=\"%{DISPLAY_NAME}\">blf %{USERNAME}</fkey>|,)}</keys>\n")],
        unordered: Some(("<fkey", "|")),
        ..Case::default()
    };
    time_zones => Case {
        phoneprov: SIMPLE,
        users: Some(b"[a]\nusername = a\nautoprov = yes\nmacaddress = 1\ntimezone = America/New_York\n\
            [b]\nusername = b\nautoprov = yes\nmacaddress = 2\ntimezone = Europe/London\n\
            [c]\nusername = c\nautoprov = yes\nmacaddress = 3\ntimezone = Australia/Sydney\n\
            [d]\nusername = d\nautoprov = yes\nmacaddress = 4\ntimezone = Asia/Kolkata\n\
            [e]\nusername = e\nautoprov = yes\nmacaddress = 5\n\
            [f]\nusername = f\nautoprov = yes\nmacaddress = 6\ntimezone = UTC\n"),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    serveraddr_and_serverport => Case {
        phoneprov: b"[general]\nserveraddr = pbx.example.com\nserverport = 5080\n\
            default_profile = pol\n\n[pol]\n${MAC}.cfg => all.cfg\n",
        users: Some(USERS),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    serveriface => Case {
        phoneprov: b"[general]\nserveriface = lo\ndefault_profile = pol\n\n\
            [pol]\n${MAC}.cfg => all.cfg\n",
        users: Some(USERS),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    server_from_the_connection => Case {
        phoneprov: SIMPLE,
        users: Some(USERS),
        files: &[("all.cfg", b"${SERVER}:${SERVER_PORT}\n")],
        ..Case::default()
    };
    voicemail_and_extension_length => Case {
        phoneprov: SIMPLE,
        users: Some(b"[general]\nvmexten = 8500\nlocalextenlength = 3\n\n\
            [a]\nusername = a\nautoprov = yes\nmacaddress = 1\n\
            [b]\nusername = b\nautoprov = yes\nmacaddress = 2\nvmexten = *98\n\
            localextenlength = 5\n"),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    which_users_are_provisioned => Case {
        phoneprov: SIMPLE,
        users: Some(b"[general]\nautoprov = yes\nmacaddress = 9\nusername = g\n\
            [authentication]\nautoprov = yes\nmacaddress = 8\nusername = au\n\
            [on]\nusername = on\nautoprov = yes\nmacaddress = 1\n\
            [off]\nusername = off\nautoprov = no\nmacaddress = 2\n\
            [unset]\nusername = unset\nmacaddress = 3\n\
            [nomac]\nusername = nomac\nautoprov = yes\n\
            [truthy]\nusername = truthy\nautoprov = On\nmacaddress = 4\n"),
        files: &[("all.cfg", ALL_VARS)],
        extra_uris: &[b"2.cfg", b"3.cfg", b"8.cfg", b"9.cfg"],
        ..Case::default()
    };
    several_profiles => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => pol.cfg\n\
            static_file => pol.bin\n[snom]\nmime_type => application/xml\n\
            snom-${MAC}.xml => snom.xml\nsetvar => VENDOR=snom\n",
        users: Some(b"[a]\nusername = a\nautoprov = yes\nmacaddress = 1\n\
            [b]\nusername = b\nautoprov = yes\nmacaddress = 2\nprofile = snom\n"),
        files: &[("pol.cfg", b"polycom ${USERNAME} ${PROFILE}\n"),
            ("snom.xml", b"<s v=\"${VENDOR}\">${USERNAME} ${PROFILE}</s>\n"), ("pol.bin", b"b")],
        extra_uris: &[b"snom-1.xml", b"2.cfg"],
        ..Case::default()
    };
    unknown_profile_is_skipped => Case {
        phoneprov: SIMPLE,
        users: Some(b"[a]\nusername = a\nautoprov = yes\nmacaddress = 1\nprofile = nope\n\
            [b]\nusername = b\nautoprov = yes\nmacaddress = 2\n"),
        files: &[("all.cfg", ALL_VARS)],
        extra_uris: &[b"1.cfg"],
        ..Case::default()
    };
    dialplan_functions_in_templates => Case {
        phoneprov: SIMPLE,
        users: Some(USERS),
        modules: &["func_strings", "func_logic", "func_math"],
        files: &[("all.cfg", b"len=${LEN(${SECRET})} up=${TOUPPER(${USERNAME})} \
            if=${IF($[${LEN(${DISPLAY_NAME})} > 12]?long:short)} sum=$[${LINE} + 10] \
            cut=${CUT(DISPLAY_NAME, ,1)} sub=${SECRET:0:3} missing=[${NOT_SET}] \
            rep=${REPLACE(SECRET,-,_)}\n")],
        ..Case::default()
    };
    dynamic_mime_types => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}-a.cfg => t.cfg\n\
            ${MAC}-b.cfg => t.cfg,application/x-b\nmime_type => text/xml\n${MAC}-c.cfg => t.cfg\n",
        users: Some(USERS),
        files: &[("t.cfg", b"${USERNAME}\n")],
        ..Case::default()
    };
    missing_template => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => absent.cfg\n",
        users: Some(USERS),
        ..Case::default()
    };
    users_file_templates => Case {
        phoneprov: SIMPLE,
        users: Some(b"[phones](!)\nautoprov = yes\nsecret = shared\nlinekeys = 3\n\n\
            [6001](phones)\nusername = 6001\nmacaddress = 1\nfullname = From Template\n\
            [6002](phones)\nusername = 6002\nmacaddress = 2\nlabel = own\n"),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    phoneprov_users_conf => Case {
        phoneprov: SIMPLE,
        users: Some(USERS),
        users_new_name: true,
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
    pjsip_provider => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => pj.cfg\n\
            setvar => FROM_PROFILE=${USERNAME}@${ENDPOINT_ID}\n",
        pjsip: Some(PJSIP),
        files: &[("pj.cfg", b"U=${USERNAME} S=${SECRET} D=${DISPLAY_NAME} C=${CALLERID} \
            L=${LABEL} P=${SERVER_PORT} E=${ENDPOINT_ID} A=${AUTH_ID} T=${TRANSPORT_ID} \
            X=${OTHER} F=${FROM_PROFILE} ctx=${PJSIP_ENDPOINT(${ENDPOINT_ID},context)}\n\
            ${PP_EACH_EXTENSION(${MAC},line.cfg)}\n"),
            ("line.cfg", b"<${LINE}:${USERNAME}>")],
        after_reload: true,
        ..Case::default()
    };
    pjsip_and_users_together => Case {
        phoneprov: b"[general]\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => all.cfg\n",
        users: Some(b"[u1]\nusername = u1\nautoprov = yes\nmacaddress = deadbeef4dad\n\
            [u2]\nusername = u2\nautoprov = yes\nmacaddress = 000000000042\n"),
        pjsip: Some(PJSIP),
        files: &[("all.cfg", ALL_VARS)],
        ..Case::default()
    };
}

const PJSIP: &[u8] = b"\
[udp]
type = transport
protocol = udp
bind = @SIP_ADDR@:5060

[auth1000]
type = auth
auth_type = userpass
username = 1000
password = s3cret

[ep1000]
type = endpoint
context = phones
auth = auth1000
callerid = \"Pat Phone\" <1000>
transport = udp

[1000]
type = phoneprov
endpoint = ep1000
MAC = deadbeef4dad
PROFILE = pol
OTHER = other value

[1001]
type = phoneprov
MAC = deadbeef4dad
PROFILE = pol
LINE = 2
SECRET = second

[1002]
type = phoneprov
MAC = 00000000beef
PROFILE = pol
USERNAME = plain
LABEL = Plain Phone
";

/// The configuration and templates Asterisk itself ships, with a few users.
#[test]
fn asterisk_sample_configuration() {
    let root = common::sandbox_root();
    let read = |p: &str| std::fs::read(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let leak = |b: Vec<u8>| -> &'static [u8] { Box::leak(b.into_boxed_slice()) };
    let templates = [
        "000000000000.cfg",
        "000000000000-directory.xml",
        "000000000000-phone.cfg",
        "polycom.xml",
        "polycom_line.xml",
        "snom-mac.xml",
    ];
    let files: Vec<(&'static str, &'static [u8])> = templates
        .iter()
        .map(|t| (*t, leak(read(&format!("usr/share/asterisk/phoneprov/{t}")))))
        .collect();
    run(Case {
        phoneprov: leak(read("etc/asterisk/phoneprov.conf")),
        users: Some(
            b"[general]\nvmexten = *97\n\n\
             [6001]\nusername = 6001\nautoprov = yes\nmacaddress = 0004f2000001\n\
             fullname = Jane Doe\nsecret = s1\nlabel = Jane\ncid_number = 6001\n\
             [6002]\nusername = 6002\nautoprov = yes\nmacaddress = 0004f2000001\n\
             linenumber = 2\nfullname = Jane Second\nsecret = s2\n\
             [6003]\nusername = 6003\nautoprov = yes\nmacaddress = 000413000003\n\
             profile = snom\nfullname = Snom User\nsecret = s3\n",
        ),
        preload: &["func_strings"],
        files: Box::leak(files.into_boxed_slice()),
        unordered: Some(("<item>", "</item>")),
        ..Case::default()
    });
}
