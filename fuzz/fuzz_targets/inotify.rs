//! The records one read of an inotify descriptor returns: variable-length records the
//! module walks itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::util::inotify::{
    classify, Batch, HEADER, IN_DELETE_SELF, IN_IGNORED, IN_MOVE_SELF, IN_Q_OVERFLOW,
};

const LOST: u32 = IN_IGNORED | IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF;

fuzz_target!(|data: (&[u8], Vec<(i32, u32, u32, &[u8])>, u16)| {
    let (raw, records, cut) = data;
    // Any buffer is read without a panic and without reading past it.
    let _ = classify(raw);

    // Well-formed records: lost exactly when one of them says so.
    let mut buf = Vec::new();
    let mut lost = false;
    for (wd, mask, cookie, name) in &records {
        buf.extend_from_slice(&wd.to_ne_bytes());
        buf.extend_from_slice(&mask.to_ne_bytes());
        buf.extend_from_slice(&cookie.to_ne_bytes());
        buf.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        buf.extend_from_slice(name);
        lost |= mask & LOST != 0;
    }
    let want = match (records.is_empty(), lost) {
        (true, _) => Batch::Empty,
        (false, false) => Batch::Changes,
        (false, true) => Batch::Lost,
    };
    assert_eq!(classify(&buf), want);
    // Cut inside its last record, a buffer counts as lost.
    if let Some((_, _, _, name)) = records.last() {
        let last = HEADER + name.len();
        let cut = usize::from(cut) % (last - 1) + 1;
        assert_eq!(classify(&buf[..buf.len() - cut]), Batch::Lost);
    }
});
