//! The day partitions of `scans`: one per UTC day of entry, named `scans_YYYYMMDD`,
//! holding entry times `[day * 86400, (day + 1) * 86400)`.

const DAY: i64 = 86_400;

/// The day (since the epoch) of an entry time.
pub(crate) fn day_of(entered: i64) -> i64 {
    entered.div_euclid(DAY)
}

/// The entry times a day's partition holds: `[low, high)`.
pub(crate) fn bounds(day: i64) -> (i64, i64) {
    (day * DAY, (day + 1) * DAY)
}

/// The partition's table name.
pub(crate) fn partition_name(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("scans_{y:04}{m:02}{d:02}")
}

/// The day of a partition's table name, if it is one of ours.
pub(crate) fn day_of_partition(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("scans_")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = digits.get(0..4)?.parse().ok()?;
    let m: i64 = digits.get(4..6)?.parse().ok()?;
    let d: i64 = digits.get(6..8)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = days_from_civil(y, m, d);
    (partition_name(day) == name).then_some(day)
}

/// The `CREATE TABLE` of a day's partition (only integers we computed go in).
pub(crate) fn create_partition(day: i64) -> String {
    let (low, high) = bounds(day);
    format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF scans FOR VALUES FROM ({low}) TO ({high})",
        partition_name(day)
    )
}

/// Year, month, day of a day number (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_days_agree() {
        // 2022-06-01 00:00 UTC.
        assert_eq!(day_of(1_654_041_600), 19_144);
        assert_eq!(partition_name(19_144), "scans_20220601");
        assert_eq!(day_of_partition("scans_20220601"), Some(19_144));
        assert_eq!(bounds(19_144), (1_654_041_600, 1_654_128_000));
        for day in 10_957..47_482 {
            // 2000-01-01 ..= 2099-12-31
            assert_eq!(day_of_partition(&partition_name(day)), Some(day));
        }
        for bad in [
            "scans_2022061",
            "scans_20221301",
            "scans_20220231",
            "scans",
            "x_20220601",
        ] {
            assert_eq!(day_of_partition(bad), None, "{bad}");
        }
        assert_eq!(day_of(-1), -1);
    }
}
