//! A TFTP client written for the tests, for what the packaged clients cannot be made to do:
//! options they do not send (windowsize), acknowledgements held back, repeated or out of
//! order, and a look at every packet the server sends.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub const DATA: u16 = 3;
pub const ERROR: u16 = 5;
pub const OACK: u16 = 6;

/// One packet from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub opcode: u16,
    /// DATA: the block number; ERROR: the code (an OACK has none).
    pub number: u16,
    pub payload: Vec<u8>,
    pub from: SocketAddr,
}

impl Packet {
    /// An OACK's options, as name and value pairs.
    pub fn options(&self) -> Vec<(String, String)> {
        let words: Vec<String> = self
            .payload
            .split(|&b| b == 0)
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        words
            .chunks(2)
            .filter(|c| c.len() == 2 && !c[0].is_empty())
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect()
    }
}

pub struct Client {
    pub socket: UdpSocket,
    pub server: SocketAddr,
}

impl Client {
    /// A client on `local` (an address of the loopback), reaching the server at `server`.
    pub fn new(local: &str, server: SocketAddr) -> Client {
        let socket = UdpSocket::bind((local, 0)).expect("client socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        Client { socket, server }
    }

    /// Sends a read request (`write`: a write request) with `options`.
    pub fn request(&self, write: bool, name: &[u8], mode: &str, options: &[(&str, &str)]) {
        let mut p = vec![0, if write { 2 } else { 1 }];
        p.extend_from_slice(name);
        p.push(0);
        p.extend_from_slice(mode.as_bytes());
        p.push(0);
        for (k, v) in options {
            p.extend_from_slice(k.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        self.socket.send_to(&p, self.server).expect("send");
    }

    /// The next packet, within `wait`; None after it.
    pub fn receive_within(&self, wait: Duration) -> Option<Packet> {
        self.socket.set_read_timeout(Some(wait)).expect("timeout");
        let mut buf = vec![0u8; 70_000];
        let got = self.socket.recv_from(&mut buf);
        self.socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let (n, from) = got.ok()?;
        assert!(n >= 4, "a packet of {n} bytes");
        let opcode = u16::from_be_bytes([buf[0], buf[1]]);
        // An OACK has no number: its options follow the opcode.
        let payload_at = if opcode == OACK { 2 } else { 4 };
        Some(Packet {
            opcode,
            number: u16::from_be_bytes([buf[2], buf[3]]),
            payload: buf[payload_at..n].to_vec(),
            from,
        })
    }

    /// The next packet (within 5 s: it must come).
    pub fn receive(&self) -> Packet {
        self.receive_within(Duration::from_secs(5))
            .expect("a packet from the server within 5 s")
    }

    pub fn ack(&self, to: SocketAddr, block: u16) {
        self.socket
            .send_to(&[0, 4, (block >> 8) as u8, block as u8], to)
            .expect("ack");
    }

    /// Reads a whole file in lockstep (or with the window granted): its bytes.
    pub fn fetch(&self, name: &str, options: &[(&str, &str)]) -> Result<Vec<u8>, Packet> {
        self.request(false, name.as_bytes(), "octet", options);
        let mut body = Vec::new();
        let mut first = self.receive();
        let blksize: usize = options
            .iter()
            .find(|(k, _)| *k == "blksize")
            .map_or(512, |(_, v)| v.parse().expect("a number"));
        if first.opcode == ERROR {
            return Err(first);
        }
        let from = first.from;
        if first.opcode == OACK {
            self.ack(from, 0);
            first = self.receive();
        }
        let mut p = first;
        let mut expect: u16 = 1;
        loop {
            assert_eq!(p.opcode, DATA, "{p:?}");
            if p.number == expect {
                body.extend_from_slice(&p.payload);
                let last = p.payload.len() < blksize;
                expect = expect.wrapping_add(1);
                if last {
                    self.ack(from, p.number);
                    return Ok(body);
                }
            }
            // Each block acknowledged (a window's client would acknowledge its last: the
            // server accepts both).
            self.ack(from, expect.wrapping_sub(1));
            p = self.receive();
        }
    }
}
