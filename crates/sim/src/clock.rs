//! Calendar arithmetic and fast RFC 3339 text in China Standard Time, identical to
//! [`mingma_core::Timestamp`]'s display (`2022-06-13T10:00:00+08:00`).

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;
/// UTC+8 in seconds.
const CST: i64 = 8 * 3600;

/// The local (UTC+8) day number (days since 1970-01-01) and second of that day.
pub(crate) fn local_day(unix: i64) -> (i64, i64) {
    let local = unix + CST;
    (local.div_euclid(DAY), local.rem_euclid(DAY))
}

/// Unix seconds of local midnight of day number `day`.
pub(crate) fn local_midnight(day: i64) -> i64 {
    day * DAY - CST
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01), by the
/// standard era-based conversion.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the week of a day number, Monday = 0.
pub(crate) fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) as u32
}

fn two(out: &mut Vec<u8>, n: u32) {
    out.push(b'0' + (n / 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// Appends the time `second` seconds after local midnight of day number `day`,
/// given that day's `2022-06-13T` prefix (from [`date_prefix`]); `second` must be
/// less than a day.
#[inline]
pub(crate) fn push_day_time(out: &mut Vec<u8>, prefix: &[u8; 11], second: u32) {
    out.extend_from_slice(prefix);
    two(out, second / 3600);
    out.push(b':');
    two(out, second / 60 % 60);
    out.push(b':');
    two(out, second % 60);
    out.extend_from_slice(b"+08:00");
}

/// The `2022-06-13T` prefix of times on local day number `day`.
pub(crate) fn date_prefix(day: i64) -> [u8; 11] {
    let mut text = Vec::with_capacity(25);
    push_time(&mut text, local_midnight(day));
    let mut prefix = [0u8; 11];
    prefix.copy_from_slice(&text[..11]);
    prefix
}

/// Appends `unix` as RFC 3339 in UTC+8, e.g. `2022-06-13T10:00:00+08:00`.
pub(crate) fn push_time(out: &mut Vec<u8>, unix: i64) {
    let (day, second) = local_day(unix);
    let (year, month, dom) = civil_from_days(day);
    let year = year.clamp(0, 9999) as u32;
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, dom);
    out.push(b'T');
    let second = second as u32;
    two(out, second / 3600);
    out.push(b':');
    two(out, second / 60 % 60);
    out.push(b':');
    two(out, second % 60);
    out.extend_from_slice(b"+08:00");
}

#[cfg(test)]
mod tests {
    use super::*;
    use mingma_core::Timestamp;

    #[test]
    fn the_day_prefix_path_matches_too() {
        let day = 19_144; // 2022-06-01
        let prefix = date_prefix(day);
        for second in [0u32, 1, 59, 3_600, 45_296, 86_399] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            push_day_time(&mut fast, &prefix, second);
            push_time(&mut slow, local_midnight(day) + i64::from(second));
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn matches_the_core_display() {
        let mut t = 946_684_800i64; // 2000-01-01
        while t < 4_102_444_800 {
            let mut text = Vec::new();
            push_time(&mut text, t);
            let core = Timestamp::from_unix_seconds(t).unwrap().to_string();
            assert_eq!(String::from_utf8(text).unwrap(), core);
            t += 7_777_777 + (t % 86_399);
        }
        let (day, second) = local_day(
            Timestamp::parse("2022-06-01T00:00:00+08:00")
                .unwrap()
                .unix_seconds(),
        );
        assert_eq!(second, 0);
        assert_eq!(civil_from_days(day), (2022, 6, 1));
        assert_eq!(weekday(day), 2); // a Wednesday
        assert_eq!(
            local_midnight(day),
            Timestamp::parse("2022-06-01T00:00:00+08:00")
                .unwrap()
                .unix_seconds()
        );
    }
}
