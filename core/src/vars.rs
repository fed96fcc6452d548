//! A phone line's variables: an ordered list in which the first of a name wins, as in
//! Asterisk's variable lists, so the list can be handed to Asterisk's substitution as is.

use std::sync::Arc;

/// The standard variable names of `asterisk/phoneprov.h`, in the header's order.
pub const STD_VARIABLES: [&str; 23] = [
    "MAC",
    "PROFILE",
    "USERNAME",
    "DISPLAY_NAME",
    "SECRET",
    "LABEL",
    "CALLERID",
    "TIMEZONE",
    "LINE",
    "LINEKEYS",
    "SERVER",
    "SERVER_PORT",
    "SERVER_IFACE",
    "VOICEMAIL_EXTEN",
    "EXTENSION_LENGTH",
    "TZOFFSET",
    "DST_ENABLE",
    "DST_START_MONTH",
    "DST_START_MDAY",
    "DST_START_HOUR",
    "DST_END_MONTH",
    "DST_END_MDAY",
    "DST_END_HOUR",
];

pub const MAC: &str = "MAC";
pub const PROFILE: &str = "PROFILE";
pub const USERNAME: &str = "USERNAME";
pub const TIMEZONE: &str = "TIMEZONE";
pub const LINE: &str = "LINE";
pub const LINEKEYS: &str = "LINEKEYS";
pub const SERVER: &str = "SERVER";
pub const SERVER_PORT: &str = "SERVER_PORT";
/// Not a C module variable: SERVER ready for URIs (IPv6 in brackets).
pub const SERVER_HOST: &str = "SERVER_HOST";
pub const VOICEMAIL_EXTEN: &str = "VOICEMAIL_EXTEN";
pub const EXTENSION_LENGTH: &str = "EXTENSION_LENGTH";

/// Names and values are shared: most lines repeat the same names and many the same values.
pub type Text = Arc<str>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars(Vec<(Text, Text)>);

impl Vars {
    pub fn new() -> Self {
        Vars(Vec::new())
    }

    /// The value of the first variable of that name (names are case-sensitive).
    pub fn find(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| &**k == name).map(|(_, v)| &**v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    pub fn push(&mut self, name: impl Into<Text>, value: impl Into<Text>) {
        self.0.push((name.into(), value.into()));
    }

    /// Appends the variable unless one of that name is already there.
    pub fn push_default(&mut self, name: &str, value: &str) {
        if !self.contains(name) {
            self.push(name, value);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<Text>, V: Into<Text>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Vars(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_of_a_name_wins() {
        let mut v: Vars = [("A", "1"), ("B", "2"), ("A", "3")].into_iter().collect();
        assert_eq!(v.find("A"), Some("1"));
        assert_eq!(v.find("a"), None);
        v.push_default("B", "9");
        v.push_default("C", "4");
        assert_eq!(v.len(), 4);
        assert_eq!(v.find("C"), Some("4"));
    }
}
