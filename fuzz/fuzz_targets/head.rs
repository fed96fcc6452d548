//! The head Asterisk rendered, framed again for the body the module sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phoneprov_core::http::head::{complete, frame, Body, MAX_HEAD};

fuzz_target!(|data: (&[u8], &[u8], Vec<&[u8]>, u8)| {
    let (raw, body, lines, at) = data;
    // Any bytes: no panic, and a head is taken exactly when it is whole and not too long.
    for b in [Body::None, Body::Length(body.len() as u64), Body::Bytes(body)] {
        let out = frame(raw, b);
        assert_eq!(out.is_some(), raw.len() < MAX_HEAD && complete(raw));
        if let Some(out) = out {
            // The status line is kept; nothing is added without a body.
            let first = raw.windows(2).position(|w| w == b"\r\n").expect("whole") + 2;
            assert!(out.starts_with(&raw[..first]));
            assert!(complete(&out) || matches!(b, Body::Bytes(x) if !x.is_empty()));
            if b == Body::None {
                assert!(out.len() <= raw.len());
            }
        }
    }
    if let (Some(length), Some(bytes)) = (
        frame(raw, Body::Length(body.len() as u64)),
        frame(raw, Body::Bytes(body)),
    ) {
        assert_eq!([&length[..], body].concat(), bytes);
        let line = format!("Content-Length: {}\r\n\r\n", body.len());
        assert!(length.ends_with(line.as_bytes()));
    }

    // A head shaped as ast_http_send writes it, its length line anywhere among the others:
    // that line, and only it, is replaced. (The others start with X: none is a length line
    // or an empty one.)
    let others: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| {
            let mut x = vec![b'X'];
            x.extend(l.iter().filter(|&&c| c != b'\r' && c != b'\n'));
            x
        })
        .collect();
    let at = usize::from(at) % (others.len() + 1);
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    let mut want = head.clone();
    for (i, l) in others.iter().enumerate() {
        if i == at {
            head.extend_from_slice(b"Content-Length: 0\r\n");
        }
        head.extend_from_slice(l);
        head.extend_from_slice(b"\r\n");
        want.extend_from_slice(l);
        want.extend_from_slice(b"\r\n");
    }
    if at == others.len() {
        head.extend_from_slice(b"Content-Length: 0\r\n");
    }
    head.extend_from_slice(b"\r\n");
    if head.len() >= MAX_HEAD {
        assert_eq!(frame(&head, Body::None), None);
        return;
    }
    let mut none = want.clone();
    none.extend_from_slice(b"\r\n");
    assert_eq!(frame(&head, Body::None), Some(none));
    want.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    want.extend_from_slice(body);
    assert_eq!(frame(&head, Body::Bytes(body)), Some(want));
});
