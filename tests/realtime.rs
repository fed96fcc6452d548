//! Static realtime: phoneprov.conf and phoneprov_users.conf as rows of a real PostgreSQL
//! server (started by the test), mapped in extconfig.conf and read through the stock
//! res_config_pgsql, with the samples of asterisk-conf/realtime/.

mod common;

use common::postgres::{quote, Postgres};
use common::realtime::{database, same_port_or_reconfigure, sample, section_sql};
use common::{reload_split, Asterisk, Builder, Impl};

const PHONEPROV_CONF: [(&str, &[(&str, &str)]); 2] = [
    (
        "general",
        &[("serveraddr", "192.0.2.1"), ("default_profile", "pol")],
    ),
    (
        "pol",
        &[
            ("${MAC}.cfg", "t.cfg"),
            ("${MAC}-dir.xml", "dir.xml"),
            ("setvar", "GREETING=from the database"),
        ],
    ),
];

const TEMPLATE: &str =
    "${MAC} ${USERNAME}:${SECRET} [${DISPLAY_NAME}] line ${LINE} ${GREETING} @${SERVER}\n";
const DIRECTORY: &str = "${PP_EACH_USER(%{USERNAME}=%{MAC};)}\n";

fn phoneprov_conf_sql() -> String {
    PHONEPROV_CONF
        .iter()
        .enumerate()
        .map(|(i, (name, lines))| section_sql("phoneprov.conf", 10 - i as i32, name, lines))
        .collect()
}

fn user_sql(cat_metric: i32, section: &str, mac: &str, secret: &str, fullname: &str) -> String {
    section_sql(
        "phoneprov_users.conf",
        cat_metric,
        section,
        &[
            ("autoprov", "yes"),
            ("macaddress", mac),
            ("secret", secret),
            ("fullname", fullname),
        ],
    )
}

fn start(pg: &Postgres) -> Asterisk {
    Builder::new(Impl::Rust)
        .realtime(pg)
        .file("t.cfg", TEMPLATE)
        .file("dir.xml", DIRECTORY)
        .start()
}

fn reload(ast: &Asterisk) {
    let out = ast.cli("module reload res_phoneprov.so");
    assert!(out.contains("reloaded successfully"), "{out}");
}

#[test]
fn phones_in_postgresql_are_served_and_follow_the_table_at_reload() {
    let pg = database();
    pg.sql(&phoneprov_conf_sql());
    pg.sql(&user_sql(3, "6001", "0004f2000001", "s&1", "Zoë <Admin>"));
    pg.sql(&user_sql(2, "6002", "0004f2000002", "s2", "Bob"));
    let ast = start(&pg);

    let r = ast.get("/phoneprov/0004f2000001.cfg");
    assert_eq!(r.status, 200, "{}", ast.log_tail());
    assert_eq!(
        r.text(),
        "0004f2000001 6001:s&1 [Zoë <Admin>] line 1 from the database @192.0.2.1\n"
    );
    // Sections come out by cat_metric, highest first: the order PP_EACH_USER lists them in.
    assert_eq!(
        ast.get("/phoneprov/0004f2000002-dir.xml").text(),
        "6001=0004f2000001;6002=0004f2000002;\n"
    );

    // A phone inserted later is served after a reload, not before.
    pg.sql(&user_sql(1, "6003", "0004f2000003", "s3", "Carol"));
    assert_eq!(ast.get("/phoneprov/0004f2000003.cfg").status, 404);
    reload(&ast);
    assert_eq!(
        ast.get("/phoneprov/0004f2000003.cfg").text(),
        "0004f2000003 6003:s3 [Carol] line 1 from the database @192.0.2.1\n"
    );

    // A phone deleted is served until the reload, and gone after it.
    pg.sql("DELETE FROM ast_config WHERE filename = 'phoneprov_users.conf' AND category = '6002';");
    assert_eq!(ast.get("/phoneprov/0004f2000002.cfg").status, 200);
    reload(&ast);
    assert_eq!(ast.get("/phoneprov/0004f2000002.cfg").status, 404);
    assert_eq!(
        ast.get("/phoneprov/0004f2000001-dir.xml").text(),
        "6001=0004f2000001;6003=0004f2000003;\n"
    );

    // phoneprov.conf itself comes from the table too.
    pg.sql(
        "UPDATE ast_config SET var_val = 'GREETING=changed in the table' \
         WHERE filename = 'phoneprov.conf' AND var_name = 'setvar';",
    );
    reload(&ast);
    assert!(ast
        .get("/phoneprov/0004f2000001.cfg")
        .text()
        .contains(" changed in the table @"));
}

