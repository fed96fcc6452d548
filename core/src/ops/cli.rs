//! Text of the CLI commands, in the C module's column formats.

use crate::model::snapshot::{Snapshot, Target};

/// printf's `%-W.Ws`, as the C module prints: cut to `w` bytes, then padded to `w` bytes.
fn col(out: &mut Vec<u8>, s: &[u8], w: usize) {
    let cut = &s[..s.len().min(w)];
    out.extend_from_slice(cut);
    out.resize(out.len() + (w - cut.len()), b' ');
}

fn row(out: &mut Vec<u8>, cells: &[(&[u8], usize)]) {
    for (i, (text, width)) in cells.iter().enumerate() {
        if i > 0 {
            // The C module's formats put two spaces before the last column.
            out.extend_from_slice(if i + 1 == cells.len() { b"  " } else { b" " });
        }
        col(out, text, *width);
    }
    out.push(b'\n');
}

fn static_row(out: &mut Vec<u8>, profile: &[u8], uri: &[u8], path: &[u8]) {
    row(out, &[(profile, 20), (uri, 40), (path, 30)]);
}

fn dynamic_row(out: &mut Vec<u8>, provider: &[u8], profile: &[u8], uri: &[u8], template: &[u8]) {
    row(
        out,
        &[(provider, 20), (profile, 20), (uri, 40), (template, 30)],
    );
}

/// `phoneprov show routes`, bytes as configured.
pub fn show_routes(snap: &Snapshot) -> Vec<u8> {
    let mut out = b"Static routes\n\n".to_vec();
    static_row(&mut out, b"Profile", b"Relative URI", b"Physical location");
    for r in snap.routes() {
        if let Target::Static { .. } = r.target {
            let res = snap.resolve(r.uri).expect("route table is consistent");
            static_row(&mut out, &res.profile.name, r.uri, &res.file.template);
        }
    }
    out.extend_from_slice(b"\nDynamic routes\n\n");
    dynamic_row(
        &mut out,
        b"Provider",
        b"Profile",
        b"Relative URI",
        b"Template",
    );
    for r in snap.routes() {
        if let Target::Dynamic { phone, .. } = r.target {
            let res = snap.resolve(r.uri).expect("route table is consistent");
            dynamic_row(
                &mut out,
                snap.phones[phone].provider.as_bytes(),
                &res.profile.name,
                r.uri,
                &res.file.template,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;
    use crate::model::snapshot::tests::{config, ext};

    #[test]
    fn columns_are_cut_and_padded() {
        let c = |s: &[u8], w| {
            let mut out = Vec::new();
            col(&mut out, s, w);
            out
        };
        assert_eq!(c(b"abc", 5), b"abc  ");
        assert_eq!(c(b"abcdef", 3), b"abc");
        assert_eq!(c("é".as_bytes(), 1), b"\xc3");
        assert_eq!(c(b"J\xfcrgen", 3), b"J\xfcr");
    }

    #[test]
    fn show_routes_lists_both_kinds() {
        let host = FakeHost::default();
        let exts = [ext(
            "sipusers",
            &[("USERNAME", "a"), ("MAC", "m1"), ("PROFILE", "pol")],
        )];
        let s = Snapshot::build(config(), &exts, &host);
        let text = String::from_utf8(show_routes(&s)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Static routes");
        assert_eq!(lines[2].len(), 20 + 1 + 40 + 2 + 30);
        assert!(lines[3].starts_with("pol                  fw.bin "));
        assert_eq!(lines[5], "Dynamic routes");
        assert!(lines[8].starts_with("sipusers             pol                  m1.cfg"));
        assert!(lines[8].trim_end().ends_with("phone.cfg"));
    }
}
