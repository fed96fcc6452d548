//! The dialplan functions the module registers, as pure functions of the snapshot:
//! `PP_EACH_USER(template,exclude_mac)` and `PP_EACH_EXTENSION(mac,template_file)`.

use crate::config::vars::Vars;
use crate::host::{Host, Level};
use crate::model::snapshot::{Phone, Snapshot};
use crate::render::template::Template;
use crate::util::args::separate_args;
use crate::util::bytes::{lossy, replace};

/// Renders a template with one of a phone's variable lists. The module's renderer adds what
/// belongs to the request (SERVER, when the phone is the one being served).
pub type Render<'a> = dyn Fn(&Template, &Phone, &Vars) -> Vec<u8> + 'a;

/// Splits a function's argument string into its two arguments, Asterisk's way (the first is
/// scanned, so its double quotes are dropped; the second is the raw rest).
pub fn two_args(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut args = separate_args(data, b',', true, 2).into_iter();
    let first = args.next().unwrap_or_default();
    (first, args.next().unwrap_or_default())
}

/// `%{VAR}` in a `PP_EACH_USER` template stands for `${VAR}`: it is only substituted per user.
pub fn each_user_template(template: &[u8]) -> Vec<u8> {
    replace(template, b"%{", b"${")
}

/// The arguments of a `PP_EACH_USER` call.
pub struct EachUser {
    pub template: Template,
    pub exclude: Vec<u8>,
}

impl EachUser {
    pub fn parse(data: &[u8]) -> EachUser {
        let (template, exclude) = two_args(data);
        EachUser {
            template: Template::parse(each_user_template(&template)),
            exclude,
        }
    }

    /// Whether the phone with this MAC is left out (MACs compared without regard to case).
    pub fn excludes(&self, mac: &[u8]) -> bool {
        !self.exclude.is_empty() && mac.eq_ignore_ascii_case(&self.exclude)
    }
}

/// Renders a `PP_EACH_USER` item for a phone, given its position in the configuration.
/// Reads a template file named in PP_EACH_EXTENSION; Err says why it cannot.
pub type ReadTemplate<'a> = dyn Fn(&[u8]) -> Result<std::sync::Arc<Template>, String> + 'a;

pub type RenderItem<'a> = dyn Fn(&Template, usize, &Phone) -> Vec<u8> + 'a;

/// The template rendered for every phone (with its first line), but the one whose MAC is
/// `exclude_mac` (compared without regard to case), in configuration order. `render` gets
/// each phone's position (from 0).
pub fn each_user(snap: &Snapshot, data: &[u8], render: &RenderItem) -> Vec<u8> {
    let call = EachUser::parse(data);
    let mut out = Vec::new();
    for (i, phone) in snap.phones.iter().enumerate() {
        if !call.excludes(phone.mac()) {
            out.extend_from_slice(&render(&call.template, i, phone));
        }
    }
    out
}

/// The template file rendered once for every line of the phone with that MAC.
/// `read` loads a template file by its name below `AST_DATA_DIR/phoneprov/`.
/// `find` gives the phone of a MAC: the snapshot's, or one served from elsewhere (realtime).
pub fn each_extension<'a>(
    find: &dyn Fn(&[u8]) -> Option<&'a Phone>,
    data: &[u8],
    host: &dyn Host,
    read: &ReadTemplate,
    render: &Render,
) -> Vec<u8> {
    let (mac, template) = two_args(data);
    if mac.is_empty() || template.is_empty() {
        host.log(
            Level::Warning,
            "PP_EACH_EXTENSION requires both a macaddress and template filename.",
        );
        return Vec::new();
    }
    let Some(phone) = find(&mac) else {
        host.log(
            Level::Warning,
            &format!("Could not find user with mac = '{}'", lossy(&mac)),
        );
        return Vec::new();
    };
    let template = match read(&template) {
        Ok(t) => t,
        Err(e) => {
            host.log(Level::Warning, &e);
            return Vec::new();
        }
    };
    phone
        .lines()
        .iter()
        .flat_map(|l| render(&template, phone, &l.vars))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fake::FakeHost;
    use crate::model::snapshot::tests::{config, ext};
    use crate::model::snapshot::Phone;

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
        assert_eq!(two_args(b"a,b"), (b"a".to_vec(), b"b".to_vec()));
        assert_eq!(
            two_args(br#"<i n="%{X}"/>,${MAC}"#),
            (b"<i n=%{X}/>".to_vec(), b"${MAC}".to_vec())
        );
        assert_eq!(two_args(b""), (Vec::new(), Vec::new()));
        assert_eq!(each_user_template(b"%{A}-%{B}%"), b"${A}-${B}%");
    }

    #[test]
    fn each_user_excludes_case_insensitively() {
        let host = FakeHost::default();
        let s = snap(&host);
        let render = |t: &Template, i: usize, p: &Phone| {
            [
                i.to_string().into_bytes(),
                host.substitute(t.text(), p.vars()),
            ]
            .concat()
        };
        assert_eq!(each_user(&s, b"[%{USERNAME}]", &render), b"0[a]1[b]");
        assert_eq!(each_user(&s, b"[%{USERNAME}],aa", &render), b"1[b]");
        assert_eq!(each_user(&s, b"x", &render), b"0x1x");
    }

    #[test]
    fn each_extension_renders_every_line() {
        let host = FakeHost::default();
        let s = snap(&host);
        host.logs.borrow_mut().clear();
        let read = |name: &[u8]| -> Result<std::sync::Arc<Template>, String> {
            if name == b"line.tpl" {
                Ok(Template::parse("<${LINE}:${USERNAME}>").into())
            } else {
                Err(format!("Could not load file: {}", lossy(name)))
            }
        };
        let render = |t: &Template, p: &Phone, v: &Vars| {
            [p.mac().to_vec(), host.substitute(t.text(), v)].concat()
        };
        let find = |mac: &[u8]| s.phone(mac);
        let each = |data: &str| each_extension(&find, data.as_bytes(), &host, &read, &render);
        assert_eq!(each("bb,line.tpl"), b"bb<1:b>bb<2:b2>");
        assert_eq!(each("BB,line.tpl"), b"");
        assert_eq!(each("bb,missing"), b"");
        assert_eq!(each("bb"), b"");
        assert_eq!(host.logs.borrow().len(), 3);
    }
}
