//! Static files: validators (ETag, Last-Modified) and 304 answers, since phones poll their
//! firmware on every boot; small files from memory (bytes as they are, whatever their
//! encoding, NUL bytes included), larger ones streamed from their descriptor.

use std::fs::File;
use std::path::Path;

use crate::ffi::http::Request;
use crate::module::render::filecache::{FileCache, Found, Stamp};
use phoneprov_core::http::httpdate;

/// Files up to this size without NUL bytes are answered from memory.
const SMALL: u64 = 64 * 1024;

/// A small file's contents, whether it holds a NUL byte (Asterisk writes string bodies with
/// "%s", so those are framed by the glue instead: see `Request::send_binary`), and its
/// validators, written once rather than for each of the fleet's fetches.
struct Small {
    body: Vec<u8>,
    binary: bool,
    validators: Validators,
}

/// A file's ETag, and its ETag and Last-Modified header lines.
struct Validators {
    etag: String,
    lines: String,
}

impl Validators {
    fn of(stamp: &Stamp) -> Validators {
        let etag = format!(
            "\"{:x}-{:x}-{:x}\"",
            stamp.ino,
            stamp.len,
            stamp.mtime * 1_000_000_000 + stamp.mtime_nsec
        );
        let lines = format!(
            "ETag: {etag}\r\nLast-Modified: {}\r\n",
            httpdate::format(stamp.mtime)
        );
        Validators { etag, lines }
    }
}

static SMALL_FILES: FileCache<Small> = FileCache::new();

fn not_modified(req: &Request, etag: &str, mtime: i64) -> bool {
    match req.header("If-None-Match") {
        Some(tags) => std::str::from_utf8(tags).is_ok_and(|t| httpdate::etag_matches(t, etag)),
        None => req
            .header("If-Modified-Since")
            .and_then(|d| httpdate::parse(std::str::from_utf8(d).ok()?))
            .is_some_and(|since| mtime <= since),
    }
}

/// Answers with the file at `path`; Err says why it could not be read (the caller logs it
/// and answers 500).
pub fn serve(req: &Request, path: &Path, mime: &[u8]) -> std::io::Result<()> {
    let found = SMALL_FILES.get(
        path,
        |meta| meta.len() <= SMALL,
        |body, stamp| Small {
            binary: body.contains(&0),
            body,
            validators: Validators::of(stamp),
        },
    )?;
    let (stamp, fresh);
    let validators = match &found {
        Found::Kept(s, small) => {
            stamp = *s;
            &small.validators
        }
        Found::NotKept(meta) => {
            stamp = Stamp::of(meta);
            fresh = Validators::of(&stamp);
            &fresh
        }
    };
    if not_modified(req, &validators.etag, stamp.mtime) {
        req.send(304, "Not Modified", validators.lines.as_bytes(), b"", true);
        return Ok(());
    }
    let headers = [
        b"Content-type: ",
        mime,
        b"\r\n",
        validators.lines.as_bytes(),
    ]
    .concat();
    match found {
        Found::Kept(_, small) if small.binary => req.send_binary(&headers, &small.body),
        Found::Kept(_, small) => req.send(200, "OK", &headers, &small.body, true),
        Found::NotKept(_) => {
            let file = File::open(path)?;
            req.send_file(200, "OK", &headers, &file, true);
        }
    }
    Ok(())
}

pub fn clear() {
    SMALL_FILES.clear();
}
