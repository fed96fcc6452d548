//! Phone families: the files a booting phone of each family asks for by name, so that
//! `phoneprov check` can say when a profile does not serve one of them.
//!
//! A profile names its family with `family = ID` (and, for families whose phones ask for a
//! common file per model, the models in use with `models = A, B`). The names below are the
//! ones the firmware itself builds; they are looked for in the directory where the profile
//! serves the phone's own file (the first one of each list), since a phone is pointed at a
//! directory and asks for every name there. Files a phone asks for but does without (boot
//! files, binary configurations, firmware) are not listed: a miss is what it expects.

/// A file the phones of a family ask for. In `name`, `{mac}` stands for the MAC in lower
/// case and `{MAC}` for the MAC in upper case.
#[derive(Debug, PartialEq, Eq)]
pub struct Asked {
    pub name: &'static str,
    pub what: &'static str,
}

/// Reads the names of the files a served body names.
pub type Names = fn(&[u8]) -> Vec<Vec<u8>>;

#[derive(Debug)]
pub struct Family {
    /// The value of `family =`.
    pub id: &'static str,
    pub vendor: &'static str,
    /// The phone's own file first: where it is served is where the others are looked for.
    pub asks: &'static [Asked],
    /// Models whose phones also ask for a common file of their own: (model, file).
    pub models: &'static [(&'static str, &'static str)],
    /// The files the phone's own file names, which the phone asks for next.
    pub named: Option<Names>,
}

/// Families are the same when their ids are.
impl PartialEq for Family {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Family {}

const fn asked(name: &'static str, what: &'static str) -> Asked {
    Asked { name, what }
}

/// Yealink's common file per model, `y0000000000NN.cfg` with NN the first field of the
/// model's firmware version (T46S runs 66.x).
const YEALINK_DESK: &[(&str, &str)] = &[
    ("T19P_E2", "y000000000053.cfg"),
    ("T21P_E2", "y000000000052.cfg"),
    ("T23G", "y000000000044.cfg"),
    ("T27G", "y000000000069.cfg"),
    ("T29G", "y000000000046.cfg"),
    ("T40G", "y000000000076.cfg"),
    ("T40P", "y000000000054.cfg"),
    ("T41S", "y000000000068.cfg"),
    ("T42S", "y000000000067.cfg"),
    ("T46G", "y000000000028.cfg"),
    ("T46S", "y000000000066.cfg"),
    ("T48G", "y000000000035.cfg"),
    ("T48S", "y000000000065.cfg"),
    ("T52S", "y000000000074.cfg"),
    ("T53", "y000000000095.cfg"),
    ("T54S", "y000000000070.cfg"),
    ("T54W", "y000000000096.cfg"),
    ("T57W", "y000000000097.cfg"),
    ("T58", "y000000000058.cfg"),
    ("CP920", "y000000000078.cfg"),
    ("CP925", "y000000000148.cfg"),
    ("CP960", "y000000000073.cfg"),
];

const YEALINK_DECT: &[(&str, &str)] = &[
    ("W52P", "y000000000025.cfg"),
    ("W56P", "y000000000025.cfg"),
    ("W60B", "y000000000077.cfg"),
    ("W70B", "y000000000146.cfg"),
];

pub const FAMILIES: &[Family] = &[
    Family {
        id: "polycom",
        vendor: "Polycom VVX",
        asks: &[
            asked("{mac}.cfg", "its master configuration"),
            asked(
                "000000000000.cfg",
                "the master configuration of phones without one of their own",
            ),
        ],
        models: &[],
        named: Some(config_files),
    },
    Family {
        id: "snom",
        vendor: "Snom D-series",
        asks: &[asked(
            "{MAC}.xml",
            "its settings (setting_server .../{mac}.xml)",
        )],
        models: &[],
        named: None,
    },
    Family {
        id: "yealink",
        vendor: "Yealink T4x/T5x/CP",
        asks: &[asked("{mac}.cfg", "its own configuration")],
        models: YEALINK_DESK,
        named: None,
    },
    Family {
        id: "yealink-dect",
        vendor: "Yealink DECT W-series",
        asks: &[asked("{mac}.cfg", "its own configuration")],
        models: YEALINK_DECT,
        named: None,
    },
    Family {
        id: "grandstream",
        vendor: "Grandstream GXP/GRP",
        asks: &[
            asked("cfg{mac}.xml", "its own configuration"),
            asked(
                "cfg.xml",
                "the configuration of phones without one of their own",
            ),
        ],
        models: &[],
        named: None,
    },
    Family {
        id: "spa",
        vendor: "Cisco/Linksys SPA",
        asks: &[asked(
            "spa{mac}.xml",
            "its profile (profile rule spa$MA.xml)",
        )],
        models: &[],
        named: None,
    },
    Family {
        id: "linphone",
        vendor: "Linphone",
        asks: &[],
        models: &[],
        named: None,
    },
    Family {
        id: "fanvil",
        vendor: "Fanvil X-series",
        asks: &[asked("{mac}.cfg", "its own configuration")],
        models: &[],
        named: None,
    },
    Family {
        id: "gigaset",
        vendor: "Gigaset N670/N870 IP PRO",
        asks: &[asked(
            "{MAC}.xml",
            "its provisioning file (URL .../%MACD.xml)",
        )],
        models: &[],
        named: None,
    },
    Family {
        id: "htek",
        vendor: "Htek UC9xx",
        asks: &[asked("cfg{mac}.xml", "its own configuration")],
        models: &[],
        named: None,
    },
    Family {
        id: "cisco-mpp",
        vendor: "Cisco IP Phone 7800/8800 Multiplatform",
        asks: &[asked("{mac}.xml", "its profile (profile rule .../$MA.xml)")],
        models: &[],
        named: None,
    },
    Family {
        id: "snom-dect",
        vendor: "Snom M-series DECT",
        asks: &[asked(
            "{MAC}.xml",
            "its settings (setting_server .../{mac}.xml)",
        )],
        models: &[],
        named: None,
    },
];

/// The files of a Polycom master configuration's `CONFIG_FILES` that name a file beside it
/// (not a URL, not one with the phone's `[PHONE_MODEL]`-style macros).
pub fn config_files(master: &[u8]) -> Vec<Vec<u8>> {
    const ATTR: &[u8] = b"CONFIG_FILES=\"";
    let Some(at) = master.windows(ATTR.len()).position(|w| w == ATTR) else {
        return Vec::new();
    };
    let value = &master[at + ATTR.len()..];
    let value = &value[..value.iter().position(|&b| b == b'"').unwrap_or(value.len())];
    value
        .split(|&b| b == b',')
        .map(crate::util::bytes::strip)
        .filter(|f| !f.is_empty() && !f.contains(&b'[') && !f.windows(3).any(|w| w == b"://"))
        .map(<[u8]>::to_vec)
        .collect()
}

/// The family named `id` (as `family =` writes it, any case).
pub fn lookup(id: &[u8]) -> Option<&'static Family> {
    FAMILIES
        .iter()
        .find(|f| f.id.as_bytes().eq_ignore_ascii_case(id))
}

