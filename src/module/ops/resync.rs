//! `phoneprov resync`: tells phones to fetch their files again, with a SIP NOTIFY sent by
//! res_pjsip_notify (its manager action `PJSIPNotify`, run inside Asterisk) to the
//! registered contacts of each phone's PJSIP endpoint: the USERNAME of its first line. Each
//! phone's outcome is reported; none is skipped silently.

use std::fmt::Write as _;

use crate::ffi::host::{function_exists, render};
use crate::ffi::manager::run_action;
use crate::module::serve::realtime::Lookup;
use crate::module::Module;
use phoneprov_core::config::vars::{self, Vars};
use phoneprov_core::model::snapshot::Phone;
use phoneprov_core::util::bytes::lossy;

const DEFAULT_EVENT: &[u8] = b"check-sync";

/// Which phones.
pub enum Selection<'a> {
    Mac(&'a [u8]),
    Profile(&'a [u8]),
    All,
}

enum Outcome {
    /// NOTIFY handed to res_pjsip_notify for this many registered contacts.
    Sent(usize),
    NoEndpoint,
    NotRegistered,
    Failed(String),
}

/// An endpoint or AOR name as a dialplan function argument: no character that would end
/// or split the argument.
fn plain_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b > 0x20 && b != 0x7f && !b",()${}[]\\\"'|".contains(&b))
}

/// Evaluates one dialplan function call (e.g. `PJSIP_AOR(a,contact)`).
fn function(call: &[u8]) -> Vec<u8> {
    let template = [b"${", call, b"}"].concat();
    render(&template, &Vars::new(), &[])
}

/// The registered contacts of `endpoint`, None when it is not a PJSIP endpoint, or when that
/// cannot be known (func_pjsip_endpoint / func_pjsip_aor not loaded): then Some(usize::MAX).
fn contacts(endpoint: &[u8]) -> Option<usize> {
    if !function_exists("PJSIP_ENDPOINT") || !function_exists("PJSIP_AOR") {
        return Some(usize::MAX);
    }
    if !plain_name(endpoint) {
        return None;
    }
    let aors = function(&[b"PJSIP_ENDPOINT(", endpoint, b",aors)"].concat());
    if aors.is_empty() {
        return None;
    }
    let count = aors
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|aor| plain_name(aor))
        .map(|aor| {
            let list = function(&[b"PJSIP_AOR(", aor, b",contact)"].concat());
            list.split(|&b| b == b',')
                .filter(|c| !c.trim_ascii().is_empty())
                .count()
        })
        .sum();
    Some(count)
}

fn notify(phone: &Phone) -> (Vec<u8>, Outcome) {
    let endpoint = phone
        .vars()
        .find(vars::USERNAME)
        .unwrap_or_default()
        .to_vec();
    let event = phone
        .profile
        .resync_event
        .as_deref()
        .unwrap_or(DEFAULT_EVENT);
    let outcome = match contacts(&endpoint) {
        None => Outcome::NoEndpoint,
        Some(0) => Outcome::NotRegistered,
        Some(n) => {
            let variable = [b"Event=", event].concat();
            let answer = run_action(
                "PJSIPNotify",
                &[("Endpoint", &endpoint), ("Variable", &variable)],
            )
            .unwrap_or_default();
            let answer = lossy(&answer);
            if answer.contains("Response: Success") {
                Outcome::Sent(n)
            } else {
                let why = answer
                    .lines()
                    .find_map(|l| l.strip_prefix("Message: "))
                    .unwrap_or("no answer from PJSIPNotify (is res_pjsip_notify loaded?)")
                    .trim()
                    .to_owned();
                Outcome::Failed(why)
            }
        }
    };
    (endpoint, outcome)
}

/// Notifies the selected phones; the report, one line per phone and a summary. Err when
/// the selection names no phone. A MAC no phone in memory has is looked up in the database
/// in dynamic lookup mode (profiles and "all" name the phones in memory only: the database
/// may hold millions).
pub fn resync(m: &Module, selection: Selection) -> Result<String, String> {
    let snap = m.registry.current().ok_or("res_phoneprov is not running")?;
    let mut phones: Vec<&Phone> = snap
        .phones
        .iter()
        .filter(|p| match selection {
            Selection::Mac(mac) => p.mac().eq_ignore_ascii_case(mac),
            Selection::Profile(name) => p.profile.name == name,
            Selection::All => true,
        })
        .collect();
    let found;
    if let (true, Selection::Mac(mac)) = (phones.is_empty(), &selection) {
        match m.realtime.by_mac(&m.users, &snap, mac) {
            Lookup::Found(phone) => {
                found = phone;
                phones.push(&found.phone);
            }
            Lookup::NotFound => {}
            Lookup::Unavailable => {
                return Err(format!(
                    "No phone with MAC '{}' in memory, and the realtime database does not answer.",
                    lossy(mac)
                ))
            }
        }
    }
    if phones.is_empty() {
        return Err(match selection {
            Selection::Mac(mac) => format!("No phone with MAC '{}'.", lossy(mac)),
            Selection::Profile(name) => format!("No phone uses profile '{}'.", lossy(name)),
            Selection::All => "No phones.".to_owned(),
        });
    }
    let mut out = String::new();
    let (mut sent, mut missing) = (0, 0);
    for phone in phones {
        let (endpoint, outcome) = notify(phone);
        let what = match outcome {
            Outcome::Sent(usize::MAX) => {
                sent += 1;
                "NOTIFY sent (contacts unknown: func_pjsip_aor not loaded)".to_owned()
            }
            Outcome::Sent(n) => {
                sent += 1;
                format!("NOTIFY sent to {n} contact(s)")
            }
            Outcome::NoEndpoint => {
                missing += 1;
                "no PJSIP endpoint of that name".to_owned()
            }
            Outcome::NotRegistered => {
                missing += 1;
                "not registered".to_owned()
            }
            Outcome::Failed(why) => {
                missing += 1;
                format!("failed: {why}")
            }
        };
        let _ = writeln!(
            out,
            "{}  endpoint '{}': {what}",
            lossy(phone.mac()),
            lossy(&endpoint)
        );
    }
    let _ = writeln!(out, "{sent} notified, {missing} not.");
    Ok(out)
}