/// A line of phoneprov_lines: section, MAC, linenumber, secret; username left NULL.
fn line_sql(section: &str, mac: &str, line: u32, secret: &str) -> String {
    format!(
        "INSERT INTO phoneprov_lines (section, macaddress, linenumber, secret) \
         VALUES ({}, {}, {line}, {});\n",
        quote(section),
        quote(mac),
        quote(secret)
    )
}

/// The sample extconfig.conf without its phoneprov.conf line: that file stays a file.
fn extconfig_users_only() -> String {
    let full = sample("extconfig.conf");
    let line = "phoneprov.conf => pgsql,asterisk,ast_config\n";
    assert!(full.contains(line), "{full}");
    full.replace(line, "")
}

/// Every line of the phone, through PP_EACH_EXTENSION and the per-line template [`LINE`].
const LINES_TEMPLATE: &str = "${PP_EACH_EXTENSION(${MAC},line.txt)}\n";
const LINE: &str = "${LINE}=${USERNAME}:${SECRET} vm ${VOICEMAIL_EXTEN};";

const FILE_CONF: &str =
    "[general]\nserveraddr = 192.0.2.1\ndefault_profile = pol\n\n[pol]\n${MAC}.cfg => t.cfg\n";

#[test]
fn lines_table_through_the_view_and_a_reload_during_a_database_outage() {
    let mut pg = database();
    pg.sql(&section_sql(
        "phoneprov_users.conf",
        1,
        "general",
        &[("vmexten", "*97")],
    ));
    pg.sql(&line_sql("6001", "0004f2000001", 1, "first"));
    pg.sql(&line_sql("6002", "0004f2000001", 2, "second"));
    pg.sql(&line_sql("6010", "0004f2000010", 1, "other"));
    // The view leaves NULL columns out, as a file leaves out keys it does not set.
    assert_eq!(
        pg.rows(
            "SELECT var_name, var_val FROM phoneprov_users_conf \
             WHERE category = '6002' ORDER BY var_metric"
        ),
        [
            ["autoprov", "yes"],
            ["macaddress", "0004f2000001"],
            ["secret", "second"],
            ["linenumber", "2"]
        ]
    );
    let ast = Builder::new(Impl::Rust)
        .realtime(&pg)
        .conf("extconfig.conf", extconfig_users_only())
        .conf("phoneprov.conf", FILE_CONF)
        .file("t.cfg", LINES_TEMPLATE)
        .file("line.txt", LINE)
        .start();
    let two_lines = "1=6001:first vm *97;2=6002:second vm *97;\n";
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").text(), two_lines);
    assert_eq!(
        ast.get("/phoneprov/0004f2000010.cfg").text(),
        "1=6010:other vm *97;\n"
    );

    // The database goes away; a reload then keeps every phone it had, and says why.
    let port = pg.port;
    pg.stop();
    ast.cli("module reload res_phoneprov.so");
    assert!(
        ast.log_has("phoneprov_users.conf is mapped to realtime in extconfig.conf"),
        "{}",
        ast.log_tail()
    );
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").text(), two_lines);
    assert_eq!(ast.get("/phoneprov/0004f2000010.cfg").status, 200);

    // Back again: res_config_pgsql reconnects by itself, the next reload reads the table.
    pg.start_again();
    same_port_or_reconfigure(&ast, &pg, port);
    pg.sql("DELETE FROM phoneprov_lines WHERE section = '6010';");
    pg.sql(&line_sql("6020", "0004f2000020", 1, "new"));
    reload(&ast);
    assert_eq!(
        ast.get("/phoneprov/0004f2000020.cfg").text(),
        "1=6020:new vm *97;\n"
    );
    assert_eq!(ast.get("/phoneprov/0004f2000010.cfg").status, 404);
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").text(), two_lines);

    // phoneprov.conf moves into the database without a restart: the sample's mapping,
    // `module reload extconfig`, then a reload of the module.
    pg.sql(
        &[
            section_sql(
                "phoneprov.conf",
                2,
                "general",
                &[("serveraddr", "192.0.2.1"), ("default_profile", "pol")],
            ),
            section_sql(
                "phoneprov.conf",
                1,
                "pol",
                &[("${MAC}.cfg", "t.cfg"), ("${MAC}.txt", "t.cfg")],
            ),
        ]
        .concat(),
    );
    ast.write_conf("extconfig.conf", sample("extconfig.conf"));
    ast.cli("module reload extconfig");
    reload(&ast);
    assert_eq!(ast.get("/phoneprov/0004f2000001.txt").text(), two_lines);

    // A reload without the database keeps the whole previous configuration.
    let port = pg.port;
    pg.stop();
    ast.cli("module reload res_phoneprov.so");
    assert!(
        ast.log_has("phoneprov.conf is mapped to realtime in extconfig.conf"),
        "{}",
        ast.log_tail()
    );
    assert_eq!(ast.get("/phoneprov/0004f2000001.txt").text(), two_lines);
    assert_eq!(ast.get("/phoneprov/0004f2000020.cfg").status, 200);
    pg.start_again();
    same_port_or_reconfigure(&ast, &pg, port);
}

