//! Issue 12, item 5: the Snom sample's busy-lamp keys are XML definitions (one per other
//! phone, through PP_EACH_USER), served by real Asterisk with hostile names, and checked
//! against the structure Snom documents for XML definitions (the seed
//! `004_949e2f7e591f6db2.txt`, "XML Definitions Syntax"): `<general type>`, an
//! `<initialization>` of `state`/`variable`/`array`/`identity`/`reference`, a
//! `<subscription>` to the dialog event, `<NotifyParsingRules>` whose levels translate
//! NOTIFY bodies into states (the states the phone's LED settings name), and an `<action>`
//! tree with what a press does in each state.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{digest, Builder, Impl};
use quick_xml::events::{BytesStart, Event};

/// An element: name, attributes (entities resolved), children, text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> &str {
        self.attrs
            .get(name)
            .unwrap_or_else(|| panic!("<{}> has no {name}: {:?}", self.name, self.attrs))
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn walk<'a>(&'a self, out: &mut Vec<&'a Element>) {
        out.push(self);
        for c in &self.children {
            c.walk(out);
        }
    }
}

fn entity(name: &str) -> String {
    match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        n if n.starts_with("#x") => char::from_u32(u32::from_str_radix(&n[2..], 16).unwrap())
            .unwrap()
            .to_string(),
        n if n.starts_with('#') => char::from_u32(n[1..].parse().unwrap()).unwrap().to_string(),
        other => panic!("unknown entity {other}"),
    }
}

fn element(e: &BytesStart) -> Element {
    let mut el = Element {
        name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
        ..Element::default()
    };
    for a in e.attributes() {
        let a = a.expect("well-formed attribute");
        let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
        let value = a.unescape_value().expect("attribute value").into_owned();
        assert!(
            el.attrs.insert(key.clone(), value).is_none(),
            "duplicate attribute {key}"
        );
    }
    el
}

/// Parses a well-formed document (panics otherwise) into its root element.
fn parse(xml: &str) -> Element {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    loop {
        match r
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"))
        {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => stack.last_mut().unwrap().children.push(element(&e)),
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().expect("balanced").children.push(done);
            }
            Event::Text(t) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&t.decode().unwrap()),
            Event::GeneralRef(g) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&entity(&g.decode().unwrap())),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut top = stack.pop().unwrap();
    assert_eq!(top.children.len(), 1, "one root element");
    top.children.pop().unwrap()
}

/// `$(name)` placeholders in a value.
fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("$(") {
        let end = rest[at..].find(')').expect("closed placeholder") + at;
        out.push(rest[at + 2..end].to_owned());
        rest = &rest[end + 1..];
    }
    out
}

/// The attributes an element of an XML definition may have and must have, by the seed:
/// (allowed, required).
fn attribute_rules(path: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match path {
        "general" => (&["type", "translation_key", "identity"], &["type"]),
        "general/replaces" => (&["id", "type"], &[]),
        "initialization/state" => (&["value"], &["value"]),
        "initialization/variable" => (&["name", "value", "translate"], &["name", "value"]),
        "initialization/array" => (
            &["name", "value", "separator", "translate"],
            &["name", "value"],
        ),
        "initialization/identity" => (&["value"], &["value"]),
        "initialization/reference" => (&["name", "module", "id"], &["name", "module", "id"]),
        "subscription" => (
            &["type", "to", "for", "expiry", "identity"],
            &["type", "to", "for"],
        ),
        "NotifyParsingRules" => (&["type", "id", "state"], &["type"]),
        "action/invite" => (
            &[
                "target",
                "when",
                "states",
                "request_uri",
                "replaces",
                "context",
                "id",
            ],
            &["target", "when"],
        ),
        _ => return None,
    })
}

