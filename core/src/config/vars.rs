//! A phone line's variables: an ordered list in which the first of a name wins, as in
//! Asterisk's variable lists, so the list can be handed to Asterisk's substitution as is.

use std::sync::Arc;

use crate::util::fxhash::FxHashSet;

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
/// Not a C module variable: `scheme://host[:port][/prefix]/phoneprov/` as the client
/// reached it (for QR codes and links to other files).
pub const BASE_URL: &str = "PP_BASE_URL";
/// Not a C module variable, only in PP_EACH_USER items: the phone's position in the
/// configuration, from 1 (distinct key numbers for directory and BLF entries).
pub const PHONE_INDEX: &str = "PP_PHONE_INDEX";
pub const VOICEMAIL_EXTEN: &str = "VOICEMAIL_EXTEN";
/// Not C module variables: the phone as its User-Agent describes it (empty when unknown).
pub const UA_VENDOR: &str = "PP_UA_VENDOR";
pub const UA_MODEL: &str = "PP_UA_MODEL";
pub const UA_FIRMWARE: &str = "PP_UA_FIRMWARE";
pub const UA_MAC: &str = "PP_UA_MAC";
pub const UA_VARIABLES: [&str; 4] = [UA_VENDOR, UA_MODEL, UA_FIRMWARE, UA_MAC];
/// Credentials a phone fetches its files with, when `auth` is on (else USERNAME/SECRET).
pub const HTTP_USERNAME: &str = "HTTP_USERNAME";
pub const HTTP_SECRET: &str = "HTTP_SECRET";
pub const SECRET: &str = "SECRET";
pub const EXTENSION_LENGTH: &str = "EXTENSION_LENGTH";

/// Names and values are shared bytes: most lines repeat the same names and many the same
/// values, and neither need be UTF-8.
pub type Text = Arc<[u8]>;

/// What a variable name or value can be made from.
pub trait IntoText {
    fn into_text(self) -> Text;
}

impl IntoText for Text {
    fn into_text(self) -> Text {
        self
    }
}

impl IntoText for &Text {
    fn into_text(self) -> Text {
        self.clone()
    }
}

impl IntoText for &[u8] {
    fn into_text(self) -> Text {
        self.into()
    }
}

impl<const N: usize> IntoText for &[u8; N] {
    fn into_text(self) -> Text {
        self[..].into()
    }
}

impl IntoText for Vec<u8> {
    fn into_text(self) -> Text {
        self.into()
    }
}

impl IntoText for &str {
    fn into_text(self) -> Text {
        self.as_bytes().into()
    }
}

impl IntoText for String {
    fn into_text(self) -> Text {
        self.into_bytes().into()
    }
}

pub type Pair = (Text, Text);

/// An ordered variable list in up to three parts, in this order: a frozen part (what a
/// provider handed over, packed with the other lists it handed over; lines built from it
/// share its memory), the list's own additions while it is being built, and a part shared
/// with other lists (a provider's defaults, the same for every user, followed by a line's
/// additions, the same for most lines: LINE=1, LINEKEYS=1, the time zone). A list never
/// holds a name twice, so the order of the parts does not change what a name finds.
/// 100,000 phones repeat the shared part once, not 100,000 times; a built list is 40 bytes
/// besides what it shares.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    base: Option<Frozen>,
    // Boxed on purpose: a pointer in every built list (where it is None) instead of the
    // 24 bytes of an empty Vec, 100,000 times over.
    #[allow(clippy::box_collection)]
    own: Option<Box<Vec<Pair>>>,
    shared: Option<Arc<[Pair]>>,
}

/// Lists packed one after the other: the names they use, and their values in one buffer.
/// 100,000 users of a file are one pack, not 600,000 strings of their own (as many
/// allocations at each reload, and as many frees when the lists go).
#[derive(Debug)]
pub struct Pack {
    /// Distinct: a name is looked up here once, then by its index.
    names: Box<[Text]>,
    /// Whether a name starts with `_` (see [`Vars::has_inherited`]).
    inherited: bool,
    /// For each slot a name can have (see [`slot`]): [`NO_NAME`], [`SEVERAL`], or the index
    /// in `names` of the one name that has it, plus one. A list is looked up a dozen times
    /// at each reload, with names mostly not in it, and at each request.
    slots: [u8; 256],
    bytes: Box<[u8]>,
    /// (index in `names`, where the value ends in `bytes`), list after list; a value
    /// starts where the one before it ends.
    entries: Box<[(u32, u32)]>,
    /// Where each list ends in `entries`.
    lists: Box<[u32]>,
}

