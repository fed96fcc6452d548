//! One read transfer as a state machine, free of sockets and clocks: what to send at the
//! start, on an acknowledgement and on a timeout. Blocks are counted from 1 without wrapping
//! (the wire's 16-bit numbers roll over to 0 after 65535, as tftp-hpa and curl expect); an
//! OACK, when options were granted, is block 0.
//!
//! Never an amplifier: until the client has acknowledged something, one packet is in flight
//! (the OACK, or the first block), whatever window it asked for. Duplicate and stale
//! acknowledgements are ignored (no Sorcerer's Apprentice: a duplicate never resends); an
//! acknowledgement inside the window that is short of its end restarts the window after it
//! (RFC 7440: the client acknowledges the last block it received in order).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::options::Granted;
use super::packet;

/// Retransmissions of one window before the transfer is given up.
pub const MAX_RETRIES: u32 = 5;

/// What to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send these packets, in order, then wait.
    Send(Vec<Vec<u8>>),
    /// Nothing to send (a duplicate or stale acknowledgement): keep waiting.
    Wait,
    /// The last block is acknowledged.
    Done,
    /// Retransmitted enough: give up.
    GiveUp,
}

/// What a transfer sends: bytes in memory, or a file read block by block (a firmware image
/// is not read whole into memory once per transfer).
pub enum Source {
    Memory(Arc<[u8]>),
    File { file: File, len: usize },
}

