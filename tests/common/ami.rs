//! A small Asterisk Manager Interface client for tests: enable AMI in a test's Asterisk with
//! [`manager_conf`], then log in as its user and send actions or wait for events.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::Asterisk;

/// The AMI user of [`manager_conf`] and its password.
pub const USER: &str = "reporter";
pub const SECRET: &str = "rep0rter";

/// manager.conf enabling AMI on 127.0.0.1:`port` with one user allowed only `perm` (read and
/// write), e.g. `reporting`.
pub fn manager_conf(port: u16, perm: &str) -> String {
    format!(
        "[general]\nenabled = yes\nport = {port}\nbindaddr = 127.0.0.1\n\n\
         [{USER}]\nsecret = {SECRET}\nread = {perm}\nwrite = {perm}\n"
    )
}

/// One message: its `Key: value` lines, in order.
pub type Message = Vec<(String, String)>;

pub fn get<'a>(m: &'a Message, key: &str) -> Option<&'a str> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

pub struct Ami {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Messages read while looking for another one.
    pending: Vec<Message>,
}

impl Ami {
    /// Connects to the AMI of `ast` at `port` and logs in as [`USER`].
    pub fn login(ast: &Asterisk, port: u16) -> Ami {
        let addr = std::net::SocketAddr::new(ast.addr().ip(), port);
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("AMI at {addr}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let writer = stream.try_clone().expect("clone");
        let mut reader = BufReader::new(stream);
        let mut banner = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while banner.is_empty() && Instant::now() < deadline {
            let _ = reader.read_line(&mut banner);
        }
        assert!(banner.contains("Asterisk Call Manager"), "banner: {banner}");
        let mut ami = Ami {
            reader,
            writer,
            pending: Vec::new(),
        };
        let r = ami.action("Login", &[("Username", USER), ("Secret", SECRET)]);
        assert_eq!(get(&r, "Response"), Some("Success"), "login: {r:?}");
        ami
    }

    /// Sends an action and returns its response (the message with its ActionID).
    pub fn action(&mut self, action: &str, fields: &[(&str, &str)]) -> Message {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = IDS
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_string();
        let mut text = format!("Action: {action}\r\nActionID: {id}\r\n");
        for (k, v) in fields {
            text += &format!("{k}: {v}\r\n");
        }
        text += "\r\n";
        self.writer.write_all(text.as_bytes()).expect("AMI write");
        self.wait_for(Duration::from_secs(10), |m| get(m, "ActionID") == Some(&id))
            .unwrap_or_else(|| panic!("no answer to {action}"))
    }

    /// The first message (already read or arriving within `limit`) for which `want` holds.
    pub fn wait_for(
        &mut self,
        limit: Duration,
        want: impl Fn(&Message) -> bool,
    ) -> Option<Message> {
        if let Some(i) = self.pending.iter().position(&want) {
            return Some(self.pending.remove(i));
        }
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let Some(m) = self.read_message(deadline) else {
                continue;
            };
            if want(&m) {
                return Some(m);
            }
            self.pending.push(m);
        }
        None
    }

    /// The event named `name` for which `want` holds.
    pub fn event(
        &mut self,
        name: &str,
        limit: Duration,
        want: impl Fn(&Message) -> bool,
    ) -> Option<Message> {
        self.wait_for(limit, |m| get(m, "Event") == Some(name) && want(m))
    }

    fn read_message(&mut self, deadline: Instant) -> Option<Message> {
        let mut m = Message::new();
        let mut line = String::new();
        loop {
            // A read that times out keeps what it read in `line`: go on from there.
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("AMI connection closed"),
                Ok(_) if !line.ends_with('\n') => continue,
                Ok(_) => {}
                Err(_) => {
                    // Between messages the deadline holds; within one, the rest must come.
                    let idle = line.is_empty() && m.is_empty();
                    if Instant::now() >= deadline + Duration::from_secs(if idle { 0 } else { 5 }) {
                        return None;
                    }
                    continue;
                }
            }
            let l = std::mem::take(&mut line);
            let l = l.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                if m.is_empty() {
                    continue;
                }
                return Some(m);
            }
            if let Some((k, v)) = l.split_once(':') {
                m.push((k.to_owned(), v.trim_start().to_owned()));
            }
        }
    }
}
