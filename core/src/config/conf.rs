//! An Asterisk configuration file as owned data: categories in file order, each with its
//! variables in order. The host fills it from Asterisk's config API; the core only reads it.
//! Names and values are bytes, as Asterisk stores them; values are shared, so variable
//! lists built from them need no copies.

use crate::config::vars::Text;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file's name, for messages.
    pub name: String,
    pub categories: Vec<Category>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Category {
    pub name: Vec<u8>,
    pub vars: Vec<(Vec<u8>, Text)>,
}

impl Category {
    pub fn new(name: &str, vars: &[(&str, &str)]) -> Self {
        Category {
            name: name.as_bytes().to_vec(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), Text::from(v.as_bytes())))
                .collect(),
        }
    }

    /// The effective value of `key`: the last one set (a section overrides its templates),
    /// names compared without regard to ASCII case, as Asterisk does.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.get_text(key).map(|v| &**v)
    }

    /// [`Category::get`] read as a whole number (blanks around it allowed); None when unset
    /// or not a number (a realtime row's numeric column).
    pub fn get_int(&self, key: &str) -> Option<i64> {
        std::str::from_utf8(self.get(key)?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Like [`Category::get`], giving the shared value itself.
    pub fn get_text(&self, key: &str) -> Option<&Text> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Its variables as borrowed pairs, for a [`CategoryRef`] of it.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        self.vars.iter().map(|(k, v)| (&k[..], &v[..])).collect()
    }

    /// Whether the category is named `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A category borrowed from where it lives: Asterisk's loaded configuration, walked in
/// place, so that a file of 100,000 sections is not copied to be read once.
#[derive(Clone, Copy, Debug)]
pub struct CategoryRef<'a> {
    pub name: &'a [u8],
    pub vars: &'a [(&'a [u8], &'a [u8])],
}

impl<'a> CategoryRef<'a> {
    /// As [`Category::get`]: the last value set, names compared without regard to case.
    pub fn get(&self, key: &str) -> Option<&'a [u8]> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key.as_bytes()))
            .map(|(_, v)| *v)
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

impl ConfigFile {
    /// The first category of that name (Asterisk's browse semantics).
    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.is(name))
    }

    pub fn get(&self, category: &str, key: &str) -> Option<&[u8]> {
        self.category(category).and_then(|c| c.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_wins_and_names_ignore_case() {
        let c = Category::new("u", &[("Secret", "a"), ("secret", "b")]);
        assert_eq!(c.get("SECRET"), Some(&b"b"[..]));
        assert_eq!(c.get("other"), None);
        let f = ConfigFile {
            name: "x.conf".into(),
            categories: vec![c, Category::new("u", &[("secret", "c")])],
        };
        assert_eq!(f.get("U", "secret"), Some(&b"b"[..]));
    }
}
