//! Upgrading in place: unload really unloads (the library leaves the process), a new build
//! loads over the old one, unload waits for requests in flight and refuses while a slow client
//! is still downloading, and a request whose handler panics is answered 500.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{project_dir, Asterisk, Builder, Impl};

const PHONEPROV: &str = "\
[general]
default_profile = p

[p]
static_file => fw.bin
static_file => big.bin
${MAC}.cfg => t.cfg
${MAC}-full.cfg => full.cfg
dir.xml => dir.xml
";

const BIG: usize = 100 << 20;
const MARK: &[u8] = b"HTTP Phone Provisioning (Rust, ";

fn builder(big: bool) -> Builder {
    let b = Builder::new(Impl::Rust)
        .conf("phoneprov.conf", PHONEPROV)
        .conf(
            "users.conf",
            "[a]\nusername = a\nautoprov = yes\nmacaddress = 000000000001\n",
        )
        .file("fw.bin", "firmware")
        .file("t.cfg", "${USERNAME}")
        // Not plain: Asterisk renders it, calling our dialplan functions.
        .file("full.cfg", "${MAC:0:4} ${PP_XML(<${USERNAME}>)}")
        .file("dir.xml", "${PP_EACH_USER(%{USERNAME}|)}");
    if big {
        b.file("big.bin", vec![7u8; BIG])
    } else {
        b.file("big.bin", "small")
    }
}

/// Static, dynamic (rendered in Rust and by Asterisk, with our functions) and 404.
fn serves(ast: &Asterisk) {
    let r = ast.get("/phoneprov/fw.bin");
    assert_eq!((r.status, r.text().as_str()), (200, "firmware"));
    assert_eq!(ast.get("/phoneprov/000000000001.cfg").text(), "a");
    assert_eq!(
        ast.get("/phoneprov/000000000001-full.cfg").text(),
        "0000 &lt;a&gt;"
    );
    assert_eq!(ast.get("/phoneprov/dir.xml").text(), "a|");
    assert_eq!(ast.get("/phoneprov/nothing-here").status, 404);
}

/// The 8 hex digits after the description's prefix, in a module file or a CLI answer.
fn build_id_in(bytes: &[u8]) -> Option<String> {
    let at = bytes.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let id = bytes.get(at..at + 8)?;
    id.iter()
        .all(u8::is_ascii_hexdigit)
        .then(|| String::from_utf8_lossy(id).into_owned())
}

fn file_build_id(path: &Path) -> String {
    let so = std::fs::read(path).expect("module file");
    build_id_in(&so).unwrap_or_else(|| panic!("no build id in {}", path.display()))
}

fn shown_build_id(ast: &Asterisk) -> String {
    let show = ast.cli("module show like phoneprov");
    build_id_in(show.as_bytes()).unwrap_or_else(|| panic!("no build id in:\n{show}"))
}

/// A second, genuinely different build of the module: with the `failpoints` feature, in a
/// target directory of its own (so target/release stays the shipped build). Built once per
/// test binary.
fn failpoints_module() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = project_dir().join("target/failpoints");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let out = Command::new(cargo)
                .current_dir(project_dir())
                .args([
                    "build",
                    "--release",
                    "--features",
                    "failpoints",
                    "--target-dir",
                ])
                .arg(&target)
                .output()
                .expect("run cargo");
            assert!(
                out.status.success(),
                "failpoints build failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            target.join("release/libres_phoneprov.so")
        })
        .clone()
}

/// Polls (up to 5 s) until the module is no longer mapped into Asterisk.
fn unmapped(ast: &Asterisk) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while ast.module_mapped() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Puts `new` in place of the instance's module file. A new file (renamed over the old
/// name), never a write into the old one, which may still be mapped.
fn install(ast: &Asterisk, new: &Path) {
    let dest = ast.module_file();
    let staged = dest.with_extension("so.new");
    std::fs::copy(new, &staged).expect("copy the new build");
    std::fs::rename(&staged, &dest).expect("install the new build");
}

