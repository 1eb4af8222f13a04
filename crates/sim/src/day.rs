//! One simulated day's records, compact, and their two outward forms: the core's
//! [`Evidence`] values and lines of the evidence file.

use std::io::{self, Write};

use mingma_authority::sealed;
use mingma_core::{
    CaseClass, ClosureOutcome, Evidence, EvidenceBody, EvidenceKind, Exposure, Presence,
    QuarantineSetting, RecordId, Recorder, RiskAreaScope, RiskLevel, TestMethod, TestOutcome,
    Timestamp,
};

use crate::city::{kind_index, City, PersonKeys};
use crate::clock::{date_prefix, local_day, push_day_time, push_time};
use crate::geo::ORIGINS;

/// A reference not yet resolved: bit 63 set, a handle in the low 32 bits.
pub(crate) const HANDLE: u64 = 1 << 63;

/// Legal bases the authorities cite.
const PREVENTION_PLAN: &str = "《新型冠状病毒肺炎防控方案（第九版）》";
const LAW_ARTICLE_41: &str = "《中华人民共和国传染病防治法》第四十一条";

/// Packs a record's day and sequence number (its id is `<prefix><day:03>-<seq:08>`).
pub(crate) fn pack(day: u32, seq: u32) -> u64 {
    (u64::from(day) << 32) | u64::from(seq)
}

fn push_digits(out: &mut Vec<u8>, mut n: u32, width: usize) {
    let start = out.len();
    for _ in 0..width {
        out.push(b'0' + (n % 10) as u8);
        n /= 10;
    }
    out[start..].reverse();
}

/// Appends a record id.
pub(crate) fn push_id(out: &mut Vec<u8>, prefix: &str, id: u64) {
    out.extend_from_slice(prefix.as_bytes());
    push_digits(out, (id >> 32) as u32, 3);
    out.push(b'-');
    push_digits(out, id as u32, 8);
}

fn record_id(prefix: &str, id: u64) -> RecordId {
    let mut text = Vec::with_capacity(prefix.len() + 12);
    push_id(&mut text, prefix, id);
    let text = String::from_utf8(text).unwrap_or_else(|_| unreachable!("ASCII"));
    RecordId::parse(&text).unwrap_or_else(|e| unreachable!("generated ids are valid: {e}"))
}

/// Scan flags: presence in the low two bits.
pub(crate) const PRESENCE_STATIC: u8 = 1;
pub(crate) const PRESENCE_STALE: u8 = 2;
pub(crate) const EXIT_RECORDED: u8 = 4;
pub(crate) const BY_PROXY: u8 = 8;

/// One venue scan, compactly; times are seconds of the day.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scan {
    pub person: u32,
    pub venue: u32,
    pub enter: u32,
    /// When the person really left (whether or not the exit was recorded).
    pub left: u32,
    pub seq: u32,
    pub flags: u8,
}

impl Scan {
    /// Second of the day the record reaches the platform: on exit if the exit is
    /// recorded, else on entry; one second later.
    #[inline]
    pub(crate) fn recorded(&self) -> u32 {
        if self.flags & EXIT_RECORDED != 0 {
            self.left + 1
        } else {
            self.enter + 1
        }
    }

    pub(crate) fn presence(&self) -> Presence {
        match self.flags & 3 {
            PRESENCE_STATIC => Presence::StaticPoster,
            PRESENCE_STALE => Presence::Stale,
            _ => Presence::Rotating,
        }
    }

    /// The interval a reader of the record sees: entry to recorded exit, or entry
    /// plus the rule set's dwell time, in seconds of the day.
    pub(crate) fn seen_interval(&self, city: &City) -> (i64, i64) {
        let enter = i64::from(self.enter);
        if self.flags & EXIT_RECORDED != 0 {
            (enter, i64::from(self.left))
        } else {
            let kind = kind_index(city.spots[self.venue as usize].kind);
            (enter, enter + city.dwell[kind])
        }
    }
}

