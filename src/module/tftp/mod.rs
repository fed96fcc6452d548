//! TFTP for the phones that boot from it (`[general] tftp = yes`): the same routes and rules
//! as HTTP, from the same snapshot. `listener` has the sockets and threads, `files` what a
//! request is answered with.

pub mod files;
pub mod listener;

use std::sync::Mutex;

use crate::ffi::log;
use crate::module::instance;
use files::Served;
use listener::{Ask, Handler, Listener, Refusal};
use phoneprov_core::config::tftp::TftpServer;
use phoneprov_core::tftp::packet::ErrorCode;
use phoneprov_core::tftp::transfer::Source;
use phoneprov_core::util::lock::lock;

/// The TFTP server, while `[general] tftp = yes`.
#[derive(Default)]
pub struct Tftp {
    running: Mutex<Option<(TftpServer, Listener)>>,
}

/// Requests find the module as other callbacks do: each call takes it anew (a transfer
/// thread never keeps it, so unload's joining of these threads cannot wait on itself).
struct ModuleFiles;

impl Handler for ModuleFiles {
    type Served = Served;

    fn answer(&self, ask: &Ask<'_>) -> Result<(Source, Served), Refusal> {
        let m = instance().ok_or((ErrorCode::NotDefined, "Not serving"))?;
        files::answer(&m, ask)
    }

    fn finished(&self, ask: &Ask<'_>, served: Served, acked: Option<usize>) {
        if let Some(m) = instance() {
            files::finished(&m, ask.peer, &served, acked);
        }
    }
}

impl Tftp {
    /// Serves as `server` says (load and reload): started, stopped, or rebound only when its
    /// options changed (transfers running on an unchanged server go on). A port that cannot
    /// be bound is an ERROR; HTTP is served all the same.
    pub fn configure(&self, server: Option<&TftpServer>) {
        let mut running = lock(&self.running);
        if running.as_ref().map(|(s, _)| s) == server {
            return;
        }
        // The old one stops (its threads joined) before the new one binds its port.
        if let Some((_, old)) = running.take() {
            drop(old);
            log::notice!("phoneprov: TFTP server stopped");
        }
        let Some(server) = server else {
            return;
        };
        match listener::start(
            server.bindaddr,
            server.port,
            server.max_transfers,
            ModuleFiles,
        ) {
            Ok(l) => {
                log::notice!("phoneprov: TFTP server listening on {}", l.addr);
                *running = Some((server.clone(), l));
            }
            Err(e) => log::error!(
                "phoneprov: the TFTP server cannot listen on {}:{}: {e}; not serving TFTP \
                 (HTTP is served as before). Fix tftp_bindaddr/tftp_port and reload.",
                server
                    .bindaddr
                    .map_or_else(|| "all addresses".to_owned(), |ip| ip.to_string()),
                server.port
            ),
        }
    }

    /// Stops serving and joins every thread (unload, before the library can be unmapped).
    pub fn stop(&self) {
        let old = lock(&self.running).take();
        drop(old);
    }
}

impl Drop for Tftp {
    fn drop(&mut self) {
        self.stop();
    }
}