/// Lists being packed (see [`Pack`]).
#[derive(Debug, Default)]
pub struct PackBuilder {
    bytes: Vec<u8>,
    entries: Vec<(u32, u32)>,
    lists: Vec<u32>,
    /// Where the list being added started: (bytes, entries).
    started: (usize, usize),
}

impl PackBuilder {
    /// Adds a variable to the list being made: `name` is an index in the names the pack
    /// is finished with. False when the pack cannot hold more (4 GiB of values).
    pub fn push(&mut self, name: u32, value: &[u8]) -> bool {
        let end = self.bytes.len() + value.len();
        let Ok(end) = u32::try_from(end) else {
            return false;
        };
        self.bytes.extend_from_slice(value);
        self.entries.push((name, end));
        true
    }

    /// Ends the list being made; false when the pack cannot hold more lists.
    pub fn end_list(&mut self) -> bool {
        let Ok(end) = u32::try_from(self.entries.len()) else {
            self.drop_list();
            return false;
        };
        if u32::try_from(self.lists.len()).is_err() {
            self.drop_list();
            return false;
        }
        self.lists.push(end);
        self.started = (self.bytes.len(), self.entries.len());
        true
    }

    /// Forgets the list being made.
    pub fn drop_list(&mut self) {
        self.bytes.truncate(self.started.0);
        self.entries.truncate(self.started.1);
    }

    /// The pack, its lists using `names` (distinct), its buffers shrunk to size. Grown while
    /// a configuration is loaded, they may sit among its blocks: copying them once it is
    /// freed placed them no better (they are large), and cost 5 ms for 100,000 users; the
    /// module gives freed memory back to the system after a reload instead.
    pub fn finish(self, names: Box<[Text]>) -> Arc<Pack> {
        let mut slots = [NO_NAME; 256];
        for (i, name) in names.iter().enumerate() {
            let s = &mut slots[slot(name)];
            *s = match u8::try_from(i + 1) {
                Ok(one) if *s == NO_NAME && one != SEVERAL => one,
                _ => SEVERAL,
            };
        }
        Arc::new(Pack {
            inherited: names.iter().any(|n| n.starts_with(b"_")),
            slots,
            names,
            bytes: self.bytes.into_boxed_slice(),
            entries: self.entries.into_boxed_slice(),
            lists: self.lists.into_boxed_slice(),
        })
    }
}

impl Pack {
    /// The lists of the pack, frozen (see [`Vars::freeze`]).
    pub fn lists(self: &Arc<Self>) -> impl ExactSizeIterator<Item = Vars> + '_ {
        (0..self.lists.len()).map(|list| Vars {
            base: Some(Frozen {
                pack: self.clone(),
                list: list as u32,
            }),
            ..Vars::default()
        })
    }

    /// [`Pack::lists`], each with `defaults` pushed (see [`Vars::push_defaults`]). Which of
    /// the pack's names the defaults have is found once: a list is then told apart by the
    /// numbers of its names (a lookup of each default in each of 100,000 lists cost 6 ms).
    pub fn lists_with_defaults<'a>(
        self: &'a Arc<Self>,
        defaults: &'a Arc<[Pair]>,
    ) -> impl ExactSizeIterator<Item = Vars> + 'a {
        let defaulted: Vec<bool> = self
            .names
            .iter()
            .map(|n| defaults.iter().any(|(k, _)| same(k, n)))
            .collect();
        self.lists().map(move |mut v| {
            let overridden = v.base.as_ref().is_some_and(|b| {
                let (first, end) = b.entries();
                self.entries[first..end]
                    .iter()
                    .any(|&(name, _)| defaulted[name as usize])
            });
            match overridden {
                false => v.shared = Some(defaults.clone()),
                true => v.push_defaults(defaults),
            }
            v
        })
    }
}

/// A name's slot in [`Pack::slots`]: four bits of its length, four of its first byte.
fn slot(name: &[u8]) -> usize {
    let first = name.first().copied().unwrap_or(0);
    ((name.len() & 15) << 4) | usize::from(first & 15)
}

const NO_NAME: u8 = 0;
const SEVERAL: u8 = u8::MAX;

/// One list of a pack.
#[derive(Clone, Debug)]
struct Frozen {
    pack: Arc<Pack>,
    list: u32,
}

