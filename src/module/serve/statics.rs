//! Static files: validators (ETag, Last-Modified) and 304 answers, since phones poll their
//! firmware on every boot; small files from memory (bytes as they are, whatever their
//! encoding, NUL bytes included), larger ones streamed from their descriptor.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::ffi::http::Request;
use crate::module::render::filecache::{FileCache, Found, Stamp};
use crate::module::render::watch::Watch;
use crate::module::serve::answer::{Answer, Body, Bytes};
use phoneprov_core::config::profile::FileEntry;
use phoneprov_core::http::httpdate;

/// Files up to this size without NUL bytes are answered from memory.
const SMALL: u64 = 64 * 1024;

/// A small file's contents, whether it holds a NUL byte (Asterisk writes string bodies with
/// "%s", so those are framed apart: see `Request::send_binary`), and its
/// validators, written once rather than for each of the fleet's fetches.
struct Small {
    body: Arc<[u8]>,
    binary: bool,
    validators: Validators,
}

/// A file's ETag, and its ETag and Last-Modified header lines.
struct Validators {
    etag: String,
    lines: Arc<[u8]>,
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
        Validators {
            etag,
            lines: lines.into_bytes().into(),
        }
    }
}

fn not_modified(req: &Request, etag: &str, mtime: i64) -> bool {
    match req.header("If-None-Match") {
        Some(tags) => std::str::from_utf8(tags).is_ok_and(|t| httpdate::etag_matches(t, etag)),
        None => req
            .header("If-Modified-Since")
            .and_then(|d| httpdate::parse(std::str::from_utf8(d).ok()?))
            .is_some_and(|since| mtime <= since),
    }
}

/// Static files, the small ones kept in memory.
pub struct Statics(FileCache<Small>);

impl Statics {
    pub fn new(watch: Arc<Watch>) -> Statics {
        Statics(FileCache::new(watch))
    }

    /// The answer with the file at `path`, served as `file`; Err says why it could not be
    /// read (the caller logs it and answers 500).
    pub fn serve(
        &self,
        req: &Request,
        path: &Path,
        file: &FileEntry,
    ) -> std::io::Result<Answer<'static>> {
        let found = self.0.get(
            path,
            |meta| meta.len() <= SMALL,
            |body, stamp| Small {
                binary: body.contains(&0),
                body: body.into(),
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
        let lines = Bytes::Shared(validators.lines.clone());
        if not_modified(req, &validators.etag, stamp.mtime) {
            return Ok(Answer {
                status: 304,
                title: "Not Modified",
                head: [lines, Bytes::Borrowed(b"")],
                body: Body::NotModified,
                cacheable: true,
            });
        }
        let body = match found {
            Found::Kept(_, small) if small.binary => {
                Body::Binary(Bytes::Shared(small.body.clone()))
            }
            Found::Kept(_, small) => Body::Memory(Bytes::Shared(small.body.clone())),
            Found::NotKept(_) => Body::File(File::open(path)?),
        };
        Ok(Answer {
            status: 200,
            title: "OK",
            head: [Bytes::Shared(file.content_type.clone()), lines],
            body,
            cacheable: true,
        })
    }
}
