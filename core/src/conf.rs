//! An Asterisk configuration file as owned data: categories in file order, each with its
//! variables in order. The host fills it from Asterisk's config API; the core only reads it.
//! Values are shared strings, so variable lists built from them need no copies.

use crate::vars::Text;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file's name, for messages.
    pub name: String,
    pub categories: Vec<Category>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    pub vars: Vec<(String, Text)>,
}

impl Category {
    pub fn new(name: &str, vars: &[(&str, &str)]) -> Self {
        Category {
            name: name.to_owned(),
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Text::from(*v)))
                .collect(),
        }
    }

    /// The effective value of `key`: the last one set (a section overrides its templates),
    /// names compared without regard to case, as Asterisk does.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_text(key).map(|v| &**v)
    }

    /// Like [`Category::get`], giving the shared string itself.
    pub fn get_text(&self, key: &str) -> Option<&Text> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }
}

impl ConfigFile {
    /// The first category of that name (Asterisk's browse semantics).
    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn get(&self, category: &str, key: &str) -> Option<&str> {
        self.category(category).and_then(|c| c.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_wins_and_names_ignore_case() {
        let c = Category::new("u", &[("Secret", "a"), ("secret", "b")]);
        assert_eq!(c.get("SECRET"), Some("b"));
        assert_eq!(c.get("other"), None);
        let f = ConfigFile {
            name: "x.conf".into(),
            categories: vec![c, Category::new("u", &[("secret", "c")])],
        };
        assert_eq!(f.get("U", "secret"), Some("b"));
    }
}