impl Frozen {
    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let p = &*self.pack;
        let (first, end) = self.entries();
        let mut from = match first {
            0 => 0,
            _ => p.entries[first - 1].1 as usize,
        };
        p.entries[first..end].iter().map(move |&(name, end)| {
            let value = &p.bytes[from..end as usize];
            from = end as usize;
            (&*p.names[name as usize], value)
        })
    }

    /// The value of the first variable named `name`.
    fn find(&self, name: &[u8]) -> Option<&[u8]> {
        let p = &*self.pack;
        let wanted = match p.slots[slot(name)] {
            NO_NAME => return None,
            SEVERAL => p.names.iter().position(|n| same(n, name))?,
            one => Some(usize::from(one - 1)).filter(|&i| same(&p.names[i], name))?,
        } as u32;
        let (first, end) = self.entries();
        let at = first + p.entries[first..end].iter().position(|e| e.0 == wanted)?;
        let from = match at {
            0 => 0,
            _ => p.entries[at - 1].1 as usize,
        };
        Some(&p.bytes[from..p.entries[at].1 as usize])
    }

    /// Where the list's entries are in the pack's.
    fn entries(&self) -> (usize, usize) {
        let (p, i) = (&*self.pack, self.list as usize);
        let first = match i {
            0 => 0,
            _ => p.lists[i - 1] as usize,
        };
        (first, p.lists[i] as usize)
    }

    /// Made of `pairs` (their names shared already): a pack of one list.
    fn of(pairs: impl Iterator<Item = Pair>) -> Frozen {
        let mut b = PackBuilder::default();
        let mut kept: Vec<Text> = Vec::new();
        for (name, value) in pairs {
            let index = match kept.iter().position(|k| *k == name) {
                Some(i) => i,
                None => kept.len(),
            };
            if b.push(index as u32, &value) && index == kept.len() {
                kept.push(name);
            }
        }
        b.end_list();
        Frozen {
            pack: b.finish(kept.into()),
            list: 0,
        }
    }
}

/// Whether two names are the same. Names of the same length mostly differ in their first
/// byte: that is looked at before calling memcmp (a dozen names are compared for each of
/// the dozen variables a reload looks up in each of 100,000 lists).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.first() == b.first() && a == b
}

impl PartialEq for Vars {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Vars {}

impl Vars {
    pub fn new() -> Self {
        Vars::default()
    }

