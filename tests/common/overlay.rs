//! The sandbox seen through an overlay: writes go to a directory of the test's own, the
//! sandbox itself is never changed (package and quick-start tests).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

/// The sandbox seen through an overlay: writes go to a directory of the test's own.
pub struct Overlay {
    dir: PathBuf,
}

impl Overlay {
    pub fn new() -> Option<Overlay> {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pp-overlay-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for d in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(d)).expect("overlay dir");
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            super::sandbox_root().display(),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        let mounted = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(dir.join("merged"))
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let _ = fs::remove_dir_all(&dir);
            return None;
        }
        Some(Overlay { dir })
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("merged")
    }

    pub fn chroot(&self, args: &[&str]) -> Output {
        Command::new("chroot")
            .arg(self.root())
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("chroot")
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.join("merged")).status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
