//! The city's geography: its real districts and streets (GB/T 2260), how many people
//! live and work in each, where residents were born, and venue names.

use mingma_core::{Jurisdiction, Level, VenueKind};

use crate::random::Rand;

/// Rough relative residents and a job-centrality factor per district of Zhengzhou
/// (4101). The residents follow the order of magnitude of the 2020 census (in units
/// of 10,000); they are plausible weights, not official figures.
const ZHENGZHOU: [(u32, f64, f64); 15] = [
    (410102, 95.0, 1.3),  // 中原区
    (410103, 88.0, 1.3),  // 二七区
    (410104, 80.0, 1.1),  // 管城回族区
    (410105, 160.0, 2.2), // 金水区
    (410106, 14.0, 0.7),  // 上街区
    (410108, 60.0, 0.8),  // 惠济区
    (410122, 110.0, 0.6), // 中牟县
    (410171, 55.0, 1.6),  // 经济技术开发区
    (410172, 50.0, 1.5),  // 高新技术产业开发区
    (410173, 70.0, 1.3),  // 航空港经济综合实验区
    (410181, 80.0, 0.5),  // 巩义市
    (410182, 60.0, 0.5),  // 荥阳市
    (410183, 80.0, 0.5),  // 新密市
    (410184, 75.0, 0.5),  // 新郑市
    (410185, 70.0, 0.5),  // 登封市
];

/// Residents and job centrality of a district without a table entry, from the kind
/// its code tells: urban district (01-20), county (21-69), development zone (70-79),
/// county-level city (81-99).
fn generic_district(code: u32) -> (f64, f64) {
    match code % 100 {
        1..=20 => (100.0, 1.4),
        70..=79 => (45.0, 1.3),
        81..=99 => (75.0, 0.5),
        _ => (65.0, 0.5),
    }
}

/// Whether a district code is a development zone (not used in ID numbers).
fn is_zone(code: u32) -> bool {
    (70..=79).contains(&(code % 100))
}

/// Residents and jobs of a street relative to others in its district, by what its
/// name says it is: an urban street (街道), a town (镇) or a township (乡).
fn street_factors(name: &str) -> (f64, f64) {
    if name.ends_with("街道") || name.ends_with("办事处") {
        (1.0, 1.0)
    } else if name.ends_with('镇') {
        (0.6, 0.25)
    } else if name.ends_with('乡') {
        (0.35, 0.1)
    } else {
        (0.5, 0.3)
    }
}

fn code_of(j: Jurisdiction) -> u32 {
    j.to_string().parse().unwrap_or(0)
}

/// The districts and streets of a city with their weights.
#[derive(Debug, Clone)]
pub(crate) struct Geography {
    /// Districts that have streets.
    pub districts: Vec<Jurisdiction>,
    /// Every street of those districts.
    pub streets: Vec<Jurisdiction>,
    /// District index of each street.
    pub street_district: Vec<u16>,
    /// Residents per street (absolute weight).
    pub street_home: Vec<f64>,
    /// Jobs per street (absolute weight).
    pub street_work: Vec<f64>,
    /// Six-digit codes of the city's districts and counties (birthplaces), with weights.
    pub birth_city: Vec<(u32, f64)>,
    /// Six-digit codes of the rest of the province.
    pub birth_province: Vec<u32>,
}

