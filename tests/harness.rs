//! The harness itself: an Asterisk that dies during a test, or at shutdown, fails the test.

mod common;

use common::{Builder, Impl};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::time::{Duration, Instant};

fn start() -> common::Asterisk {
    Builder::new(Impl::Rust)
        .conf(
            "phoneprov.conf",
            "[general]\ndefault_profile = p\n\n[p]\nstatic_file => a.txt\n",
        )
        .file("a.txt", "a")
        .start()
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success(), "kill {sig} {pid}");
}

#[test]
fn a_normal_stop_is_no_problem() {
    let mut ast = start();
    assert_eq!(ast.get("/phoneprov/a.txt").status, 200);
    let ending = ast.stop_unchecked();
    assert!(ending.was_running && !ending.killed, "{ending:?}");
    assert_eq!(ending.problem(), None, "{}", ast.log_tail());
}

#[test]
fn an_asterisk_that_crashed_during_the_test_fails_it() {
    let mut ast = start();
    signal(ast.pid(), "-SEGV");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ast.is_running() {
        assert!(Instant::now() < deadline, "Asterisk survived SIGSEGV");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(ast)));
    let message = dropped.expect_err("dropping a dead Asterisk passed");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("had died before the test stopped it") && message.contains("SIGSEGV"),
        "{message}"
    );
    assert!(
        message.contains("last lines of the Asterisk log"),
        "{message}"
    );
}

#[test]
fn a_process_taken_over_is_the_tests_own() {
    let mut ast = start();
    let mut child = ast.take_process();
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(ast.stop_unchecked().status, None);
}

#[test]
fn a_signal_or_a_failure_code_at_shutdown_is_a_problem() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;
    let at_stop = |raw| common::Ending {
        was_running: true,
        killed: false,
        status: Some(ExitStatus::from_raw(raw)),
    };
    assert_eq!(at_stop(0).problem(), None);
    // Wait statuses: SIGSEGV, SIGABRT with a core dump, exit code 1.
    for raw in [11, 6 | 0x80, 1 << 8] {
        let problem = at_stop(raw).problem();
        assert!(
            problem
                .as_deref()
                .is_some_and(|p| p.contains("did not exit normally")),
            "{raw:#x}: {problem:?}"
        );
    }
}
