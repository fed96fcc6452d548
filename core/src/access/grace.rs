//! Rotation without lockout (`auth_grace`): when a phone's HTTP credentials change, the phone
//! still holds the old ones and must fetch the file that carries the new ones with them. What
//! is kept of a phone's credentials is a [`Fingerprint`] (user, realm and HA1: enough to check
//! a Basic password or a Digest answer, not the secret itself); its previous one keeps opening
//! that phone's files until a deadline or its first fetch with the new ones.

use crate::access::auth::{digest_matches_ha1, hex, unhex, DigestResponse, Ha1};

/// What opens a phone's files: its user name, the realm its HA1 was made for, and the HA1.
#[derive(Clone, Debug)]
pub struct Fingerprint {
    pub user: Vec<u8>,
    pub realm: Vec<u8>,
    ha1: Ha1,
}

impl Fingerprint {
    pub fn new(user: &[u8], realm: &[u8], secret: &[u8]) -> Fingerprint {
        Fingerprint::of_ha1(user, realm, Ha1::new(user, realm, secret))
    }

    /// From an HA1 already made of `user`, `realm` and the secret.
    pub fn of_ha1(user: &[u8], realm: &[u8], ha1: Ha1) -> Fingerprint {
        Fingerprint {
            user: user.to_vec(),
            realm: realm.to_vec(),
            ha1,
        }
    }

    /// Whether both open with the same credentials.
    pub fn same_as(&self, other: &Fingerprint) -> bool {
        self.user == other.user && self.realm == other.realm && self.ha1.same_as(&other.ha1)
    }

    /// One line of hex words (astdb values are C strings: user names may hold anything).
    pub fn encode(&self) -> String {
        format!(
            "{} {} {}",
            self.ha1.to_hex(),
            hex(&self.user),
            hex(&self.realm)
        )
    }

    /// What [`Fingerprint::encode`] wrote; None for anything else.
    pub fn decode(text: &[u8]) -> Option<Fingerprint> {
        let mut words = text.split(|&b| b == b' ');
        let ha1 = Ha1::from_hex(words.next()?)?;
        let user = unhex(words.next()?)?;
        let realm = unhex(words.next()?)?;
        words
            .next()
            .is_none()
            .then_some(Fingerprint { user, realm, ha1 })
    }

    /// Whether a Basic `user`/`password` are these credentials.
    pub fn opens_basic(&self, user: &[u8], password: &[u8]) -> bool {
        user == self.user && Ha1::new(user, &self.realm, password).same_as(&self.ha1)
    }

    /// Whether a Digest answer proves these credentials.
    pub fn opens_digest(&self, d: &DigestResponse<'_>, method: &[u8]) -> bool {
        *d.username == *self.user
            && *d.realm == *self.realm
            && digest_matches_ha1(d, &self.ha1, method)
    }
}

/// A phone's previous credentials and until when (seconds since the epoch) they open its files.
#[derive(Clone, Debug)]
pub struct Previous {
    pub until: u64,
    pub fingerprint: Fingerprint,
}

impl Previous {
    pub fn encode(&self) -> String {
        format!("{} {}", self.until, self.fingerprint.encode())
    }

    pub fn decode(text: &[u8]) -> Option<Previous> {
        let at = text.iter().position(|&b| b == b' ')?;
        let until = std::str::from_utf8(&text[..at]).ok()?.parse().ok()?;
        let fingerprint = Fingerprint::decode(&text[at + 1..])?;
        Some(Previous { until, fingerprint })
    }
}

/// `auth_grace`'s value: seconds, or a number with `s`, `m`, `h` or `d`; 0 turns it off.
pub fn parse_duration(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (digits, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let n: u64 = digits.trim().parse().ok()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::auth::{parse_authorization, Algorithm, Credentials};

    #[test]
    fn encoded_and_decoded_it_opens_with_the_same_password_only() {
        let fp = Fingerprint::new(b"100 \"x\"", b"phoneprov", b"old");
        let back = Fingerprint::decode(fp.encode().as_bytes()).expect("decodes");
        assert!(back.same_as(&fp));
        assert!(back.opens_basic(b"100 \"x\"", b"old"));
        assert!(!back.opens_basic(b"100 \"x\"", b"new"));
        assert!(!back.opens_basic(b"101", b"old"), "another user");
        assert!(!fp.same_as(&Fingerprint::new(b"100 \"x\"", b"phoneprov", b"new")));
        assert!(!fp.same_as(&Fingerprint::new(b"100 \"x\"", b"other", b"old")));
        let prev = Previous {
            until: 42,
            fingerprint: fp,
        };
        let again = Previous::decode(prev.encode().as_bytes()).expect("decodes");
        assert_eq!(again.until, 42);
        assert!(again.fingerprint.opens_basic(b"100 \"x\"", b"old"));
    }

    #[test]
    fn anything_else_does_not_decode() {
        for bad in [&b""[..], b"zz 31 32", b"00 31", b"1 2 3 4", b"x 00"] {
            assert!(Fingerprint::decode(bad).is_none(), "{bad:?}");
            assert!(Previous::decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_digest_answer_made_with_the_old_secret_opens() {
        let fp = Fingerprint::new(b"100", b"phoneprov", b"old");
        let answer = |secret: &[u8], realm: &str| {
            let alg = Algorithm::Md5;
            let ha1 = alg.hex(&[b"100", realm.as_bytes(), secret]);
            let ha2 = alg.hex(&[b"GET", b"/phoneprov/a.cfg"]);
            let resp = alg.hex(&[
                ha1.as_bytes(),
                b"n1",
                b"00000001",
                b"c1",
                b"auth",
                ha2.as_bytes(),
            ]);
            format!(
                "Digest username=\"100\", realm=\"{realm}\", nonce=\"n1\", \
                 uri=\"/phoneprov/a.cfg\", response=\"{resp}\", qop=auth, nc=00000001, \
                 cnonce=\"c1\", algorithm=MD5"
            )
        };
        let check = |header: String| match parse_authorization(header.as_bytes()) {
            Some(Credentials::Digest(d)) => fp.opens_digest(&d, b"GET"),
            other => panic!("{other:?}"),
        };
        assert!(check(answer(b"old", "phoneprov")));
        assert!(!check(answer(b"new", "phoneprov")));
        assert!(!check(answer(b"old", "elsewhere")));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration(b"604800"), Some(604_800));
        assert_eq!(parse_duration(b"7d"), Some(604_800));
        assert_eq!(parse_duration(b" 12 h "), Some(43_200));
        assert_eq!(parse_duration(b"30m"), Some(1_800));
        assert_eq!(parse_duration(b"0"), Some(0));
        assert_eq!(parse_duration(b"7w"), None);
        assert_eq!(parse_duration(b"-1"), None);
        assert_eq!(parse_duration(b""), None);
    }
}