/// Every family id, for messages.
pub fn ids() -> String {
    FAMILIES.iter().map(|f| f.id).collect::<Vec<_>>().join(", ")
}

impl Family {
    /// The common file of `model` (any case), if the family has one for it.
    pub fn model_file(&self, model: &[u8]) -> Option<&'static str> {
        self.models
            .iter()
            .find(|(m, _)| m.as_bytes().eq_ignore_ascii_case(model))
            .map(|(_, f)| *f)
    }

    pub fn model_names(&self) -> String {
        self.models
            .iter()
            .map(|(m, _)| *m)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `name` with the phone's MAC put in (`{mac}` lower case, `{MAC}` upper case).
pub fn file_name(name: &str, mac: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + mac.len());
    let mut rest = name.as_bytes();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(b"{mac}") {
            out.extend(mac.iter().map(u8::to_ascii_lowercase));
            rest = r;
        } else if let Some(r) = rest.strip_prefix(b"{MAC}") {
            out.extend(mac.iter().map(u8::to_ascii_uppercase));
            rest = r;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_a_unique_id_and_knows_its_models() {
        for (i, f) in FAMILIES.iter().enumerate() {
            assert!(FAMILIES[..i].iter().all(|g| g.id != f.id), "{}", f.id);
            for (_, file) in f.models {
                assert!(file.starts_with('y') && file.len() == 17, "{file}");
            }
        }
        assert_eq!(FAMILIES.len(), 12);
        assert_eq!(lookup(b"Yealink").unwrap().id, "yealink");
        assert!(lookup(b"nokia").is_none());
        let y = lookup(b"yealink").unwrap();
        assert_eq!(y.model_file(b"t46s"), Some("y000000000066.cfg"));
        assert_eq!(y.model_file(b"T23G"), Some("y000000000044.cfg"));
        assert_eq!(y.model_file(b"CP925"), Some("y000000000148.cfg"));
        assert_eq!(y.model_file(b"W52P"), None);
        let d = lookup(b"yealink-dect").unwrap();
        assert_eq!(d.model_file(b"W52P"), Some("y000000000025.cfg"));
        assert!(ids().starts_with("polycom, snom, yealink,"));
    }

    #[test]
    fn names_take_the_mac_in_the_case_the_phone_writes_it() {
        assert_eq!(file_name("{mac}.cfg", b"0004F2aB0001"), b"0004f2ab0001.cfg");
        assert_eq!(file_name("{MAC}.xml", b"0004f2ab0001"), b"0004F2AB0001.xml");
        assert_eq!(file_name("cfg{mac}.xml", b"000B82"), b"cfg000b82.xml");
        assert_eq!(file_name("cfg.xml", b"x"), b"cfg.xml");
    }

    #[test]
    fn polycom_config_files_are_read_from_the_master() {
        let master = br#"<APPLICATION APP_FILE_PATH="sip.ld"
  CONFIG_FILES="0004f2000001-reg.cfg, sip.cfg,, http://x/y.cfg, [PHONE_MODEL]-a.cfg"/>"#;
        assert_eq!(
            config_files(master),
            [&b"0004f2000001-reg.cfg"[..], b"sip.cfg"]
        );
        assert!(config_files(b"<APPLICATION/>").is_empty());
        assert_eq!(config_files(b"CONFIG_FILES=\"a.cfg"), [b"a.cfg"]);
    }
}