#[test]
fn unload_unmaps_the_library_and_load_serves_again() {
    let mut ast = builder(false).start();
    assert!(ast.module_mapped());
    serves(&ast);
    assert!(ast
        .cli("module reload res_phoneprov.so")
        .contains("reloaded successfully"));
    assert!(ast.cli("phoneprov show routes").contains("dir.xml"));
    assert!(ast
        .cli("dialplan eval function PP_XML(<a>)")
        .contains("&lt;a&gt;"));
    serves(&ast);

    let out = ast.cli("module unload res_phoneprov.so");
    assert!(out.contains("Unloaded res_phoneprov.so"), "{out}");
    assert!(
        unmapped(&ast),
        "res_phoneprov.so is still mapped after unload (a thread-local destructor \
         registered from it pins it):\n{}",
        std::fs::read_to_string(format!("/proc/{}/maps", ast.pid())).unwrap_or_default()
    );
    assert_eq!(ast.get("/phoneprov/fw.bin").status, 404);

    assert!(ast
        .cli("module load res_phoneprov.so")
        .contains("Loaded res_phoneprov.so"));
    assert!(ast.module_mapped());
    serves(&ast);
    ast.stop();
}

#[test]
fn upgrade_in_place_runs_the_new_build() {
    let new = failpoints_module();
    let mut ast = builder(false).start();
    let old_id = shown_build_id(&ast);
    assert_eq!(old_id, file_build_id(&common::our_module()));
    let new_id = file_build_id(&new);
    assert_ne!(old_id, new_id, "the two builds must differ");
    serves(&ast);
    // The shipped build knows no failpoint.
    assert_eq!(ast.get("/phoneprov/failpoint/panic").status, 404);

    assert!(ast
        .cli("module unload res_phoneprov.so")
        .contains("Unloaded"));
    assert!(unmapped(&ast), "the old build is still mapped");
    install(&ast, &new);
    assert!(ast
        .cli("module load res_phoneprov.so")
        .contains("Loaded res_phoneprov.so"));

    assert_eq!(shown_build_id(&ast), new_id);
    serves(&ast);
    assert_eq!(ast.get("/phoneprov/failpoint/panic").status, 500);

    // Nor does a panic leave anything behind that keeps the library mapped.
    assert!(ast
        .cli("module unload res_phoneprov.so")
        .contains("Unloaded"));
    assert!(unmapped(&ast), "still mapped after a panic");
    ast.stop();
}

/// A client downloading `path`, reading `chunk` bytes then pausing, until it has everything,
/// is told to stop, or 90 s have passed. Joins to the bytes of body it read.
struct Download {
    stop: Arc<AtomicBool>,
    body: Arc<AtomicU64>,
    thread: JoinHandle<std::io::Result<(u16, u64)>>,
}