    /// The value of the first variable of that name (names are case-sensitive).
    pub fn find(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        let name = name.as_ref();
        // Part by part rather than through the chained iterator of `iter`: every variable
        // of every request is looked up here.
        fn within<'a>(part: &'a [Pair], name: &[u8]) -> Option<&'a [u8]> {
            part.iter().find(|(k, _)| same(k, name)).map(|(_, v)| &**v)
        }
        self.base
            .as_ref()
            .and_then(|b| b.find(name))
            .or_else(|| self.own.as_deref().and_then(|o| within(o, name)))
            .or_else(|| self.shared.as_deref().and_then(|p| within(p, name)))
    }

    /// Whether Asterisk would see some of these variables under other names (a leading `_`
    /// marks an inherited variable, which Asterisk looks up without it). Asked at every
    /// render: a pack tells for all its lists at once.
    pub fn has_inherited(&self) -> bool {
        let any = |part: &[Pair]| part.iter().any(|(k, _)| k.starts_with(b"_"));
        self.base.as_ref().is_some_and(|b| b.pack.inherited)
            || self.own.as_deref().is_some_and(|o| any(o))
            || self.shared.as_deref().is_some_and(any)
    }

    pub fn contains(&self, name: impl AsRef<[u8]>) -> bool {
        self.find(name).is_some()
    }

    pub fn push(&mut self, name: impl IntoText, value: impl IntoText) {
        self.own_mut().push((name.into_text(), value.into_text()));
    }

    fn own_mut(&mut self) -> &mut Vec<Pair> {
        self.own.get_or_insert_with(Box::default)
    }

    /// Appends `pairs` to the list's own additions.
    pub fn extend(&mut self, pairs: impl IntoIterator<Item = Pair>) {
        self.own_mut().extend(pairs);
    }

    /// Appends the variable unless one of that name is already there.
    pub fn push_default(&mut self, name: &Text, value: &Text) {
        if !self.contains(name) {
            self.own_mut().push((name.clone(), value.clone()));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        fn pair((k, v): &Pair) -> (&[u8], &[u8]) {
            (k, v)
        }
        let base = self.base.iter().flat_map(Frozen::iter);
        let own = self.own.iter().flat_map(|o| o.iter()).map(pair);
        let shared = self.shared.iter().flat_map(|s| s.iter()).map(pair);
        base.chain(own).chain(shared)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes the whole list shared (clones then cost a reference count, not a copy), with
    /// its names interned. A list with a frozen part keeps it and puts its own additions in
    /// front of its shared part; one without has them packed.
    pub fn freeze(&mut self, names: &mut Interner) {
        let Some(own) = self.own.take() else {
            // Frozen already: nothing of its own to share.
            return;
        };
        let own = own.into_iter().map(|(k, v)| (names.share(k), v));
        if self.base.is_none() {
            self.base = Some(Frozen::of(own));
            return;
        }
        let shared = self.shared.iter().flat_map(|s| s.iter()).cloned();
        self.shared = Some(own.chain(shared).collect());
    }

    /// Appends `defaults` (each variable unless the list has one of that name): as one part
    /// shared with every other list given the same `defaults` when none is overridden.
    pub fn push_defaults(&mut self, defaults: &Arc<[Pair]>) {
        if self.shared.is_none() && !defaults.iter().any(|(k, _)| self.contains(k)) {
            self.shared = Some(defaults.clone());
            return;
        }
        for (k, v) in defaults.iter() {
            self.push_default(k, v);
        }
    }

    /// Turns the own additions, with the shared part, into a shared part used by every list
    /// whose shared part and additions are the same (`parts` keeps one copy of each): lists
    /// are built once, then only read.
    pub fn share_own(&mut self, parts: &mut SharedParts) {
        let Some(own) = self.own.take() else {
            return;
        };
        if let Some(made) = parts.same_as_last(self.shared.as_ref(), own.iter()) {
            self.shared = Some(made);
            return;
        }
        let all: Vec<Pair> = self
            .shared
            .iter()
            .flat_map(|s| s.iter())
            .chain(own.iter())
            .cloned()
            .collect();
        let made = match parts.set.get(&all[..]) {
            Some(known) => known.clone(),
            None => {
                let part: Arc<[Pair]> = all.into();
                parts.set.insert(part.clone());
                part
            }
        };
        let before = self.shared.replace(made.clone());
        parts.last = Some((before, *own, made));
    }

    /// [`Vars::share_own`] with `additions` added first: when the list has none of its own
    /// and the additions are those the last part was made with, that part is used without
    /// copying them at all.
    pub fn share_additions<'p>(
        &mut self,
        additions: impl Iterator<Item = &'p Pair> + Clone,
        parts: &mut SharedParts,
    ) {
        if self.own.is_none() {
            if additions.clone().next().is_none() {
                return;
            }
            if let Some(made) = parts.same_as_last(self.shared.as_ref(), additions.clone()) {
                self.shared = Some(made);
                return;
            }
        }
        self.extend(additions.cloned());
        self.share_own(parts);
    }
}

/// One copy of each distinct shared part [`Vars::share_own`] made, and the last one: lines
/// built one after the other mostly make the same, and telling so by pointers spares
/// building and hashing the whole part for each of 100,000 lines.
#[derive(Default)]
pub struct SharedParts {
    set: FxHashSet<Arc<[Pair]>>,
    last: Option<LastPart>,
}

/// The shared part before, the additions, and the part made of them.
type LastPart = (Option<Arc<[Pair]>>, Vec<Pair>, Arc<[Pair]>);

impl SharedParts {
    /// The part made last, if it was made of this very shared part and these additions
    /// (the same strings, not only equal ones: interned additions are).
    fn same_as_last<'p>(
        &self,
        shared: Option<&Arc<[Pair]>>,
        mut own: impl Iterator<Item = &'p Pair>,
    ) -> Option<Arc<[Pair]>> {
        let (before, additions, made) = self.last.as_ref()?;
        let same_shared = match (before, shared) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let same_own = additions.iter().all(|(k, v)| {
            own.next()
                .is_some_and(|(k2, v2)| Arc::ptr_eq(k, k2) && Arc::ptr_eq(v, v2))
        }) && own.next().is_none();
        (same_shared && same_own).then(|| made.clone())
    }
}

impl<K: IntoText, V: IntoText> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Vars {
            own: Some(Box::new(
                iter.into_iter()
                    .map(|(k, v)| (k.into_text(), v.into_text()))
                    .collect(),
            )),
            ..Vars::default()
        }
    }
}