impl Geography {
    pub(crate) fn new(city: Jurisdiction, rng: &mut Rand) -> Self {
        let city_code = code_of(city);
        let mut districts = Vec::new();
        let mut streets = Vec::new();
        let mut street_district = Vec::new();
        let mut street_home = Vec::new();
        let mut street_work = Vec::new();
        let mut birth_city = Vec::new();
        for district in city.descendants(Level::District) {
            let code = code_of(district);
            let (residents, centrality) = if city_code == 4101 {
                ZHENGZHOU
                    .iter()
                    .find(|(c, _, _)| *c == code)
                    .map_or_else(|| generic_district(code), |(_, r, c)| (*r, *c))
            } else {
                generic_district(code)
            };
            if !is_zone(code) {
                birth_city.push((code, residents));
            }
            let own: Vec<Jurisdiction> = district.descendants(Level::Street).collect();
            if own.is_empty() {
                continue;
            }
            let index = districts.len() as u16;
            districts.push(district);
            let factors: Vec<(f64, f64)> = own
                .iter()
                .map(|s| {
                    let (home, work) = street_factors(s.name());
                    // Streets differ in size: jitter by a factor 0.5-1.5.
                    let jitter = 0.5 + rng.unit();
                    (home * jitter, work * jitter)
                })
                .collect();
            let home_sum: f64 = factors.iter().map(|f| f.0).sum();
            let work_sum: f64 = factors.iter().map(|f| f.1).sum();
            for (street, (home, work)) in own.into_iter().zip(factors) {
                streets.push(street);
                street_district.push(index);
                street_home.push(residents * home / home_sum);
                street_work.push(residents * centrality * work / work_sum);
            }
        }
        let province = city.parent().unwrap_or(city);
        let birth_province = province
            .descendants(Level::District)
            .map(code_of)
            .filter(|c| !is_zone(*c) && c / 100 != city_code)
            .collect();
        Self {
            districts,
            streets,
            street_district,
            street_home,
            street_work,
            birth_city,
            birth_province,
        }
    }
}

/// The name of a street without its 街道/镇/乡 suffix, as used in venue names.
pub(crate) fn street_stem(name: &str) -> &str {
    for suffix in ["街道办事处", "街道", "办事处", "镇", "乡"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            if !stem.is_empty() {
                return stem;
            }
        }
    }
    name
}

/// Name endings for venues of each kind.
pub(crate) fn venue_suffixes(kind: VenueKind) -> &'static [&'static str] {
    match kind {
        VenueKind::TransportHub => &["地铁站", "公交枢纽", "客运站", "火车站"],
        VenueKind::Market => &["农贸市场", "超市", "购物中心", "菜市场"],
        VenueKind::Office => &["写字楼", "科技园", "大厦", "产业园"],
        VenueKind::School => &["小学", "中学", "幼儿园", "学院"],
        VenueKind::Hospital => &["社区卫生服务中心", "医院", "诊所"],
        VenueKind::Restaurant => &["餐厅", "面馆", "火锅店", "饭店"],
        VenueKind::Residential => &["小区", "家园", "花园"],
        VenueKind::Other => &["公园", "体育馆", "影院", "图书馆"],
    }
}

/// Countries and regions inbound travellers come from.
pub(crate) const ORIGINS: [&str; 10] = [
    "新加坡",
    "韩国",
    "日本",
    "泰国",
    "马来西亚",
    "阿联酋",
    "德国",
    "英国",
    "美国",
    "澳大利亚",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Streams;

    #[test]
    fn zhengzhou_has_real_streets_and_weights() {
        let city = Jurisdiction::parse("4101").unwrap();
        let geo = Geography::new(city, &mut Streams::new(1).city(0));
        assert!(geo.districts.len() >= 12);
        assert!(geo.streets.len() > 150);
        assert!(geo.streets.iter().all(|s| s.level() == Level::Street));
        assert!(geo.street_home.iter().all(|w| *w > 0.0));
        // 金水区 outweighs 上街区 for jobs.
        let jobs = |d: &str| -> f64 {
            let d = Jurisdiction::parse(d).unwrap();
            geo.streets
                .iter()
                .zip(&geo.street_work)
                .filter(|(s, _)| d.contains(**s))
                .map(|(_, w)| w)
                .sum()
        };
        assert!(jobs("410105") > 10.0 * jobs("410106"));
        assert!(geo.birth_city.iter().all(|(c, _)| c / 100 == 4101));
        assert!(geo
            .birth_province
            .iter()
            .all(|c| c / 10_000 == 41 && c / 100 != 4101));
        assert_eq!(street_stem("经八路街道"), "经八路");
        assert_eq!(street_stem("张庄镇"), "张庄");
    }
}
