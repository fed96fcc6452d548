//! The realtime samples of asterisk-conf/realtime/ in a test: a [`Postgres`] with their schema,
//! an Asterisk configured with their extconfig.conf, res_pgsql.conf and sorcery.conf, and rows
//! in the static layout. Tests use the samples as they are (only the server's port and
//! password are put into res_pgsql.conf), so what docs/scaling.md shows is what is tested.

use std::path::PathBuf;

use super::postgres::{quote, Postgres, PASSWORD};
use super::{project_dir, Asterisk, Builder};

pub fn sample_path(name: &str) -> PathBuf {
    project_dir().join("asterisk-conf/realtime").join(name)
}

pub fn sample(name: &str) -> String {
    let path = sample_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fresh server holding the tables of static.sql, cluster.sql and pjsip.sql.
pub fn database() -> Postgres {
    let pg = Postgres::start();
    pg.sql_file(&sample_path("static.sql"));
    pg.sql_file(&sample_path("cluster.sql"));
    pg.sql_file(&sample_path("pjsip.sql"));
    pg
}

/// The sample res_pgsql.conf, pointed at `pg`.
pub fn res_pgsql_conf(pg: &Postgres) -> String {
    let text = sample("res_pgsql.conf");
    let port = "dbport = 5432";
    let pass = "dbpass = asterisk";
    assert!(text.contains(port) && text.contains(pass), "{text}");
    text.replace(port, &format!("dbport = {}", pg.port))
        .replace(pass, &format!("dbpass = {PASSWORD}"))
}

impl Builder {
    /// res_config_pgsql on `pg` with the samples' extconfig.conf and res_pgsql.conf.
    pub fn realtime(self, pg: &Postgres) -> Self {
        self.module("res_config_pgsql")
            .conf("res_pgsql.conf", res_pgsql_conf(pg))
            .conf("extconfig.conf", sample("extconfig.conf"))
    }
}

/// After PostgreSQL started again: res_config_pgsql reconnects by itself at its next query
/// when the server is back on its port, which [`Postgres::start_again`] tries first; should
/// another process have taken the port meanwhile, Asterisk is pointed at the new one.
pub fn same_port_or_reconfigure(ast: &Asterisk, pg: &Postgres, old_port: u16) {
    if pg.port != old_port {
        ast.write_conf("res_pgsql.conf", res_pgsql_conf(pg));
        ast.cli("module reload res_config_pgsql.so");
    }
}

/// SQL inserting one section of `file` into ast_config, its lines numbered in order.
/// The database of the samples holding one phoneprov.conf: `[general]` (`general`), one
/// profile `profile` (`lines`), and one phone, 6001 with `mac` and secret TopSecret1.
pub fn one_phone_database(
    general: &[(&str, &str)],
    profile: &str,
    lines: &[(&str, &str)],
    mac: &str,
) -> Postgres {
    let pg = database();
    pg.sql(
        &[
            section_sql("phoneprov.conf", 2, "general", general),
            section_sql("phoneprov.conf", 1, profile, lines),
        ]
        .concat(),
    );
    pg.sql(&format!(
        "INSERT INTO phoneprov_lines (section, macaddress, secret) \
         VALUES ('6001', '{mac}', 'TopSecret1');"
    ));
    pg
}

pub fn section_sql(file: &str, cat_metric: i32, name: &str, lines: &[(&str, &str)]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            format!(
                "INSERT INTO ast_config (cat_metric, var_metric, filename, category, var_name, \
                 var_val) VALUES ({cat_metric}, {i}, {}, {}, {}, {});\n",
                quote(file),
                quote(name),
                quote(k),
                quote(v)
            )
        })
        .collect()
}