/// One copy of each distinct string.
#[derive(Default)]
pub struct Interner(FxHashSet<Text>);

impl Interner {
    /// The shared copy of `t`, which becomes the shared copy when there is none yet.
    pub fn share(&mut self, t: Text) -> Text {
        if let Some(known) = self.0.get(&t) {
            return known.clone();
        }
        self.0.insert(t.clone());
        t
    }

    pub fn intern(&mut self, s: impl AsRef<[u8]>) -> Text {
        let s = s.as_ref();
        if let Some(t) = self.0.get(s) {
            return t.clone();
        }
        let t: Text = s.into();
        self.0.insert(t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_of_a_name_wins() {
        let mut v: Vars = [("A", "1"), ("B", "2"), ("A", "3")].into_iter().collect();
        assert_eq!(v.find("A"), Some(&b"1"[..]));
        assert_eq!(v.find("a"), None);
        v.push_default(&"B".into_text(), &"9".into_text());
        v.push_default(&"C".into_text(), &"4".into_text());
        assert_eq!(v.len(), 4);
        assert_eq!(v.find("C"), Some(&b"4"[..]));
        let mut bytes = Vars::new();
        bytes.push(&b"N\xfc"[..], &b"J\xfcrgen"[..]);
        assert_eq!(bytes.find(b"N\xfc"), Some(&b"J\xfcrgen"[..]));
        assert_eq!(bytes.find("N\u{fc}"), None);
    }

    #[test]
    fn shared_parts_are_shared_and_found() {
        let defaults: Arc<[Pair]> = vec![("D".into_text(), "d".into_text())].into();
        let mut a: Vars = [("A", "1")].into_iter().collect();
        a.push_defaults(&defaults);
        let mut b: Vars = [("D", "own")].into_iter().collect();
        b.push_defaults(&defaults);
        assert_eq!(a.find("D"), Some(&b"d"[..]));
        assert_eq!(b.find("D"), Some(&b"own"[..]));
        assert_eq!(b.len(), 1);
        let mut tails = SharedParts::default();
        let (mut x, mut y) = (a.clone(), a.clone());
        x.push("LINE", "1");
        y.push("LINE", "1");
        x.share_own(&mut tails);
        y.share_own(&mut tails);
        assert!(Arc::ptr_eq(
            x.shared.as_ref().unwrap(),
            y.shared.as_ref().unwrap()
        ));
        assert_eq!(x, y);
        assert_eq!(x.find("LINE"), Some(&b"1"[..]));
        assert_eq!(x.len(), 3);
        assert!(Arc::ptr_eq(a.shared.as_ref().unwrap(), &defaults));
        assert_eq!(std::mem::size_of::<Vars>(), 40);
    }

    #[test]
    fn packed_names_are_found_however_many_share_a_slot() {
        // "AB" and "AR" share a slot (length 2, first bytes alike in their low bits); 300
        // names are more than a slot can number.
        let names: Vec<String> = ["AB", "AR", "_X"]
            .into_iter()
            .map(String::from)
            .chain((0..300).map(|i| format!("N{i}")))
            .collect();
        let mut v: Vars = names.iter().map(|n| (n.as_str(), n.as_str())).collect();
        v.freeze(&mut Interner::default());
        for n in &names {
            assert_eq!(v.find(n), Some(n.as_bytes()), "{n}");
        }
        assert_eq!(v.find("AC"), None);
        assert_eq!(v.find("N300"), None);
        assert_eq!(v.find(""), None);
        assert!(v.has_inherited());
        assert_eq!(v.len(), 303);
    }

    #[test]
    fn frozen_lists_share_and_keep_order() {
        let mut i = Interner::default();
        let mut v: Vars = [("A", "1"), ("B", "x")].into_iter().collect();
        v.freeze(&mut i);
        let mut line = v.clone();
        let pack = &line.base.as_ref().unwrap().pack;
        assert!(Arc::ptr_eq(&i.intern("A"), &pack.names[0]));
        line.push("A", "9");
        line.push("C", "3");
        assert_eq!(line.find("A"), Some(&b"1"[..]));
        assert_eq!(line.len(), 4);
        let names: Vec<_> = line.iter().map(|(k, _)| k).collect();
        assert_eq!(names, [b"A", b"B", b"A", b"C"]);
        assert_eq!(v.len(), 2);
        assert!(Arc::ptr_eq(&i.intern("x"), &i.intern("x")));
    }
}