impl Download {
    fn start(addr: SocketAddr, path: &str, chunk: usize, pause: Duration) -> Download {
        let stop = Arc::new(AtomicBool::new(false));
        let body = Arc::new(AtomicU64::new(0));
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let (st, bd) = (stop.clone(), body.clone());
        let thread = std::thread::spawn(move || {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            s.write_all(request.as_bytes())?;
            let deadline = Instant::now() + Duration::from_secs(90);
            let mut head = Vec::new();
            let mut buf = vec![0u8; chunk];
            let mut status = 0;
            let mut total = 0u64;
            while !st.load(Ordering::Acquire) && Instant::now() < deadline {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                if status == 0 {
                    head.extend_from_slice(&buf[..n]);
                    if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        status = common::parse_response(&head)?.status;
                        total = (head.len() - end - 4) as u64;
                    }
                } else {
                    total += n as u64;
                }
                bd.store(total, Ordering::Release);
                std::thread::sleep(pause);
            }
            Ok((status, total))
        });
        Download { stop, body, thread }
    }

    /// Waits (up to 20 s) until some of the body arrived: the request is inside the handler.
    fn wait_started(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.body.load(Ordering::Acquire) == 0 {
            assert!(!self.thread.is_finished(), "the download ended early");
            assert!(Instant::now() < deadline, "the download did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Disconnects (when still reading) and returns the status and body length read.
    fn finish(self) -> (u16, u64) {
        self.stop.store(true, Ordering::Release);
        self.join()
    }

    /// Waits for the end of the download: the status and body length read.
    fn join(self) -> (u16, u64) {
        self.thread
            .join()
            .expect("download thread")
            .expect("download")
    }
}

#[test]
fn unload_waits_for_a_download_and_refuses_while_a_slow_one_runs() {
    let mut ast = builder(true).start();

    // A download that ends within the wait: unload waits for it, and it is not cut short.
    let quick = Download::start(
        ast.addr(),
        "/phoneprov/big.bin",
        1 << 20,
        Duration::from_millis(5),
    );
    quick.wait_started();
    let out = ast.cli("module unload res_phoneprov.so");
    assert_eq!(quick.join(), (200, BIG as u64), "unload: {out}");
    if !out.contains("Unloaded") {
        // Slower than the 5 s wait on a busy machine: refused, as below.
        assert!(out.contains("Unable to unload"), "{out}");
        assert!(ast
            .cli("module unload res_phoneprov.so")
            .contains("Unloaded"));
    }
    assert!(ast.cli("module load res_phoneprov.so").contains("Loaded"));

    // A client far too slow to finish in the wait (at most 0.8 MB/s for 100 MB): unload is
    // refused, and the module goes on answering.
    let slow = Download::start(
        ast.addr(),
        "/phoneprov/big.bin",
        16 << 10,
        Duration::from_millis(20),
    );
    slow.wait_started();
    let out = ast.cli("module unload res_phoneprov.so");
    assert!(
        out.contains("Unable to unload resource res_phoneprov.so"),
        "{out}"
    );
    assert!(ast.log_has("Unload refused: 1 HTTP request(s) still being answered"));
    assert!(ast.log_has("Firm unload failed for res_phoneprov.so"));
    assert!(ast.cli("module show like phoneprov").contains("Running"));
    assert!(ast.module_mapped());
    serves(&ast);
    assert!(ast.cli("phoneprov show routes").contains("big.bin"));
    assert!(
        !slow.thread.is_finished(),
        "the slow download must still run"
    );

    // Once the client is gone, unload succeeds.
    let (status, got) = slow.finish();
    assert_eq!(status, 200);
    assert!(got < BIG as u64);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = ast.cli("module unload res_phoneprov.so");
        if out.contains("Unloaded") {
            break;
        }
        assert!(Instant::now() < deadline, "unload still refused: {out}");
    }
    assert!(ast.cli("module load res_phoneprov.so").contains("Loaded"));
    serves(&ast);
    ast.stop();
}

#[test]
fn a_panic_in_the_handler_is_answered_500() {
    let mut ast = builder(false).our_module_file(&failpoints_module()).start();
    for _ in 0..10 {
        let r = ast.get("/phoneprov/failpoint/panic");
        assert_eq!(r.status, 500, "{}", r.text());
        assert!(r.text().contains("Internal Error"), "{}", r.text());
    }
    assert!(ast.log_has("internal error in HTTP request: failpoint: panic in the HTTP handler"));
    // Our panic hook says where, through Asterisk's log rather than its stderr.
    assert!(ast.log_has("panic at src/module/serve/http.rs:"));
    // A handler that returns without answering gets the same page from the glue.
    assert_eq!(ast.get("/phoneprov/failpoint/silent").status, 500);
    assert!(ast.log_has("failpoint: the HTTP handler returns without answering"));
    serves(&ast);
    ast.stop();
}
