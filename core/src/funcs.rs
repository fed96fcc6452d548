//! The dialplan functions the module registers, as pure functions of the snapshot:
//! `PP_EACH_USER(template,exclude_mac)` and `PP_EACH_EXTENSION(mac,template_file)`.

use crate::args::separate_args;
use crate::host::{Host, Level};
use crate::model::{Phone, Snapshot};
use crate::template::Template;
use crate::vars::Vars;

/// Renders a template with one of a phone's variable lists. The module's renderer adds what
/// belongs to the request (SERVER, when the phone is the one being served).
pub type Render<'a> = dyn Fn(&Template, &Phone, &Vars) -> String + 'a;

/// Splits a function's argument string into its two arguments, Asterisk's way (the first is
/// scanned, so its double quotes are dropped; the second is the raw rest).
pub fn two_args(data: &str) -> (String, String) {
    let mut args = separate_args(data, ',', true, 2).into_iter();
    let first = args.next().unwrap_or_default();
    (first, args.next().unwrap_or_default())
}

/// `%{VAR}` in a `PP_EACH_USER` template stands for `${VAR}`: it is only substituted per user.
pub fn each_user_template(template: &str) -> String {
    template.replace("%{", "${")
}

/// The arguments of a `PP_EACH_USER` call.
pub struct EachUser {
    pub template: Template,
    pub exclude: String,
}

impl EachUser {
    pub fn parse(data: &str) -> EachUser {
        let (template, exclude) = two_args(data);
        EachUser {
            template: Template::parse(&each_user_template(&template)),
            exclude,
        }
    }

    /// Whether the phone with this MAC is left out (MACs compared without regard to case).
    pub fn excludes(&self, mac: &str) -> bool {
        !self.exclude.is_empty() && mac.eq_ignore_ascii_case(&self.exclude)
    }
}

/// Renders a `PP_EACH_USER` item for a phone, given its position in the configuration.
pub type RenderItem<'a> = dyn Fn(&Template, usize, &Phone) -> String + 'a;

/// The template rendered for every phone (with its first line), but the one whose MAC is
/// `exclude_mac` (compared without regard to case), in configuration order. `render` gets
/// each phone's position (from 0).
pub fn each_user(snap: &Snapshot, data: &str, render: &RenderItem) -> String {
    let call = EachUser::parse(data);
    let mut out = String::new();
    for (i, phone) in snap.phones.iter().enumerate() {
        if !call.excludes(&phone.mac) {
            out.push_str(&render(&call.template, i, phone));
        }
    }
    out
}

/// The template file rendered once for every line of the phone with that MAC.
/// `read` loads a template file by its name below `AST_DATA_DIR/phoneprov/`.
pub fn each_extension(
    snap: &Snapshot,
    data: &str,
    host: &dyn Host,
    read: &dyn Fn(&str) -> Result<std::sync::Arc<Template>, String>,
    render: &Render,
) -> String {
    let (mac, template) = two_args(data);
    if mac.is_empty() || template.is_empty() {
        host.log(
            Level::Warning,
            "PP_EACH_EXTENSION requires both a macaddress and template filename.",
        );
        return String::new();
    }
    let Some(phone) = snap.phone(&mac) else {
        host.log(
            Level::Warning,
            &format!("Could not find user with mac = '{mac}'"),
        );
        return String::new();
    };
    let template = match read(&template) {
        Ok(t) => t,
        Err(e) => {
            host.log(Level::Warning, &e);
            return String::new();
        }
    };
    phone
        .lines
        .iter()
        .map(|l| render(&template, phone, &l.vars))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{config, ext, FakeHost};
    use crate::model::Phone;

    fn snap(host: &FakeHost) -> Snapshot {
        let exts = [
            ext("p", &[("USERNAME", "a"), ("MAC", "AA"), ("PROFILE", "pol")]),
            ext("p", &[("USERNAME", "b"), ("MAC", "bb"), ("PROFILE", "pol")]),
            ext(
                "p",
                &[
                    ("USERNAME", "b2"),
                    ("MAC", "bb"),
                    ("PROFILE", "pol"),
                    ("LINE", "2"),
                ],
            ),
        ];
        Snapshot::build(config(), &exts, host)
    }

    #[test]
    fn argument_handling() {
        assert_eq!(two_args("a,b"), ("a".into(), "b".into()));
        assert_eq!(
            two_args(r#"<i n="%{X}"/>,${MAC}"#),
            ("<i n=%{X}/>".into(), "${MAC}".into())
        );
        assert_eq!(two_args(""), (String::new(), String::new()));
        assert_eq!(each_user_template("%{A}-%{B}%"), "${A}-${B}%");
    }

    #[test]
    fn each_user_excludes_case_insensitively() {
        let host = FakeHost::default();
        let s = snap(&host);
        let render = |t: &Template, i: usize, p: &Phone| {
            format!("{i}{}", host.substitute(t.text(), p.vars()))
        };
        assert_eq!(each_user(&s, "[%{USERNAME}]", &render), "0[a]1[b]");
        assert_eq!(each_user(&s, "[%{USERNAME}],aa", &render), "1[b]");
        assert_eq!(each_user(&s, "x", &render), "0x1x");
    }

    #[test]
    fn each_extension_renders_every_line() {
        let host = FakeHost::default();
        let s = snap(&host);
        host.logs.borrow_mut().clear();
        let read = |name: &str| -> Result<std::sync::Arc<Template>, String> {
            if name == "line.tpl" {
                Ok(Template::parse("<${LINE}:${USERNAME}>").into())
            } else {
                Err(format!("Could not load file: {name}"))
            }
        };
        let render = |t: &Template, p: &Phone, v: &Vars| {
            format!("{}{}", p.mac, host.substitute(t.text(), v))
        };
        let each = |data: &str| each_extension(&s, data, &host, &read, &render);
        assert_eq!(each("bb,line.tpl"), "bb<1:b>bb<2:b2>");
        assert_eq!(each("BB,line.tpl"), "");
        assert_eq!(each("bb,missing"), "");
        assert_eq!(each("bb"), "");
        assert_eq!(host.logs.borrow().len(), 3);
    }
}
