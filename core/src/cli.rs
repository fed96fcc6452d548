//! Text of the CLI commands, in the C module's column formats.

use crate::model::{Snapshot, Target};

/// printf's `%-W.Ws`: cut to `w` bytes (on a character boundary), then pad to `w`.
fn col(s: &str, w: usize) -> String {
    let mut end = s.len().min(w);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:<w$}", &s[..end])
}

fn static_row(profile: &str, uri: &str, path: &str) -> String {
    format!("{} {}  {}\n", col(profile, 20), col(uri, 40), col(path, 30))
}

fn dynamic_row(provider: &str, profile: &str, uri: &str, template: &str) -> String {
    format!(
        "{} {} {}  {}\n",
        col(provider, 20),
        col(profile, 20),
        col(uri, 40),
        col(template, 30)
    )
}

/// `phoneprov show routes`.
pub fn show_routes(snap: &Snapshot) -> String {
    let mut out = String::from("Static routes\n\n");
    out += &static_row("Profile", "Relative URI", "Physical location");
    for r in &snap.routes {
        if let Target::Static { .. } = r.target {
            let res = snap.resolve(&r.uri).expect("route table is consistent");
            out += &static_row(&res.profile.name, &r.uri, &res.file.template);
        }
    }
    out += "\nDynamic routes\n\n";
    out += &dynamic_row("Provider", "Profile", "Relative URI", "Template");
    for r in &snap.routes {
        if let Target::Dynamic { phone, .. } = r.target {
            let res = snap.resolve(&r.uri).expect("route table is consistent");
            out += &dynamic_row(
                &snap.phones[phone].provider,
                &res.profile.name,
                &r.uri,
                &res.file.template,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{config, ext, FakeHost};

    #[test]
    fn columns_are_cut_and_padded() {
        assert_eq!(col("abc", 5), "abc  ");
        assert_eq!(col("abcdef", 3), "abc");
        assert_eq!(col("é", 1), " ");
    }

    #[test]
    fn show_routes_lists_both_kinds() {
        let host = FakeHost::default();
        let exts = [ext(
            "sipusers",
            &[("USERNAME", "a"), ("MAC", "m1"), ("PROFILE", "pol")],
        )];
        let s = Snapshot::build(config(), &exts, &host);
        let text = show_routes(&s);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Static routes");
        assert_eq!(lines[2].len(), 20 + 1 + 40 + 2 + 30);
        assert!(lines[3].starts_with("pol                  fw.bin "));
        assert_eq!(lines[5], "Dynamic routes");
        assert!(lines[8].starts_with("sipusers             pol                  m1.cfg"));
        assert!(lines[8].trim_end().ends_with("phone.cfg"));
    }
}
