//! A private PostgreSQL server for the realtime tests: Debian's `postgresql` programs
//! (`scripts/postgres.sh` installs them; `make test` runs it), a fresh data directory under
//! /tmp, a free port on 127.0.0.1 only and a private socket directory. The server runs as the
//! `postgres` user (it refuses root). Dropping it stops the server and removes the directory;
//! when the test failed, the server's log is printed first. Declare it before the Asterisk
//! that uses it, so that Asterisk stops first.
//!
//! ```ignore
//! let mut pg = Postgres::start();            // or common::realtime::database(): with the
//! pg.sql_file(&path_of("my_schema.sql"));    //   schema of asterisk-conf/realtime/
//! pg.sql(&format!("INSERT INTO t (a) VALUES ({});", quote("it's")));
//! let rows = pg.rows("SELECT a FROM t");     // Vec<Vec<String>>
//! let ast = Builder::new(Impl::Rust)
//!     .pgsql(&pg)                            // res_config_pgsql and its res_pgsql.conf
//!     .conf("extconfig.conf", "[settings]\nmy_family => pgsql,asterisk,t\n")
//!     .start();
//! pg.stop();                                 // an outage; pg.start_again() ends it
//! ```
//!
//! Asterisk (chrooted in the sandbox, same network namespace) reaches the server over TCP on
//! 127.0.0.1 through `res_config_pgsql` and the sandbox's libpq, as role [`USER`] with
//! [`PASSWORD`] (scram-sha-256). `PHONEPROV_PG_LOG_STATEMENTS=1` makes the server log every
//! statement (printed with its log when a test fails); `PHONEPROV_PG_BIN` chooses the
//! server's programs.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{free_port, reserve_port, Builder};

/// The database and role Asterisk uses; the role owns the database and its tables.
pub const DATABASE: &str = "asterisk";
pub const USER: &str = "asterisk";
/// Over TCP the role must authenticate (scram-sha-256), as a real deployment does.
pub const PASSWORD: &str = "rt-pass";

pub struct Postgres {
    bin: PathBuf,
    /// Holds data/, sock/ and server.log; owned by the server's user.
    dir: PathBuf,
    pub port: u16,
    running: bool,
}

/// The newest installed server's programs (PHONEPROV_PG_BIN overrides).
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PHONEPROV_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut dirs: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e
                .file_name()
                .to_str()?
                .split('.')
                .map(|n| n.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server under /usr/lib/postgresql: run scripts/postgres.sh as root \
             (make test does)"
        )
    })
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The uid and gid of the `postgres` user.
fn server_user() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "no postgres user: run scripts/postgres.sh as root (make test does)"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a numeric id")
    };
    (id("-u"), id("-g"))
}

/// `program` of the server, run as the server's user when the tests run as root.
fn as_server_user(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// `text` as an SQL string literal.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Postgres {
    /// Creates the data directory, starts the server and creates the database and its role.
    pub fn start() -> Postgres {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let bin = bin_dir();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // /tmp, not TMPDIR: the server's user must be able to reach the directory.
        let dir = PathBuf::from(format!("/tmp/pptest-pg-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sock")).expect("postgres test directory");
        if is_root() {
            let (uid, gid) = server_user();
            for d in [dir.clone(), dir.join("sock")] {
                std::os::unix::fs::chown(&d, Some(uid), Some(gid)).expect("chown");
            }
        }
        let mut pg = Postgres {
            bin,
            dir,
            port: 0,
            running: false,
        };
        // Local (socket) connections are trusted: only the tests can reach the private
        // socket directory. TCP connections need the role's password.
        let out = as_server_user(&pg.bin, "initdb")
            .arg("-D")
            .arg(pg.dir.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        pg.start_server();
        pg.sql_as(
            "postgres",
            "postgres",
            &format!(
                "CREATE ROLE {USER} LOGIN PASSWORD {};\nCREATE DATABASE {DATABASE} OWNER {USER};\n",
                quote(PASSWORD)
            ),
        )
        .unwrap_or_else(|e| panic!("creating the database: {e}"));
        pg
    }

    /// Starts the server of the existing data directory (after [`Postgres::stop`]), on the
    /// same port when it is still free, else on another one.
    pub fn start_again(&mut self) {
        assert!(!self.running, "the server runs already");
        self.start_server();
    }

    fn start_server(&mut self) {
        let mut last = String::new();
        // Another process may take the port between the probe and the server's bind.
        for attempt in 0..5 {
            let port = if attempt == 0 && self.port != 0 {
                self.port
            } else {
                free_port()
            };
            let mut options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off",
                self.dir.join("sock").display()
            );
            // To see what Asterisk asks (printed with the log when a test fails).
            if std::env::var_os("PHONEPROV_PG_LOG_STATEMENTS").is_some() {
                options += " -c log_statement=all";
            }
            let out = as_server_user(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "30", "-o", &options, "start"])
                .stdin(Stdio::null())
                .output()
                .expect("run pg_ctl");
            if out.status.success() {
                reserve_port(port);
                self.port = port;
                self.running = true;
                return;
            }
            last = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log()
            );
        }
        panic!("the PostgreSQL server did not start: {last}");
    }

    /// Stops the server (a database outage); [`Postgres::start_again`] brings it back with
    /// its data.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let stopped = |mode: &str| {
            as_server_user(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", mode, "-w", "-t", "15", "stop"])
                .stdin(Stdio::null())
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        if !stopped("fast") {
            stopped("immediate");
        }
        self.running = false;
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Runs SQL in the test database as its owner; panics with psql's message on an error.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n--- statement ---\n{sql}"))
    }

    /// Runs SQL in the test database as its owner: psql's output, or its error message.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        self.sql_as(USER, DATABASE, sql)
    }

    /// Runs an SQL file (a schema of asterisk-conf/realtime/) in the test database.
    pub fn sql_file(&self, path: &Path) -> String {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        self.sql(&text)
    }

    /// The rows a query returns, each as its columns' text (NULL as the empty string).
    pub fn rows(&self, query: &str) -> Vec<Vec<String>> {
        self.sql(&format!(
            "\\pset format unaligned\n\\pset tuples_only on\n\\pset fieldsep_zero on\n{query}"
        ))
        .lines()
        .map(|l| l.split('\0').map(str::to_owned).collect())
        .collect()
    }

    fn sql_as(&self, user: &str, database: &str, sql: &str) -> Result<String, String> {
        assert!(self.running, "the PostgreSQL server is stopped");
        let mut child = as_server_user(&self.bin, "psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.join("sock"))
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                database,
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run psql");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(sql.as_bytes())
            .expect("write SQL to psql");
        let out = child.wait_with_output().expect("psql output");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `res_pgsql.conf` for `res_config_pgsql`: TCP to this server as [`USER`].
    pub fn res_pgsql_conf(&self) -> String {
        format!(
            "[general]\ndbhost = 127.0.0.1\ndbport = {}\ndbname = {DATABASE}\ndbuser = {USER}\n\
             dbpass = {PASSWORD}\nrequirements = warn\n",
            self.port
        )
    }

    /// The server's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- PostgreSQL log ({}) -----\n{}\n----- end of log -----",
                self.dir.display(),
                self.log()
            );
        }
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Builder {
    /// Loads `res_config_pgsql`, connected to `pg` through its `res_pgsql.conf`. The realtime
    /// mappings (extconfig.conf, sorcery.conf) are the test's own.
    pub fn pgsql(self, pg: &Postgres) -> Self {
        self.module("res_config_pgsql")
            .conf("res_pgsql.conf", pg.res_pgsql_conf())
    }
}