fn check_definition(def: &Element, display: &str, username: &str) {
    // The sections the seed documents, in that order, each once (subscription may repeat).
    let names: Vec<&str> = def.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "general",
            "initialization",
            "subscription",
            "NotifyParsingRules",
            "NotifyParsingRules",
            "action"
        ],
        "sections"
    );
    for child in &def.children {
        let rules = attribute_rules(&child.name).unwrap_or((&[], &[]));
        check_attributes(&child.name, child, rules);
        for grand in &child.children {
            let path = format!("{}/{}", child.name, grand.name);
            if child.name == "NotifyParsingRules" {
                // level1, level2, ... (level1-1 for sub-levels), each translating to a value.
                let level = grand.name.strip_prefix("level").unwrap_or("");
                assert!(
                    !level.is_empty()
                        && level
                            .split('-')
                            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
                    "{path}"
                );
                check_attributes(&path, grand, (&["translates_to", "fetch_attribute"], &[]));
                assert!(grand.attrs.contains_key("translates_to"), "{path}");
                assert!(grand.children.is_empty(), "{path} has children");
                continue;
            }
            let rules = attribute_rules(&path).unwrap_or_else(|| {
                panic!("<{}> is not documented inside <{}>", grand.name, child.name)
            });
            check_attributes(&path, grand, rules);
        }
    }

    let general = &def.children[0];
    assert_eq!(general.attr("type"), "BusyLampField");
    assert_eq!(general.attr("identity"), "1");

    // Initialization: the first state, and the variables the rest refers to.
    let init = &def.children[1];
    assert_eq!(init.all("state").count(), 1);
    assert_eq!(init.all("state").next().unwrap().attr("value"), "initial");
    let vars: BTreeMap<&str, &str> = init
        .all("variable")
        .map(|v| (v.attr("name"), v.attr("value")))
        .collect();
    assert_eq!(vars["subscr_uri"], format!("sip:{username}@127.0.0.1"));
    assert_eq!(vars["pickup_uri"], format!("sip:**{username}@127.0.0.1"));
    // The dynamic label: the other phone's name, intact.
    assert_eq!(vars["label"], display);

    // The subscription: the dialog event of the monitored URI.
    let sub = &def.children[2];
    assert_eq!(sub.attr("type"), "dialog");
    assert_eq!(sub.attr("to"), "<$(subscr_uri)>");
    assert_eq!(sub.attr("for"), "$(subscr_uri)");

    // Which NOTIFYs apply, and how the dialog states become the key's state (the state
    // names the LED settings list: RINGING blinks fast, CONNECTED is on, IDLE is off).
    let applies = &def.children[3];
    assert_eq!(applies.attr("type"), "applies");
    let rule = applies.children.first().expect("an applies rule");
    assert_eq!(rule.attr("translates_to"), "OK");
    assert_eq!(rule.text, "/dialog-info[@entity=\"$(subscr_uri)\"]");
    let states_rules = &def.children[4];
    assert_eq!(states_rules.attr("type"), "state");
    let mapping: Vec<(&str, &str)> = states_rules
        .children
        .iter()
        .map(|l| (l.text.as_str(), l.attr("translates_to")))
        .collect();
    assert_eq!(
        mapping,
        [
            ("/dialog-info/dialog/state[.=\"early\"]", "RINGING"),
            ("/dialog-info/dialog/state[.=\"confirmed\"]", "CONNECTED"),
            ("", "IDLE"),
        ]
    );
    let mut states: BTreeSet<&str> = mapping.iter().map(|(_, s)| *s).collect();
    states.insert("initial");

    // Actions: on press, one per state; pickup while it rings.
    let action = &def.children[5];
    let mut pressed = BTreeMap::new();
    for a in &action.children {
        assert!(
            ["assign", "invite", "refer", "publish", "url", "dtmf", "request"]
                .contains(&a.name.as_str()),
            "<{}> is no documented action",
            a.name
        );
        assert_eq!(a.attr("when"), "on press");
        let state = a.attr("states");
        assert!(states.contains(state), "action for unknown state {state}");
        assert!(
            pressed.insert(state, a.attr("target")).is_none(),
            "{state} twice"
        );
    }
    assert_eq!(
        pressed.keys().copied().collect::<BTreeSet<_>>(),
        states,
        "every state has its press action"
    );
    assert_eq!(pressed["RINGING"], "$(pickup_uri)");
    assert_eq!(pressed["IDLE"], "$(subscr_uri)");

    // Every placeholder names a variable of the initialization.
    let mut all = Vec::new();
    def.walk(&mut all);
    for el in all {
        for value in el.attrs.values().chain([&el.text]) {
            for p in placeholders(value) {
                assert!(vars.contains_key(p.as_str()), "$({p}) is not initialized");
            }
        }
    }
}