/// What a reload costs with static realtime: the whole table read through one query per
/// file, then the module's own work. Prints the split `phoneprov show status` measures.
#[test]
fn ten_thousand_phones_reload_from_the_database() {
    const PHONES: u32 = 10_000;
    let pg = database();
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, secret) \
         SELECT 'u' || n, lpad(to_hex(n), 12, '0'), 's' || n FROM generate_series(1, {PHONES}) n;"
    ));
    let ast = Builder::new(Impl::Rust)
        .realtime(&pg)
        .conf("extconfig.conf", extconfig_users_only())
        .conf("phoneprov.conf", FILE_CONF)
        .file("t.cfg", LINES_TEMPLATE)
        .file("line.txt", LINE)
        .start();
    assert_eq!(
        ast.get("/phoneprov/000000002710.cfg").text(),
        "1=u10000:s10000 vm ;\n"
    );
    let mut splits = Vec::new();
    for _ in 0..3 {
        reload(&ast);
        let status = ast.cli("phoneprov show status");
        assert!(status.contains(&format!("Phones:  {PHONES}\n")), "{status}");
        splits.push(reload_split(&status).expect("a reload line"));
    }
    assert_eq!(
        ast.get("/phoneprov/000000000001.cfg").text(),
        "1=u1:s1 vm ;\n"
    );
    drop(ast);

    // The same phones from a file, for comparison.
    let mut users = String::new();
    for n in 1..=PHONES {
        users += &format!("[u{n}]\nautoprov = yes\nmacaddress = {n:012x}\nsecret = s{n}\n\n");
    }
    let ast = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", FILE_CONF)
        .conf("phoneprov_users.conf", users)
        .file("t.cfg", LINES_TEMPLATE)
        .file("line.txt", LINE)
        .start();
    let mut file_splits = Vec::new();
    for _ in 0..3 {
        reload(&ast);
        file_splits.push(reload_split(&ast.cli("phoneprov show status")).expect("a reload line"));
    }
    assert_eq!(
        ast.get("/phoneprov/000000000001.cfg").text(),
        "1=u1:s1 vm ;\n"
    );
    eprintln!(
        "{PHONES} phones, reload (total, config API, module) in ms: from PostgreSQL \
         {splits:?}, from a file {file_splits:?}"
    );
}

const PJSIP_TEMPLATE: &str =
    "${USERNAME}:${SECRET} [${DISPLAY_NAME}] <${CALLERID}> ${SERVER_PORT} ${LABEL}\n";

/// An endpoint with its auth and AOR, and its phoneprov object, in the tables of pjsip.sql.
fn pjsip_phone_sql(n: u32, mac: &str) -> String {
    format!(
        "INSERT INTO ps_auths (id, auth_type, username, password) \
           VALUES ('auth{n}', 'userpass', 'u{n}', 'p{n}');\n\
         INSERT INTO ps_aors (id, max_contacts) VALUES ('ep{n}', 1);\n\
         INSERT INTO ps_endpoints (id, transport, aors, auth, context, callerid) \
           VALUES ('ep{n}', 'udp', 'ep{n}', 'auth{n}', 'phones', '\"Name {n}\" <60{n:02}>');\n\
         INSERT INTO ps_phoneprov (id, endpoint, \"MAC\", \"PROFILE\", \"LABEL\") \
           VALUES ('pp{n}', 'ep{n}', '{mac}', 'pol', 'Key {n}');\n"
    )
}

/// Asterisk with res_pjsip and res_pjsip_phoneprov_provider reading endpoints, auths, AORs and
/// phoneprov objects from the database (the samples' sorcery.conf); transports stay in
/// pjsip.conf, phoneprov.conf comes from the database too.
fn start_pjsip(pg: &Postgres, imp: Impl) -> Asterisk {
    let mut b = Builder::new(imp)
        .realtime(pg)
        .module("res_sorcery_realtime");
    for m in common::PJSIP_MODULES {
        b = b.module(m);
    }
    b.module("res_pjsip_phoneprov_provider")
        .conf("sorcery.conf", sample("sorcery.conf"))
        .conf(
            "pjsip.conf",
            "[udp]\ntype = transport\nprotocol = udp\nbind = @SIP_ADDR@:5060\n",
        )
        .file("t.cfg", PJSIP_TEMPLATE)
        .file("dir.xml", DIRECTORY)
        .start()
}