/// Who entered a record: an official or a registered source (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Actor {
    Official(usize),
    Source(usize),
}

/// A venue exposure of a close contact.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VenueContact {
    pub venue: u32,
    pub from: i64,
    pub until: i64,
    /// The contact's scan and the case's scan.
    pub scans: [u64; 2],
}

/// What a non-scan record says; references are ids or [`HANDLE`]s.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Test {
        person: u32,
        method: TestMethod,
        outcome: TestOutcome,
        sampled: i64,
    },
    CaseReport {
        person: u32,
        class: CaseClass,
        test: u64,
    },
    CaseClosure {
        person: u32,
        case: u64,
        outcome: ClosureOutcome,
    },
    CloseContact {
        person: u32,
        case: u64,
        venue: Option<VenueContact>,
    },
    BorderEntry {
        person: u32,
        origin: u8,
    },
    QuarantineOrder {
        person: u32,
        setting: QuarantineSetting,
        facility: Option<u8>,
        ground: u64,
        planned_end: i64,
    },
    QuarantineRelease {
        person: u32,
        order: u64,
    },
    RiskArea {
        venues: Vec<u32>,
        from: i64,
        until: i64,
    },
    Approval {
        target: u64,
    },
}

impl Body {
    pub(crate) fn kind(&self) -> EvidenceKind {
        match self {
            Body::Test { .. } => EvidenceKind::TestResult,
            Body::CaseReport { .. } => EvidenceKind::CaseReport,
            Body::CaseClosure { .. } => EvidenceKind::CaseClosure,
            Body::CloseContact { .. } => EvidenceKind::CloseContact,
            Body::BorderEntry { .. } => EvidenceKind::BorderEntry,
            Body::QuarantineOrder { .. } => EvidenceKind::QuarantineOrder,
            Body::QuarantineRelease { .. } => EvidenceKind::QuarantineRelease,
            Body::RiskArea { .. } => EvidenceKind::RiskArea,
            Body::Approval { .. } => EvidenceKind::Approval,
        }
    }

    fn subject(&self) -> Option<u32> {
        match self {
            Body::Test { person, .. }
            | Body::CaseReport { person, .. }
            | Body::CaseClosure { person, .. }
            | Body::CloseContact { person, .. }
            | Body::BorderEntry { person, .. }
            | Body::QuarantineOrder { person, .. }
            | Body::QuarantineRelease { person, .. } => Some(*person),
            Body::RiskArea { .. } | Body::Approval { .. } => None,
        }
    }

    /// The references, for resolution.
    pub(crate) fn references_mut(&mut self) -> Vec<&mut u64> {
        match self {
            Body::CaseReport { test, .. } => vec![test],
            Body::CaseClosure { case, .. } => vec![case],
            Body::CloseContact { case, .. } => vec![case],
            Body::QuarantineOrder { ground, .. } => vec![ground],
            Body::QuarantineRelease { order, .. } => vec![order],
            Body::Approval { target } => vec![target],
            Body::Test { .. } | Body::BorderEntry { .. } | Body::RiskArea { .. } => Vec::new(),
        }
    }

    fn legal_basis(&self) -> Option<&'static str> {
        match self {
            Body::CloseContact { .. } | Body::RiskArea { .. } => Some(PREVENTION_PLAN),
            Body::QuarantineOrder { .. } => Some(LAW_ARTICLE_41),
            _ => None,
        }
    }
}

/// A non-scan record.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub recorded: i64,
    pub effective: i64,
    /// Creation order, which breaks ties of `recorded`.
    pub creation: u64,
    /// Packed id, once assigned.
    pub id: u64,
    /// Handle others refer to it by, or [`NONE`].
    pub handle: u32,
    pub by: Actor,
    pub body: Body,
}

/// One simulated day: its records in time order (by `recorded_at`), scans and
/// others interleaved, with ids that ascend in that order.
#[derive(Debug, Clone)]
pub struct Day {
    pub(crate) index: u32,
    pub(crate) start: i64,
    pub(crate) scans: Vec<Scan>,
    pub(crate) records: Vec<Rec>,
}

