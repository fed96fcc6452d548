//! A body sent after a head that announced its length (a file): which bytes to ask for
//! next, and what the result of one attempt means.
//!
//! The head's Content-Length is a promise. A connection that carried fewer bytes than it
//! said must close: the client would otherwise wait for the rest, or take the start of the
//! next answer for it. Never more are sent either: a file that grew since its length was
//! read would otherwise run into the next answer.

/// What became of one attempt to send the next bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// This many bytes went out (0: none, and nothing will, as when the file ended).
    Bytes(usize),
    /// The connection cannot take more now; the same bytes are asked for once it can.
    Full,
    /// Interrupted by a signal before anything went out: asked for again.
    Interrupted,
    /// This way of sending cannot carry this file (`sendfile` from a file system that
    /// cannot hand its pages over): the rest goes another way.
    Unsupported,
    /// Any other error: the connection is lost.
    Failed,
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the next bytes ([`Progress::next`]).
    Send,
    /// Wait until the connection takes more, then send.
    Wait,
    /// Send the rest another way.
    Switch,
    /// Every byte announced went out.
    Done,
    /// Fewer bytes went out than announced, and no more will: close the connection.
    Close,
}

/// How much of a body of `len` bytes went out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    len: u64,
    sent: u64,
}

impl Progress {
    /// A body of `len` bytes, none sent yet.
    pub fn new(len: u64) -> Progress {
        Progress { len, sent: 0 }
    }

    /// Where the next byte is in the file.
    pub fn offset(&self) -> u64 {
        self.sent
    }

    /// Whether every byte announced went out.
    pub fn done(&self) -> bool {
        self.sent >= self.len
    }

    /// How many bytes to ask for next: what remains, at most `max`; 0 once all went out.
    pub fn next(&self, max: usize) -> usize {
        let left = self.len.saturating_sub(self.sent);
        usize::try_from(left).map_or(max, |left| left.min(max))
    }

    /// Records the result of an attempt, and says what follows. More bytes than remain
    /// (never asked for) count as what remained.
    pub fn record(&mut self, sent: Sent) -> Next {
        match sent {
            Sent::Bytes(0) if !self.done() => Next::Close,
            Sent::Bytes(n) => {
                let n = u64::try_from(n).unwrap_or(u64::MAX);
                self.sent = self.sent.saturating_add(n).min(self.len);
                if self.done() {
                    Next::Done
                } else {
                    Next::Send
                }
            }
            Sent::Full => Next::Wait,
            Sent::Interrupted => Next::Send,
            Sent::Unsupported => Next::Switch,
            Sent::Failed => Next::Close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_body_exactly() {
        let mut p = Progress::new(10);
        assert_eq!((p.offset(), p.next(4)), (0, 4));
        assert_eq!(p.record(Sent::Bytes(4)), Next::Send);
        assert_eq!((p.offset(), p.next(4)), (4, 4));
        // A short send asks for the rest of the piece next.
        assert_eq!(p.record(Sent::Bytes(3)), Next::Send);
        assert_eq!((p.offset(), p.next(4)), (7, 3));
        assert_eq!(p.record(Sent::Bytes(3)), Next::Done);
        assert!(p.done());
        assert_eq!(p.next(4), 0);
    }

    #[test]
    fn an_empty_body_is_done_at_once() {
        let mut p = Progress::new(0);
        assert!(p.done());
        assert_eq!(p.next(1 << 20), 0);
        assert_eq!(p.record(Sent::Bytes(0)), Next::Done);
    }

    #[test]
    fn a_file_that_ends_early_closes_the_connection() {
        let mut p = Progress::new(100);
        assert_eq!(p.record(Sent::Bytes(60)), Next::Send);
        assert_eq!(p.record(Sent::Bytes(0)), Next::Close);
        assert_eq!(p.offset(), 60);
        assert!(!p.done());
    }

    #[test]
    fn never_more_than_announced() {
        let mut p = Progress::new(5);
        assert_eq!(p.next(usize::MAX), 5);
        assert_eq!(p.record(Sent::Bytes(9)), Next::Done);
        assert_eq!((p.offset(), p.next(usize::MAX)), (5, 0));
    }

    #[test]
    fn a_body_larger_than_memory_is_asked_for_in_pieces() {
        let mut p = Progress::new(u64::MAX);
        assert_eq!(p.next(1 << 30), 1 << 30);
        assert_eq!(p.record(Sent::Bytes(1 << 30)), Next::Send);
        assert_eq!(p.offset(), 1 << 30);
        let mut p = Progress::new(6 << 30);
        assert_eq!(p.record(Sent::Bytes(usize::MAX)), Next::Done);
        assert_eq!(p.offset(), 6 << 30);
    }

    #[test]
    fn what_each_failure_leads_to() {
        let mut p = Progress::new(10);
        assert_eq!(p.record(Sent::Full), Next::Wait);
        assert_eq!(p.record(Sent::Interrupted), Next::Send);
        assert_eq!(p.record(Sent::Unsupported), Next::Switch);
        assert_eq!(p.record(Sent::Failed), Next::Close);
        // None of them moves the offset.
        assert_eq!((p.offset(), p.next(100)), (0, 10));
    }
}