fn check_attributes(path: &str, el: &Element, (allowed, required): (&[&str], &[&str])) {
    for a in el.attrs.keys() {
        assert!(
            allowed.contains(&a.as_str()),
            "<{path}> has undocumented {a}"
        );
    }
    for r in required {
        assert!(
            el.attrs.get(*r).is_some_and(|v| !v.is_empty()),
            "<{path}> lacks {r}"
        );
    }
}

fn display(i: usize) -> String {
    format!("Jane <User> & Co \"{i}\" 'Zoë', (x) $ {{y}}")
}

fn username(i: usize) -> String {
    format!("u{i}<&'>")
}

#[test]
fn snom_busy_lamp_keys_are_documented_xml_definitions() {
    let conf = common::project_dir().join("asterisk-conf");
    let sample = |name: &str| std::fs::read(conf.join("phoneprov").join(name)).unwrap();
    // Three Snom phones and a Polycom: every other phone gets a key, whatever its family.
    let phones = [
        ("000413000001", "snom"),
        ("000413000002", "snom"),
        ("0004f2000003", "polycom"),
        ("000413000004", "snom"),
    ];
    let mut users = String::new();
    for (i, (mac, profile)) in phones.iter().enumerate() {
        users += &format!(
            "[s{i}]\nautoprov = yes\nmacaddress = {mac}\nprofile = {profile}\n\
             username = {}\nfullname = {}\nsecret = pw{i}\n\n",
            username(i),
            display(i)
        );
    }
    let ast = Builder::new(Impl::Rust)
        .module("func_strings")
        .conf(
            "phoneprov.conf",
            std::fs::read(conf.join("phoneprov.conf")).unwrap(),
        )
        .conf("phoneprov_users.conf", users)
        .file("snom/settings.xml", sample("snom/settings.xml"))
        .file("snom/line.xml", sample("snom/line.xml"))
        .start();

    for (me, (mac, profile)) in phones.iter().enumerate() {
        if *profile != "snom" {
            continue;
        }
        let path = format!("/phoneprov/snom/{}.xml", mac.to_uppercase());
        let r = digest::get(&ast, &path, &username(me), &format!("pw{me}"));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let settings = parse(&r.text());
        assert_eq!(settings.name, "settings");
        let keys = settings.all("functionKeys").next().expect("functionKeys");
        let mut defs = Vec::new();
        for fkey in keys.all("fkey") {
            let Some(def) = fkey.text.strip_prefix("xml ") else {
                panic!("a key that is no XML definition: {}", fkey.text);
            };
            if def.contains("NightService") {
                continue;
            }
            defs.push((fkey, def.to_owned()));
        }
        assert_eq!(defs.len(), phones.len() - 1, "one key per other phone");
        let mut indexes = BTreeSet::new();
        for (n, (fkey, def)) in defs.iter().enumerate() {
            // PP_EACH_USER lists phones in configuration order, without this one.
            let other = if n < me { n } else { n + 1 };
            assert_eq!(fkey.attr("idx"), (other + 1).to_string(), "PP_PHONE_INDEX");
            assert!(indexes.insert(fkey.attr("idx").to_owned()));
            assert_eq!(fkey.attr("context"), "active");
            assert_eq!(fkey.attr("label"), display(other));
            // The definition is a sequence of elements: parse it under a root of ours.
            let def = parse(&format!("<definition>{def}</definition>"));
            check_definition(&def, &display(other), &username(other));
        }
    }
}