/// Records formatted per batch when writing.
const BATCH: usize = 256;

/// One record of a day, compactly.
enum Item<'a> {
    Scan(&'a Scan),
    Rec(&'a Rec),
}

impl Day {
    /// The day's number, 0 for the first.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Local midnight at the start of the day.
    pub fn start(&self) -> Timestamp {
        Timestamp::clamped_unix_seconds(self.start)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.scans.len() + self.records.len()
    }

    /// Whether the day has no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of venue scans.
    pub fn scan_count(&self) -> usize {
        self.scans.len()
    }

    fn items(&self) -> impl Iterator<Item = Item<'_>> {
        let mut scans = self.scans.iter().peekable();
        let mut records = self.records.iter().peekable();
        std::iter::from_fn(move || match (scans.peek(), records.peek()) {
            (Some(s), Some(r)) if u64::from(s.seq) < (r.id & 0xffff_ffff) => {
                scans.next().map(Item::Scan)
            }
            (Some(_), None) => scans.next().map(Item::Scan),
            (_, Some(_)) => records.next().map(Item::Rec),
            (None, None) => None,
        })
    }

    /// The day's records as the core's evidence, in order. `keys` are the residents'
    /// pseudonymous keys ([`City::person_keys`]).
    pub fn evidence<'a>(
        &'a self,
        city: &'a City,
        keys: &'a PersonKeys,
    ) -> impl Iterator<Item = Evidence> + 'a {
        self.items().map(move |item| match item {
            Item::Scan(scan) => self.scan_evidence(city, keys, scan),
            Item::Rec(rec) => rec_evidence(city, keys, rec),
        })
    }

    fn scan_evidence(&self, city: &City, keys: &PersonKeys, scan: &Scan) -> Evidence {
        let spot = city.spots[scan.venue as usize];
        let at = |second: u32| Timestamp::clamped_unix_seconds(self.start + i64::from(second));
        let person = &city.persons[scan.person as usize];
        Evidence {
            seal: None,
            id: record_id(&city.config.id_prefix, pack(self.index, scan.seq)),
            subject: Some(keys.get(scan.person)),
            recorded_by: if scan.flags & BY_PROXY != 0 {
                Recorder::Proxy(keys.get(person.proxy))
            } else {
                Recorder::Holder
            },
            authority: None,
            legal_basis: None,
            effective_at: at(scan.enter),
            recorded_at: at(scan.recorded()),
            body: EvidenceBody::VenueScan {
                venue: city.venue_ids[scan.venue as usize].clone(),
                street: city.geo.streets[usize::from(spot.street)],
                venue_kind: spot.kind,
                left_at: (scan.flags & EXIT_RECORDED != 0).then(|| at(scan.left)),
                presence: scan.presence(),
            },
        }
    }

    /// Writes the day's records as evidence-file lines. Official and source records
    /// carry their `seal`, which covers the record as the core holds it, with its
    /// subject as a person key: `keys` must be [`City::person_keys`] under the
    /// pseudonym key the file will be read with, or the seals will not verify.
    pub fn write_jsonl<W: Write>(
        &self,
        city: &City,
        keys: &PersonKeys,
        out: &mut W,
    ) -> io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        // Scan times are seconds of the day: with the day starting at local midnight,
        // they share its date.
        let (day, second) = local_day(self.start);
        let prefix = (second == 0).then(|| date_prefix(day));
        // Residents' ID numbers are read in batches ahead of formatting: scans come in
        // time order, so each is a cache miss, and a tight loop lets them overlap.
        let mut items = self.items().peekable();
        let mut batch: Vec<Item<'_>> = Vec::with_capacity(BATCH);
        let mut ids: Vec<[u8; 18]> = Vec::with_capacity(BATCH);
        while items.peek().is_some() {
            batch.clear();
            batch.extend(items.by_ref().take(BATCH));
            ids.clear();
            ids.extend(batch.iter().map(|item| match item {
                Item::Scan(scan) => city.persons[scan.person as usize].id,
                Item::Rec(_) => [0; 18],
            }));
            for (item, id) in batch.iter().zip(&ids) {
                match item {
                    Item::Scan(scan) => self.push_scan(city, scan, id, prefix.as_ref(), &mut buf),
                    Item::Rec(rec) => push_rec(city, keys, rec, &mut buf),
                }
            }
            if buf.len() > (1 << 20) - BATCH * 1024 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }

    fn push_scan(
        &self,
        city: &City,
        scan: &Scan,
        subject: &[u8; 18],
        prefix: Option<&[u8; 11]>,
        out: &mut Vec<u8>,
    ) {
        let time = |out: &mut Vec<u8>, second: u32| match prefix {
            Some(prefix) => push_day_time(out, prefix, second),
            None => push_time(out, self.start + i64::from(second)),
        };
        let prefix = &city.config.id_prefix;
        out.extend_from_slice(b"{\"type\":\"venue_scan\",\"id\":\"");
        push_id(out, prefix, pack(self.index, scan.seq));
        out.extend_from_slice(b"\",\"subject\":\"");
        out.extend_from_slice(subject);
        if scan.flags & BY_PROXY != 0 {
            let proxy = city.persons[scan.person as usize].proxy;
            out.extend_from_slice(b"\",\"recorded_by\":\"proxy:");
            out.extend_from_slice(&city.persons[proxy as usize].id);
        } else {
            out.extend_from_slice(b"\",\"recorded_by\":\"holder");
        }
        out.extend_from_slice(b"\",\"effective_at\":\"");
        time(out, scan.enter);
        out.extend_from_slice(b"\",\"recorded_at\":\"");
        time(out, scan.recorded());
        out.extend_from_slice(b"\",\"venue\":\"");
        out.extend_from_slice(city.venue_ids[scan.venue as usize].as_str().as_bytes());
        if scan.flags & EXIT_RECORDED != 0 {
            out.extend_from_slice(b"\",\"left_at\":\"");
            time(out, scan.left);
        }
        out.extend_from_slice(b"\",\"presence\":\"");
        out.extend_from_slice(scan.presence().name().as_bytes());
        out.extend_from_slice(b"\"}\n");
    }
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn recorder_text(city: &City, by: Actor) -> (String, usize) {
    match by {
        Actor::Official(o) => {
            let (id, authority) = &city.registry.officials[o];
            (format!("official:{id}"), *authority)
        }
        Actor::Source(s) => {
            let (id, authority) = &city.registry.sources[s];
            (format!("source:{id}"), *authority)
        }
    }
}