impl Source {
    pub fn len(&self) -> usize {
        match self {
            Source::Memory(b) => b.len(),
            Source::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the bytes `start..end` to `out`; false when the file could not be read (or
    /// came out shorter: it changed under the transfer).
    fn read(&self, start: usize, end: usize, out: &mut Vec<u8>) -> bool {
        match self {
            Source::Memory(b) => {
                out.extend_from_slice(&b[start..end]);
                true
            }
            Source::File { file, .. } => {
                let at = out.len();
                out.resize(at + (end - start), 0);
                file.read_exact_at(&mut out[at..], start as u64).is_ok()
            }
        }
    }
}

pub struct Transfer {
    body: Source,
    blksize: usize,
    window: u64,
    /// The OACK (block 0), if options were granted.
    oack: Option<Vec<u8>>,
    /// Data blocks: the last one is shorter than blksize (maybe empty).
    blocks: u64,
    /// The highest block acknowledged (0: none, or the OACK).
    acked: u64,
    /// The highest block sent.
    sent: u64,
    /// Whether the client acknowledged anything yet (its address answers).
    proven: bool,
    retries: u32,
}

impl Transfer {
    pub fn new(body: Source, granted: &Granted) -> Transfer {
        let blocks = (body.len() / granted.blksize) as u64 + 1;
        let oack = (!granted.acknowledged.is_empty()).then(|| packet::oack(&granted.acknowledged));
        Transfer {
            body,
            blksize: granted.blksize,
            window: u64::from(granted.windowsize),
            oack,
            blocks,
            acked: 0,
            sent: 0,
            proven: false,
            retries: 0,
        }
    }

    /// The first packet: the OACK, or the first block.
    pub fn start(&mut self) -> Step {
        match &self.oack {
            Some(oack) => Step::Send(vec![oack.clone()]),
            None => self.send_window(),
        }
    }

    /// The DATA packet of block `n` (1-based); None when the file could not be read.
    fn block(&self, n: u64) -> Option<Vec<u8>> {
        let len = self.body.len();
        let start = usize::try_from(n - 1)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.blksize)
            .min(len);
        let end = start.saturating_add(self.blksize).min(len);
        let mut p = packet::data((n % 65_536) as u16, &[]);
        self.body.read(start, end, &mut p).then_some(p)
    }

    /// Sends the blocks after the last acknowledged one, as many as the window allows.
    fn send_window(&mut self) -> Step {
        let window = if self.proven { self.window } else { 1 };
        let last = (self.acked + window).min(self.blocks);
        self.sent = last;
        let packets: Option<Vec<Vec<u8>>> =
            (self.acked + 1..=last).map(|n| self.block(n)).collect();
        packets.map_or(Step::GiveUp, Step::Send)
    }

    /// The client acknowledged the block numbered `wire`.
    pub fn on_ack(&mut self, wire: u16) -> Step {
        // The block it means: the one in (acked, sent] with that number (a window is far
        // shorter than 65,536 blocks, so there is one at most).
        let offset = u64::from(wire.wrapping_sub((self.acked % 65_536) as u16));
        let n = self.acked + offset;
        let in_flight = self.oack.is_some() && self.sent == 0 && self.acked == 0 && wire == 0;
        if !(in_flight || (offset != 0 && n <= self.sent)) {
            // A duplicate, or stale: never answered with a resend.
            return Step::Wait;
        }
        self.proven = true;
        self.retries = 0;
        self.acked = n;
        if self.acked >= self.blocks {
            return Step::Done;
        }
        // The next window; short of the last one's end (what followed was lost), that is
        // the lost blocks again: either way it starts after the acknowledged block.
        self.send_window()
    }

    /// Nothing came back in time: the unacknowledged packets again.
    pub fn on_timeout(&mut self) -> Step {
        self.retries += 1;
        if self.retries > MAX_RETRIES {
            return Step::GiveUp;
        }
        match (&self.oack, self.sent) {
            (Some(oack), 0) => Step::Send(vec![oack.clone()]),
            _ => self.send_window(),
        }
    }

    /// Bytes of the body sent so far, acknowledged.
    pub fn bytes_acked(&self) -> usize {
        usize::try_from(self.acked)
            .unwrap_or(usize::MAX)
            .saturating_mul(self.blksize)
            .min(self.body.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::options::negotiate;
    use super::*;

    fn granted(pairs: &[(&str, &str)], size: usize) -> Granted {
        let opts: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect();
        negotiate(&opts, size)
    }

    fn blocks(step: &Step) -> Vec<u16> {
        match step {
            Step::Send(p) => p.iter().map(|p| u16::from_be_bytes([p[2], p[3]])).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lockstep_without_options() {
        let body: Arc<[u8]> = vec![7u8; 1024].into();
        let mut t = Transfer::new(Source::Memory(body), &granted(&[], 1024));
        assert_eq!(blocks(&t.start()), [1]);
        assert_eq!(t.on_ack(1), Step::Send(vec![packet::data(2, &[7; 512])]));
        // A duplicate ACK 1 sends nothing (Sorcerer's Apprentice).
        assert_eq!(t.on_ack(1), Step::Wait);
        // 1024 bytes: a last, empty block 3.
        assert_eq!(t.on_ack(2), Step::Send(vec![packet::data(3, &[])]));
        assert_eq!(t.on_ack(3), Step::Done);
    }

    #[test]
    fn one_packet_until_the_client_answers_then_the_window() {
        let body: Arc<[u8]> = vec![1u8; 100].into();
        let mut t = Transfer::new(
            Source::Memory(body.clone()),
            &granted(&[("blksize", "10"), ("windowsize", "4")], 100),
        );
        // The OACK alone, then a window of 4 once ACK 0 came back.
        assert_eq!(
            t.start(),
            Step::Send(vec![packet::oack(&[
                ("blksize", "10".into()),
                ("windowsize", "4".into())
            ])])
        );
        assert_eq!(t.on_timeout(), t.start(), "the OACK again");
        assert_eq!(blocks(&t.on_ack(0)), [1, 2, 3, 4]);
        assert_eq!(t.on_ack(0), Step::Wait, "a duplicate of ACK 0");
        // Block 3 lost: the client acknowledges 2; the window restarts at 3.
        assert_eq!(blocks(&t.on_ack(2)), [3, 4, 5, 6]);
        assert_eq!(blocks(&t.on_timeout()), [3, 4, 5, 6]);
        assert_eq!(blocks(&t.on_ack(6)), [7, 8, 9, 10]);
        assert_eq!(blocks(&t.on_ack(10)), [11]);
        assert_eq!(t.on_ack(11), Step::Done);

        // Without options a window is never asked for: one block at a time.
        let mut plain = Transfer::new(Source::Memory(body), &granted(&[], 100));
        assert_eq!(blocks(&plain.start()), [1]);
        assert_eq!(plain.on_ack(1), Step::Done);
    }

    #[test]
    fn gives_up_after_the_retries() {
        let body: Arc<[u8]> = vec![0u8; 10].into();
        let mut t = Transfer::new(Source::Memory(body), &granted(&[], 10));
        t.start();
        for _ in 0..MAX_RETRIES {
            assert_eq!(blocks(&t.on_timeout()), [1]);
        }
        assert_eq!(t.on_timeout(), Step::GiveUp);
    }

    #[test]
    fn block_numbers_roll_over() {
        let blksize = 8;
        let n = 70_000usize;
        let body: Arc<[u8]> = vec![3u8; n * blksize].into();
        let mut t = Transfer::new(
            Source::Memory(body),
            &granted(&[("blksize", "8"), ("windowsize", "8")], 0),
        );
        t.start();
        let mut next = t.on_ack(0);
        let mut acked = 0u64;
        loop {
            let sent = match &next {
                Step::Send(p) => p
                    .iter()
                    .map(|p| u16::from_be_bytes([p[2], p[3]]))
                    .collect::<Vec<_>>(),
                Step::Done => break,
                other => panic!("{other:?}"),
            };
            acked += sent.len() as u64;
            next = t.on_ack(*sent.last().expect("a block"));
        }
        assert_eq!(acked, n as u64 + 1);
        assert_eq!(t.bytes_acked(), n * blksize);
    }

    #[test]
    fn stale_and_unknown_acks_are_ignored() {
        let body: Arc<[u8]> = vec![0u8; 50].into();
        let mut t = Transfer::new(
            Source::Memory(body),
            &granted(&[("blksize", "10"), ("windowsize", "2")], 50),
        );
        t.start();
        assert_eq!(blocks(&t.on_ack(0)), [1, 2]);
        assert_eq!(t.on_ack(9), Step::Wait, "not sent yet");
        assert_eq!(blocks(&t.on_ack(2)), [3, 4]);
        assert_eq!(t.on_ack(1), Step::Wait, "stale");
    }

    #[test]
    fn a_file_is_read_block_by_block_as_memory_would_be() {
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        let path = std::env::temp_dir().join(format!("pp-tftp-{}", std::process::id()));
        std::fs::write(&path, &bytes).expect("temp file");
        let file = File::open(&path).expect("open");
        let g = granted(&[("blksize", "700")], bytes.len());
        let mut from_file = Transfer::new(
            Source::File {
                file,
                len: bytes.len(),
            },
            &g,
        );
        let mut from_memory = Transfer::new(Source::Memory(bytes.into()), &g);
        assert_eq!(from_file.start(), from_memory.start());
        for ack in 0..3 {
            assert_eq!(from_file.on_ack(ack), from_memory.on_ack(ack));
        }
        assert_eq!(from_file.on_ack(3), Step::Done);
        // A file shorter than announced (changed under the transfer): given up.
        let short = Transfer::new(
            Source::File {
                file: File::open(&path).expect("open"),
                len: 5000,
            },
            &g,
        )
        .block(3);
        assert!(short.is_none());
        let _ = std::fs::remove_file(&path);
    }
}
