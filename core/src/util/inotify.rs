//! What one read of an inotify instance returned: a run of variable-length records, each
//! a fixed header (watch, mask, cookie, name length) and a name padded to that length. The
//! module only needs to know whether anything changed, and whether a watch is gone or
//! events were lost (then its directories must be watched anew).
//!
//! The kernel never hands out a part of a record; a buffer that ends inside one is still
//! read without going past its end, and counts as lost events.

/// A watched directory was deleted (`IN_DELETE_SELF`).
pub const IN_DELETE_SELF: u32 = 0x0000_0400;
/// A watched directory was moved (`IN_MOVE_SELF`).
pub const IN_MOVE_SELF: u32 = 0x0000_0800;
/// The queue overflowed: events were dropped (`IN_Q_OVERFLOW`).
pub const IN_Q_OVERFLOW: u32 = 0x0000_4000;
/// A watch was removed, its directory gone or its filesystem unmounted (`IN_IGNORED`).
pub const IN_IGNORED: u32 = 0x0000_8000;

/// The masks after which a directory is no longer watched, or changes went unreported.
const LOST: u32 = IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF;

/// `struct inotify_event` without its name: `int wd; uint32_t mask, cookie, len;`.
pub const HEADER: usize = 16;

/// The longest file name (`NAME_MAX`): a record's name holds one, its NUL, and padding.
pub const NAME_MAX: usize = 255;

/// What a read returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// Nothing.
    Empty,
    /// Changes in watched directories.
    Changes,
    /// Changes, among them a watch gone or events lost.
    Lost,
}

fn word(buf: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&buf[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Reads the records of `buf`, as a read of an inotify descriptor filled it (the host's
/// byte order).
pub fn classify(buf: &[u8]) -> Batch {
    if buf.is_empty() {
        return Batch::Empty;
    }
    let mut lost = false;
    let mut at = 0;
    while at < buf.len() {
        let Some(header) = buf.get(at..at + HEADER) else {
            return Batch::Lost;
        };
        if word(header, 4) & LOST != 0 {
            lost = true;
        }
        let name = usize::try_from(word(header, 12)).unwrap_or(usize::MAX);
        at = match (at + HEADER).checked_add(name) {
            Some(next) if next <= buf.len() => next,
            _ => return Batch::Lost,
        };
    }
    if lost {
        Batch::Lost
    } else {
        Batch::Changes
    }
}

/// Whether the filesystem of that magic number (`statfs`'s `f_type`) is one whose changes
/// this kernel makes itself, and so reports: not a network filesystem, where another
/// machine may write.
pub fn local_filesystem(f_type: i64) -> bool {
    // f_type is a 32-bit magic number carried in a long.
    matches!(
        f_type as u32,
        0xEF53 // ext2, ext3, ext4
            | 0x5846_5342 // xfs
            | 0x9123_683E // btrfs
            | 0x0102_1994 // tmpfs
            | 0x794C_7630 // overlayfs
            | 0x2FC1_2FC1 // zfs
            | 0xF2F5_2010 // f2fs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(mask: u32, name: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&1i32.to_ne_bytes());
        r.extend_from_slice(&mask.to_ne_bytes());
        r.extend_from_slice(&0u32.to_ne_bytes());
        r.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        r.extend_from_slice(name);
        r
    }

    const IN_MODIFY: u32 = 0x2;
    const IN_CREATE: u32 = 0x100;

    #[test]
    fn nothing_read_is_empty() {
        assert_eq!(classify(&[]), Batch::Empty);
    }

    #[test]
    fn changes_are_told_from_lost_watches() {
        let mut buf = record(IN_MODIFY, b"t.cfg\0\0\0\0\0\0\0\0\0\0\0");
        buf.extend(record(IN_CREATE, b""));
        assert_eq!(classify(&buf), Batch::Changes);
        for lost in [IN_IGNORED, IN_Q_OVERFLOW, IN_DELETE_SELF, IN_MOVE_SELF] {
            let mut more = buf.clone();
            more.extend(record(lost, b""));
            more.extend(record(IN_MODIFY, b"x\0\0\0"));
            assert_eq!(classify(&more), Batch::Lost, "{lost:#x}");
        }
        // A lost mask alone, as IN_Q_OVERFLOW comes (watch -1, no name).
        assert_eq!(classify(&record(IN_Q_OVERFLOW, b"")), Batch::Lost);
    }

    #[test]
    fn a_record_cut_short_counts_as_lost() {
        let buf = record(IN_MODIFY, b"name\0\0\0\0");
        assert_eq!(classify(&buf[..buf.len() - 1]), Batch::Lost);
        assert_eq!(classify(&buf[..HEADER - 1]), Batch::Lost);
        let mut huge = record(IN_MODIFY, b"");
        huge[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(classify(&huge), Batch::Lost);
    }

    #[test]
    fn network_filesystems_are_not_local() {
        assert!(local_filesystem(0xEF53));
        assert!(local_filesystem(0x0102_1994));
        assert!(local_filesystem(0x9123_683E));
        assert!(!local_filesystem(0x6969)); // NFS
        assert!(!local_filesystem(0xFF53_4D42)); // CIFS
        assert!(!local_filesystem(0));
    }
}