fn push_rec(city: &City, keys: &PersonKeys, rec: &Rec, out: &mut Vec<u8>) {
    let prefix = &city.config.id_prefix;
    let field = |out: &mut Vec<u8>, name: &str| {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    };
    let time = |out: &mut Vec<u8>, name: &str, t: i64| {
        field(out, name);
        out.push(b'"');
        push_time(out, t);
        out.push(b'"');
    };
    let id = |out: &mut Vec<u8>, name: &str, r: u64| {
        field(out, name);
        out.push(b'"');
        push_id(out, prefix, r);
        out.push(b'"');
    };
    let text = |out: &mut Vec<u8>, name: &str, t: &str| {
        field(out, name);
        json_string(out, t);
    };
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(rec.body.kind().name().as_bytes());
    out.push(b'"');
    id(out, "id", rec.id);
    if let Some(person) = rec.body.subject() {
        field(out, "subject");
        out.push(b'"');
        out.extend_from_slice(&city.persons[person as usize].id);
        out.push(b'"');
    }
    let (recorder, authority) = recorder_text(city, rec.by);
    text(out, "recorded_by", &recorder);
    text(
        out,
        "authority",
        city.registry.authorities[authority].as_str(),
    );
    if let Some(basis) = rec.body.legal_basis() {
        text(out, "legal_basis", basis);
    }
    time(out, "effective_at", rec.effective);
    time(out, "recorded_at", rec.recorded);
    match &rec.body {
        Body::Test {
            method,
            outcome,
            sampled,
            ..
        } => {
            text(out, "method", method.name());
            text(out, "outcome", outcome.name());
            time(out, "sampled_at", *sampled);
        }
        Body::CaseReport { class, test, .. } => {
            text(out, "classification", class.name());
            id(out, "test", *test);
        }
        Body::CaseClosure { case, outcome, .. } => {
            id(out, "case", *case);
            text(out, "outcome", outcome.name());
        }
        Body::CloseContact { case, venue, .. } => {
            id(out, "case", *case);
            match venue {
                None => text(out, "exposure", "household"),
                Some(v) => {
                    out.extend_from_slice(b",\"exposure\":{\"venue\":");
                    json_string(out, city.venue_ids[v.venue as usize].as_str());
                    out.extend_from_slice(b",\"from\":\"");
                    push_time(out, v.from);
                    out.extend_from_slice(b"\",\"until\":\"");
                    push_time(out, v.until);
                    out.extend_from_slice(b"\",\"scans\":[\"");
                    push_id(out, prefix, v.scans[0]);
                    out.extend_from_slice(b"\",\"");
                    push_id(out, prefix, v.scans[1]);
                    out.extend_from_slice(b"\"]}");
                }
            }
        }
        Body::BorderEntry { origin, .. } => {
            text(out, "port", &city.registry.port);
            text(out, "origin", ORIGINS[usize::from(*origin)]);
        }
        Body::QuarantineOrder {
            setting,
            facility,
            ground,
            planned_end,
            ..
        } => {
            text(out, "setting", setting.name());
            if let Some(f) = facility {
                text(out, "facility", &city.registry.facilities[usize::from(*f)]);
            }
            id(out, "ground", *ground);
            time(out, "planned_end", *planned_end);
        }
        Body::QuarantineRelease { order, .. } => id(out, "order", *order),
        Body::RiskArea {
            venues,
            from,
            until,
        } => {
            text(out, "level", RiskLevel::Medium.name());
            field(out, "venues");
            out.push(b'[');
            for (i, v) in venues.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(out, city.venue_ids[*v as usize].as_str());
            }
            out.push(b']');
            time(out, "from", *from);
            time(out, "until", *until);
        }
        Body::Approval { target } => id(out, "target", *target),
    }
    if let Some(seal) = rec_evidence(city, keys, rec).seal {
        field(out, "seal");
        out.push(b'"');
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{seal}");
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

fn rec_evidence(city: &City, keys: &PersonKeys, rec: &Rec) -> Evidence {
    let prefix = &city.config.id_prefix;
    let rid = |r: u64| record_id(prefix, r);
    let at = Timestamp::clamped_unix_seconds;
    let (recorded_by, authority) = match rec.by {
        Actor::Official(o) => {
            let (id, authority) = &city.registry.officials[o];
            (Recorder::Official(id.clone()), *authority)
        }
        Actor::Source(s) => {
            let (id, authority) = &city.registry.sources[s];
            let kind = city.registry.directory.sources[id].kind;
            (
                Recorder::Source {
                    id: id.clone(),
                    kind,
                },
                *authority,
            )
        }
    };
    let body = match &rec.body {
        Body::Test {
            method,
            outcome,
            sampled,
            ..
        } => EvidenceBody::TestResult {
            method: *method,
            outcome: *outcome,
            sampled_at: at(*sampled),
        },
        Body::CaseReport { class, test, .. } => EvidenceBody::CaseReport {
            classification: *class,
            test: Some(rid(*test)),
        },
        Body::CaseClosure { case, outcome, .. } => EvidenceBody::CaseClosure {
            case: rid(*case),
            outcome: *outcome,
        },
        Body::CloseContact { case, venue, .. } => EvidenceBody::CloseContact {
            case: rid(*case),
            exposure: match venue {
                None => Exposure::Household,
                Some(v) => Exposure::Venue {
                    venue: city.venue_ids[v.venue as usize].clone(),
                    from: at(v.from),
                    until: at(v.until),
                    scans: v.scans.iter().map(|s| rid(*s)).collect(),
                },
            },
        },
        Body::BorderEntry { origin, .. } => EvidenceBody::BorderEntry {
            port: city.registry.port.clone(),
            origin: ORIGINS[usize::from(*origin)].to_owned(),
            name: None,
            document: None,
        },
        Body::QuarantineOrder {
            setting,
            facility,
            ground,
            planned_end,
            ..
        } => EvidenceBody::QuarantineOrder {
            setting: *setting,
            facility: facility.map(|f| city.registry.facilities[usize::from(f)].clone()),
            ground: rid(*ground),
            planned_end: at(*planned_end),
        },
        Body::QuarantineRelease { order, .. } => {
            EvidenceBody::QuarantineRelease { order: rid(*order) }
        }
        Body::RiskArea {
            venues,
            from,
            until,
        } => {
            let mut ids: Vec<_> = venues
                .iter()
                .map(|v| city.venue_ids[*v as usize].clone())
                .collect();
            ids.sort();
            ids.dedup();
            EvidenceBody::RiskArea {
                level: RiskLevel::Medium,
                area: RiskAreaScope::Venues(ids),
                from: at(*from),
                until: at(*until),
            }
        }
        Body::Approval { target } => EvidenceBody::Approval {
            target: rid(*target),
        },
    };
    let record = Evidence {
        seal: None,
        id: rid(rec.id),
        subject: rec.body.subject().map(|p| keys.get(p)),
        recorded_by,
        authority: Some(city.registry.authorities[authority].clone()),
        legal_basis: rec.body.legal_basis().map(str::to_owned),
        effective_at: at(rec.effective),
        recorded_at: at(rec.recorded),
        body,
    };
    // Whoever makes a record vouches for it with their registered key.
    let key = match rec.by {
        Actor::Official(o) => &city.registry.official_keys[o],
        Actor::Source(s) => &city.registry.source_keys[s],
    };
    sealed(record, key)
}

/// Writes the registry lines (authorities, officials, data sources, venues).
pub fn write_registry<W: Write>(city: &City, out: &mut W) -> io::Result<()> {
    let directory = city.directory();
    let mut buf = Vec::new();
    let mut line = |pairs: &[(&str, &str)]| {
        for (i, (name, value)) in pairs.iter().enumerate() {
            buf.push(if i == 0 { b'{' } else { b',' });
            json_string(&mut buf, name);
            buf.push(b':');
            json_string(&mut buf, value);
        }
        buf.extend_from_slice(b"}\n");
    };
    for a in city
        .registry
        .authorities
        .iter()
        .map(|id| &directory.authorities[id])
    {
        let jurisdiction = a.jurisdiction.to_string();
        let mut pairs = vec![
            ("type", "authority"),
            ("id", a.id.as_str()),
            ("name", &a.name),
        ];
        if let Some(en) = &a.name_en {
            pairs.push(("name_en", en));
        }
        pairs.push(("jurisdiction", &jurisdiction));
        if let Some(c) = &a.contact {
            pairs.push(("contact", c));
        }
        line(&pairs);
    }
    for (id, authority) in &city.registry.officials {
        line(&[
            ("type", "official"),
            ("id", id.as_str()),
            ("authority", city.registry.authorities[*authority].as_str()),
        ]);
    }
    for (id, _) in &city.registry.sources {
        let s = &directory.sources[id];
        line(&[
            ("type", "data_source"),
            ("id", s.id.as_str()),
            ("kind", s.kind.name()),
            ("authority", s.authority.as_str()),
            ("name", &s.name),
        ]);
    }
    for v in directory.venues.values() {
        let street = v.street.to_string();
        line(&[
            ("type", "venue"),
            ("id", v.id.as_str()),
            ("name", &v.name),
            ("street", &street),
            ("kind", v.kind.name()),
        ]);
    }
    out.write_all(&buf)
}