fn pjsip_database() -> Postgres {
    let pg = database();
    pg.sql(&phoneprov_conf_sql());
    pg.sql(&pjsip_phone_sql(1, "0004f2000101"));
    pg.sql(&pjsip_phone_sql(2, "0004f2000102"));
    pg
}

#[test]
fn pjsip_provider_phones_from_postgresql_through_sorcery() {
    let pg = pjsip_database();
    let ast = start_pjsip(&pg, Impl::Rust);
    let get = |mac: &str| ast.get(&format!("/phoneprov/{mac}.cfg"));
    assert_eq!(
        get("0004f2000101").text(),
        "u1:p1 [Name 1] <6001> 5060 Key 1\n",
        "{}",
        ast.log_tail()
    );
    assert_eq!(
        get("0004f2000102").text(),
        "u2:p2 [Name 2] <6002> 5060 Key 2\n"
    );

    pg.sql(&pjsip_phone_sql(3, "0004f2000103"));
    pg.sql("DELETE FROM ps_phoneprov WHERE id = 'pp2';");
    pg.sql("UPDATE ps_auths SET password = 'changed' WHERE id = 'auth1';");
    // `pjsip reload` re-reads no phoneprov object (the realtime wizard has nothing to
    // reload, and only the provider's own load hands phones over): nothing changes.
    ast.cli("pjsip reload");
    assert_eq!(
        get("0004f2000101").text(),
        "u1:p1 [Name 1] <6001> 5060 Key 1\n"
    );
    assert_eq!(get("0004f2000102").status, 200);
    assert_eq!(get("0004f2000103").status, 404);

    // The provider's reload reads the tables again: the new phone, the deleted one gone,
    // the new password (from ps_auths, through the endpoint).
    ast.cli("module reload res_pjsip_phoneprov_provider.so");
    assert_eq!(
        get("0004f2000103").text(),
        "u3:p3 [Name 3] <6003> 5060 Key 3\n"
    );
    assert_eq!(get("0004f2000102").status, 404);
    assert_eq!(
        get("0004f2000101").text(),
        "u1:changed [Name 1] <6001> 5060 Key 1\n"
    );

    // Our own reload runs the provider's load too.
    pg.sql(&pjsip_phone_sql(4, "0004f2000104"));
    reload(&ast);
    assert_eq!(
        get("0004f2000104").text(),
        "u4:p4 [Name 4] <6004> 5060 Key 4\n"
    );
    assert_eq!(
        ast.get("/phoneprov/0004f2000101-dir.xml").text(),
        "u1=0004f2000101;u3=0004f2000103;u4=0004f2000104;\n"
    );
}

/// The stock module serves none of those phones: res_pjsip_phoneprov_provider deletes the
/// MAC of each phoneprov object it destroys, and realtime objects are destroyed at the end of
/// the provider's load, right after it added them.
#[test]
fn stock_module_loses_realtime_pjsip_phones() {
    let pg = pjsip_database();
    let ast = start_pjsip(&pg, Impl::Stock);
    assert_eq!(ast.get("/phoneprov/0004f2000101.cfg").status, 404);
    assert!(
        !ast.cli("phoneprov show routes").contains("0004f2000101"),
        "the stock module kept the phone"
    );
    ast.cli("module reload res_pjsip_phoneprov_provider.so");
    assert_eq!(ast.get("/phoneprov/0004f2000101.cfg").status, 404);
}

/// With the database down when Asterisk starts, nothing is served; once it is back, a reload
/// serves everything (the users provider stays registered though it could read nothing).
#[test]
fn database_down_at_start_then_a_reload_once_it_is_back() {
    let mut pg = database();
    pg.sql(&phoneprov_conf_sql());
    pg.sql(&line_sql("6001", "0004f2000001", 1, "first"));
    let port = pg.port;
    pg.stop();
    let ast = Builder::new(Impl::Rust)
        .realtime(&pg)
        .file("t.cfg", LINES_TEMPLATE)
        .file("line.txt", LINE)
        .start();
    assert_eq!(ast.get("/phoneprov/0004f2000001.cfg").status, 404);
    assert!(ast.log_has("phoneprov.conf is mapped to realtime in extconfig.conf"));
    assert!(ast.log_has("phoneprov_users.conf is mapped to realtime in extconfig.conf"));

    pg.start_again();
    same_port_or_reconfigure(&ast, &pg, port);
    reload(&ast);
    assert_eq!(
        ast.get("/phoneprov/0004f2000001.cfg").text(),
        "1=6001:first vm ;\n"
    );
}
