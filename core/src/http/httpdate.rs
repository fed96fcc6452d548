//! HTTP dates (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`) and entity tags, for
//! conditional GET of static files.

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch as an HTTP date.
pub fn format(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[m as usize - 1],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `s` as a number when it is exactly `len` ASCII digits.
fn digits(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`: fixed widths, a real calendar date) to
/// seconds since the epoch; None for anything else, which a client's header may hold.
pub fn parse(s: &str) -> Option<i64> {
    let f: Vec<&str> = s.split_whitespace().collect();
    let [_, day, mon, year, time, "GMT"] = f.as_slice() else {
        return None;
    };
    let d = digits(day, 2)?;
    let m = MONTHS.iter().position(|x| x == mon)? as i64 + 1;
    let y = digits(year, 4)?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| digits(p, 2))
        .collect::<Option<_>>()?;
    let [h, mi, se] = t.as_slice() else {
        return None;
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=month_days).contains(&d) || *h > 23 || *mi > 59 || *se > 60 {
        return None;
    }
    Some(days_from_civil(y, m as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, as for GET).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match.trim() == "*" || if_none_match.split(',').any(|t| bare(t) == bare(etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(format(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format(1_795_000_000), "Wed, 18 Nov 2026 11:06:40 GMT");
        for secs in [0, 951_782_400, 1_709_164_800, 4_102_444_799, 784_111_777] {
            assert_eq!(parse(&format(secs)), Some(secs), "{}", format(secs));
        }
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        assert_eq!(parse("garbage"), None);
        // Found by the httpdate fuzz target: a 14-digit year overflowed.
        assert_eq!(parse("Sun, 06 Nov 99999999999999 08:49:37 GMT"), None);
        assert_eq!(parse("Sun, 06 Nov 1994 -1:-1:-1 GMT"), None);
        assert_eq!(parse("Sun, 31 Feb 1994 08:49:37 GMT"), None);
        assert_eq!(parse("Sun, 6 Nov 1994 08:49:37 GMT"), None);
        assert!(parse("Tue, 29 Feb 2000 00:00:00 GMT").is_some());
        assert_eq!(parse("Thu, 29 Feb 1900 00:00:00 GMT"), None);
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("\"x\", W/\"a\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }
}
