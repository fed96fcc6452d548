//! Which phone is asking, from the User-Agent it sends when it fetches files: vendor, model,
//! firmware and, where the phone puts it there, its MAC. One rule per family, tried in turn;
//! what no rule recognises is unknown (templates then see empty values).

/// What a User-Agent says about the phone that sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAgent {
    pub vendor: &'static str,
    pub model: String,
    pub firmware: String,
    /// Twelve lower-case hex digits, as in provisioning URIs.
    pub mac: Option<String>,
}

/// A MAC written with or without `:`/`-` separators, as twelve lower-case hex digits.
pub fn normalize_mac(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-')).collect();
    (hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

fn words(ua: &str) -> impl Iterator<Item = &str> {
    ua.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ';'))
        .filter(|w| !w.is_empty())
}

fn agent(vendor: &'static str, model: &str, firmware: &str, mac: Option<String>) -> UserAgent {
    UserAgent {
        vendor,
        model: model.to_owned(),
        firmware: firmware.to_owned(),
        mac,
    }
}

/// `FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application`
fn polycom(ua: &str) -> Option<UserAgent> {
    let token = words(ua).find(|w| w.starts_with("Polycom"))?;
    let (product, firmware) = token.split_once('/')?;
    let model = product.split('-').nth(1)?;
    Some(agent("Polycom", model, firmware, None))
}

/// `Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37`
fn yealink(ua: &str) -> Option<UserAgent> {
    let mut w = words(ua);
    (w.next()? == "Yealink").then_some(())?;
    let model = w.next()?;
    let model = model.strip_prefix("SIP-").unwrap_or(model);
    let firmware = w.next()?;
    Some(agent(
        "Yealink",
        model,
        firmware,
        w.next().and_then(normalize_mac),
    ))
}

/// `Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 1.1.5-IS 000413922D24 …)`
fn snom(ua: &str) -> Option<UserAgent> {
    let mut w = words(ua).skip_while(|w| !w.starts_with("snom"));
    let model = w.next()?.strip_prefix("snom")?;
    let model = model.strip_suffix("-SIP").unwrap_or(model);
    let firmware = w.next()?;
    let mac = w.find_map(normalize_mac);
    Some(agent("Snom", model, firmware, mac))
}

/// `Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859`
fn grandstream(ua: &str) -> Option<UserAgent> {
    // Told by its first word before its words are gathered: every other phone's
    // User-Agent reaches this rule too.
    (words(ua).next() == Some("Grandstream")).then_some(())?;
    let w: Vec<&str> = words(ua).collect();
    let after = |key: &str| w.iter().position(|x| *x == key).and_then(|i| w.get(i + 1));
    let model = after("HW")?;
    let firmware = after("SW").copied().unwrap_or("");
    let mac = after("DevId").and_then(|m| normalize_mac(m));
    Some(agent("Grandstream", model, firmware, mac))
}

/// `Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)`
fn cisco(ua: &str) -> Option<UserAgent> {
    let rest = ua.trim_start().strip_prefix("Cisco/")?;
    let mut w = words(rest);
    let (model, firmware) = w.next()?.split_once('-')?;
    Some(agent("Cisco", model, firmware, w.find_map(normalize_mac)))
}

/// liblinphone: `Linphone/5.2.0 (belle-sip/5.2.0)`, `LinphoneAndroid/5.2.5 (…) LinphoneSDK/…`,
/// `Linphone-Desktop/5.2.6 (…) LinphoneCore/…`: the first product token naming Linphone.
fn linphone(ua: &str) -> Option<UserAgent> {
    let token = words(ua).find(|w| w.starts_with("Linphone"))?;
    let (product, version) = token.split_once('/')?;
    Some(agent("Linphone", product, version, None))
}

const RULES: [fn(&str) -> Option<UserAgent>; 6] =
    [polycom, yealink, snom, grandstream, cisco, linphone];

/// The phone a User-Agent names, if one of the known families' formats matches.
/// `linphone_header`: the request carried `X-Linphone-Provisioning: 1` (liblinphone's
/// provisioning requests do), which makes an unrecognised agent a Linphone.
pub fn parse(ua: &[u8], linphone_header: bool) -> Option<UserAgent> {
    let ua = String::from_utf8_lossy(ua);
    RULES
        .iter()
        .find_map(|rule| rule(&ua))
        .or_else(|| linphone_header.then(|| agent("Linphone", "", "", None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(vendor: &'static str, model: &str, firmware: &str, mac: Option<&str>) -> UserAgent {
        agent(vendor, model, firmware, mac.map(str::to_owned))
    }

    #[test]
    fn every_family_from_real_strings() {
        let cases: [(&str, UserAgent); 8] = [
            (
                "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
                ua("Polycom", "VVX_400", "4.1.4.7430", None),
            ),
            (
                "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
                ua("Yealink", "T46G", "28.72.0.1", Some("0015654aa937")),
            ),
            (
                "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 1.1.5-IS 000413922D24 SXM:0 UXM:0 UXMC:0)",
                ua("Snom", "D785", "10.1.33.33", Some("000413922d24")),
            ),
            (
                "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859",
                ua("Grandstream", "GXP1628", "1.0.4.138", Some("c074ad2bd859")),
            ),
            (
                "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)",
                ua("Cisco", "SPA508G", "7.4.4", Some("0002fdff2103")),
            ),
            (
                "Linphone/5.2.0 (belle-sip/5.2.0)",
                ua("Linphone", "Linphone", "5.2.0", None),
            ),
            (
                "LinphoneAndroid/5.2.5 (Pixel 7; Android/14) LinphoneSDK/5.3.47",
                ua("Linphone", "LinphoneAndroid", "5.2.5", None),
            ),
            (
                "Linphone-Desktop/5.2.6 (debian 12, Qt 5.15.8) LinphoneCore/5.3.0",
                ua("Linphone", "Linphone-Desktop", "5.2.6", None),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text.as_bytes(), false), Some(want), "{text}");
        }
    }

    #[test]
    fn unknown_agents_and_the_linphone_header() {
        assert_eq!(parse(b"curl/8.5.0", false), None);
        assert_eq!(parse(b"", false), None);
        assert_eq!(parse(b"Yealink", false), None);
        assert_eq!(parse(b"Cisco/SPA508G", false), None);
        assert_eq!(
            parse(b"belle-sip/5.3", true).map(|u| u.vendor),
            Some("Linphone")
        );
        // Not a MAC where one is expected: none is claimed.
        assert_eq!(
            parse(b"Yealink SIP-T23G 44.84.0.1 not-a-mac", false).and_then(|u| u.mac),
            None
        );
    }

    #[test]
    fn macs_are_normalised() {
        assert_eq!(
            normalize_mac("00:15:65:4A:A9:37").as_deref(),
            Some("0015654aa937")
        );
        assert_eq!(
            normalize_mac("00-15-65-4a-a9-37").as_deref(),
            Some("0015654aa937")
        );
        assert_eq!(normalize_mac("0015654aa93"), None);
        assert_eq!(normalize_mac("0015654aa93g"), None);
    }
}
