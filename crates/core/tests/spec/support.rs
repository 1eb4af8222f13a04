//! The cast and props of the specification: people, authorities, officials, sources,
//! venues, times and one builder per evidence type.
//!
//! Every builder returns a record as the normal recorder makes it (labs sign tests,
//! customs signs border entries, the Zhengzhou health commission's official 李 makes
//! designations and orders); `EvidenceExt` changes who recorded it or when.

use std::sync::LazyLock;

use mingma_core::{
    derive, AuthorityId, CaseClass, ClosureOutcome, Colour, DataSourceId, Decision, Evidence,
    EvidenceBody, Exposure, Jurisdiction, NationalId, OfficialId, PersonKey, Presence,
    PseudonymKey, QuarantineSetting, RecordId, Recorder, RiskAreaScope, RiskLevel, RuleSet,
    SourceKind, TestMethod, TestOutcome, Timestamp, VenueId, VenueKind,
};

/// The pseudonym key of every test.
pub fn key() -> PseudonymKey {
    PseudonymKey::from_bytes([7; 32])
}

/// The default rule set, parsed once.
pub fn default_rules() -> &'static RuleSet {
    static RULES: LazyLock<RuleSet> =
        LazyLock::new(|| RuleSet::default_rules().expect("the default rule set loads"));
    &RULES
}

// ---------------------------------------------------------------- people

/// GB 11643-1999 check character of the first 17 digits (ISO 7064 MOD 11-2).
pub fn check_char(first17: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    assert_eq!(first17.len(), 17, "17 digits");
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).expect("a digit") * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// A valid ID number from its first 17 digits.
pub fn id_number(first17: &str) -> String {
    format!("{first17}{}", check_char(first17))
}

/// ID numbers of the people in the scenarios: 张伟 (a depositor from 开封, who never
/// left the country), 李娜 (who flew in from abroad), 王芳 (张伟's family member).
pub const ZHANG_17: &str = "41020319850612301";
pub const LI_17: &str = "41010219900101402";
pub const WANG_17: &str = "41010219620310242";

pub fn zhang_id() -> String {
    id_number(ZHANG_17)
}
pub fn li_id() -> String {
    id_number(LI_17)
}
pub fn wang_id() -> String {
    id_number(WANG_17)
}

fn person(id: &str) -> PersonKey {
    key().person_key(&NationalId::parse(id).expect("a valid ID number"))
}

/// The person keys of the cast.
pub fn zhang() -> PersonKey {
    person(&zhang_id())
}
pub fn li() -> PersonKey {
    person(&li_id())
}
pub fn wang() -> PersonKey {
    person(&wang_id())
}

// ---------------------------------------------------------------- authorities

/// 郑州市卫生健康委员会: designations, orders, releases, declarations.
pub const ZZ_HEALTH: &str = "zz-health";
/// 郑州海关 (Zhengzhou customs): owns border entries.
pub const ZZ_CUSTOMS: &str = "zz-customs";
/// 郑州市疾病预防控制中心: owns the lab's results.
pub const ZZ_CDC: &str = "zz-cdc";
/// 开封市卫生健康委员会: another city's commission.
pub const KF_HEALTH: &str = "kf-health";

/// Officials: 李 and 王 of Zhengzhou, 赵 and 孙 of Kaifeng.
pub const OFFICIAL_LI: &str = "zz-li";
pub const OFFICIAL_WANG: &str = "zz-wang";
pub const OFFICIAL_ZHAO: &str = "kf-zhao";
pub const OFFICIAL_SUN: &str = "kf-sun";

/// Sources: a lab, a customs post at the airport, a hospital reporting cases.
pub const LAB: &str = "lab-kingmed";
pub const CUSTOMS: &str = "customs-cgo";
pub const HOSPITAL: &str = "hosp-zz6";

pub fn authority(id: &str) -> AuthorityId {
    AuthorityId::parse(id).unwrap()
}

pub fn official(id: &str) -> Recorder {
    Recorder::Official(OfficialId::parse(id).unwrap())
}

/// The authority an official acts for.
pub fn authority_of(official: &str) -> &'static str {
    match official {
        OFFICIAL_LI | OFFICIAL_WANG => ZZ_HEALTH,
        OFFICIAL_ZHAO | OFFICIAL_SUN => KF_HEALTH,
        other => panic!("unknown official {other}"),
    }
}

pub fn source(id: &str, kind: SourceKind) -> Recorder {
    Recorder::Source {
        id: DataSourceId::parse(id).unwrap(),
        kind,
    }
}

pub fn rid(id: &str) -> RecordId {
    RecordId::parse(id).unwrap()
}

pub fn rids(ids: &[&str]) -> Vec<RecordId> {
    ids.iter().map(|i| rid(i)).collect()
}

pub fn division(code: &str) -> Jurisdiction {
    Jurisdiction::parse(code).unwrap()
}

// ---------------------------------------------------------------- venues

/// A venue as a scan sees it.
#[derive(Debug, Clone)]
pub struct Place {
    pub id: &'static str,
    pub street: &'static str,
    pub kind: VenueKind,
}

/// A bus station on 中原区 林山寨街道 (410102001).
pub const STATION: Place = Place {
    id: "v-zz-station",
    street: "410102001",
    kind: VenueKind::TransportHub,
};
/// An office building on 中原区 建设路街道 (410102002).
pub const OFFICE: Place = Place {
    id: "v-jianshe-office",
    street: "410102002",
    kind: VenueKind::Office,
};
/// A market on 中原区 建设路街道 (410102002), next door to the office.
pub const MARKET: Place = Place {
    id: "v-jianshe-market",
    street: "410102002",
    kind: VenueKind::Market,
};
/// A restaurant on 二七区 淮河路街道 (410103001), another district.
pub const RESTAURANT: Place = Place {
    id: "v-huaihe-restaurant",
    street: "410103001",
    kind: VenueKind::Restaurant,
};

// ---------------------------------------------------------------- times

/// A time in June 2022, China Standard Time: `t("06-13 10:00")`.
pub fn t(text: &str) -> Timestamp {
    let (date, time) = text.split_once(' ').expect("MM-DD HH:MM");
    Timestamp::parse(&format!("2022-{date}T{time}:00+08:00"))
        .unwrap_or_else(|e| panic!("bad test time {text}: {e}"))
}

/// The moment "now": everything in the scenarios was recorded before it.
pub fn now() -> Timestamp {
    t("12-31 23:59")
}

// ---------------------------------------------------------------- records

fn record(
    id: &str,
    subject: Option<PersonKey>,
    recorded_by: Recorder,
    authority_id: Option<&str>,
    at: Timestamp,
    body: EvidenceBody,
) -> Evidence {
    let legal_basis = body
        .kind()
        .needs_legal_basis()
        .then(|| "《中华人民共和国传染病防治法》第三十九条".to_owned());
    Evidence {
        seal: None,
        id: rid(id),
        subject,
        recorded_by,
        authority: authority_id.map(authority),
        legal_basis,
        effective_at: at,
        recorded_at: at,
        body,
    }
}

/// A lab-signed nucleic-acid test, sampled 6 hours before the result at `at`.
pub fn test(id: &str, who: PersonKey, outcome: TestOutcome, at: Timestamp) -> Evidence {
    record(
        id,
        Some(who),
        source(LAB, SourceKind::Lab),
        Some(ZZ_CDC),
        at,
        EvidenceBody::TestResult {
            method: TestMethod::NucleicAcid,
            outcome,
            sampled_at: at.plus_seconds(-6 * 3600),
        },
    )
}

pub fn positive(id: &str, who: PersonKey, at: Timestamp) -> Evidence {
    test(id, who, TestOutcome::Positive, at)
}

pub fn negative(id: &str, who: PersonKey, at: Timestamp) -> Evidence {
    test(id, who, TestOutcome::Negative, at)
}

/// A negative test whose sample was taken at `sampled` and whose result is known at
/// `result`.
pub fn negative_sampled(
    id: &str,
    who: PersonKey,
    sampled: Timestamp,
    result: Timestamp,
) -> Evidence {
    let mut e = negative(id, who, result);
    e.body = EvidenceBody::TestResult {
        method: TestMethod::NucleicAcid,
        outcome: TestOutcome::Negative,
        sampled_at: sampled,
    };
    e
}

/// A case report signed by the hospital.
pub fn case(
    id: &str,
    who: PersonKey,
    class: CaseClass,
    test: Option<&str>,
    at: Timestamp,
) -> Evidence {
    record(
        id,
        Some(who),
        source(HOSPITAL, SourceKind::CaseReporting),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::CaseReport {
            classification: class,
            test: test.map(rid),
        },
    )
}

/// A case closure signed by the hospital.
pub fn closure(
    id: &str,
    who: PersonKey,
    case: &str,
    outcome: ClosureOutcome,
    at: Timestamp,
) -> Evidence {
    record(
        id,
        Some(who),
        source(HOSPITAL, SourceKind::CaseReporting),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::CaseClosure {
            case: rid(case),
            outcome,
        },
    )
}

/// A household close-contact designation by official 李 (needs approval).
pub fn close_contact(id: &str, who: PersonKey, case: &str, at: Timestamp) -> Evidence {
    record(
        id,
        Some(who),
        official(OFFICIAL_LI),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::CloseContact {
            case: rid(case),
            exposure: Exposure::Household,
        },
    )
}

/// A border entry signed by customs at 郑州新郑国际机场.
pub fn border_entry(id: &str, who: PersonKey, at: Timestamp) -> Evidence {
    record(
        id,
        Some(who),
        source(CUSTOMS, SourceKind::Customs),
        Some(ZZ_CUSTOMS),
        at,
        EvidenceBody::BorderEntry {
            port: "郑州新郑国际机场".into(),
            origin: "KR".into(),
            name: None,
            document: None,
        },
    )
}

/// A centralised quarantine order by official 李 on `ground` (needs approval),
/// planned for 14 days.
pub fn quarantine_order(id: &str, who: PersonKey, ground: &str, at: Timestamp) -> Evidence {
    record(
        id,
        Some(who),
        official(OFFICIAL_LI),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::QuarantineOrder {
            setting: QuarantineSetting::Centralised,
            facility: Some("郑州市集中隔离点一号".into()),
            ground: rid(ground),
            planned_end: at.plus_seconds(14 * 86_400),
        },
    )
}

/// A release from `order` by official 李.
pub fn release(id: &str, who: PersonKey, order: &str, at: Timestamp) -> Evidence {
    record(
        id,
        Some(who),
        official(OFFICIAL_LI),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::QuarantineRelease { order: rid(order) },
    )
}

/// A risk-area declaration by official 李 over whole divisions (needs approval),
/// declared at `at` for the window `from..until`.
pub fn risk_area(
    id: &str,
    level: RiskLevel,
    divisions: &[&str],
    from: Timestamp,
    until: Timestamp,
    at: Timestamp,
) -> Evidence {
    record(
        id,
        None,
        official(OFFICIAL_LI),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::RiskArea {
            level,
            area: RiskAreaScope::Divisions(divisions.iter().map(|d| division(d)).collect()),
            from,
            until,
        },
    )
}

/// A risk-area declaration over a list of venues.
pub fn risk_venues(
    id: &str,
    level: RiskLevel,
    venues: &[&Place],
    from: Timestamp,
    until: Timestamp,
    at: Timestamp,
) -> Evidence {
    let mut e = risk_area(id, level, &["410102"], from, until, at);
    e.body = EvidenceBody::RiskArea {
        level,
        area: RiskAreaScope::Venues(
            venues
                .iter()
                .map(|v| VenueId::parse(v.id).unwrap())
                .collect(),
        ),
        from,
        until,
    };
    e
}

/// A scan by the holder's own phone, entering at `at`, no exit recorded.
pub fn scan(
    id: &str,
    who: PersonKey,
    place: &Place,
    presence: Presence,
    at: Timestamp,
) -> Evidence {
    record(
        id,
        Some(who),
        Recorder::Holder,
        None,
        at,
        EvidenceBody::VenueScan {
            venue: VenueId::parse(place.id).unwrap(),
            street: division(place.street),
            venue_kind: place.kind,
            left_at: None,
            presence,
        },
    )
}

/// A retraction by official 王 (the retraction of a record that ended a period needs
/// approval; the others do not).
pub fn retraction(id: &str, target: &str, at: Timestamp) -> Evidence {
    record(
        id,
        None,
        official(OFFICIAL_WANG),
        Some(ZZ_HEALTH),
        at,
        EvidenceBody::Retraction {
            target: rid(target),
            reason: "录入错误".into(),
        },
    )
}

/// A retraction of `target` by the data source that signed it, for the source's
/// authority (only a record's owner may retract it).
pub fn retraction_by_source(id: &str, source_id: &str, target: &str, at: Timestamp) -> Evidence {
    let (kind, owner) = match source_id {
        LAB => (SourceKind::Lab, ZZ_CDC),
        CUSTOMS => (SourceKind::Customs, ZZ_CUSTOMS),
        HOSPITAL => (SourceKind::CaseReporting, ZZ_HEALTH),
        other => panic!("unknown source {other}"),
    };
    record(
        id,
        None,
        source(source_id, kind),
        Some(owner),
        at,
        EvidenceBody::Retraction {
            target: rid(target),
            reason: "录入错误".into(),
        },
    )
}

/// An approval of `target` by `by` (an official) at `at`.
pub fn approval_by(id: &str, by: &str, target: &str, at: Timestamp) -> Evidence {
    record(
        id,
        None,
        official(by),
        Some(authority_of(by)),
        at,
        EvidenceBody::Approval {
            target: rid(target),
        },
    )
}

/// A rejection of `target` by `by` at `at`.
pub fn rejection_by(id: &str, by: &str, target: &str, at: Timestamp) -> Evidence {
    record(
        id,
        None,
        official(by),
        Some(authority_of(by)),
        at,
        EvidenceBody::Rejection {
            target: rid(target),
            reason: "证据不足".into(),
        },
    )
}

/// `record` and its approval by official 王 of the same authority, recorded at the
/// same time: the normal two-person path.
pub fn approved(record: Evidence) -> [Evidence; 2] {
    let approval = approval_by(
        &format!("{}.ok", record.id),
        OFFICIAL_WANG,
        record.id.as_str(),
        record.recorded_at,
    );
    [record, approval]
}

/// Changes to a record built above.
pub trait EvidenceExt: Sized {
    /// Recorded at `at` (the platform learned of it then).
    fn recorded(self, at: Timestamp) -> Self;
    /// Entered by hand by `official`, for the official's authority.
    fn by_official(self, official: &str) -> Self;
    /// For a scan: the exit time.
    fn left_at(self, at: Timestamp) -> Self;
    /// For a test: antigen instead of nucleic acid.
    fn antigen(self) -> Self;
}

impl EvidenceExt for Evidence {
    fn recorded(mut self, at: Timestamp) -> Self {
        self.recorded_at = at;
        self
    }

    fn by_official(mut self, who: &str) -> Self {
        self.recorded_by = official(who);
        self.authority = Some(authority(authority_of(who)));
        self
    }

    fn left_at(mut self, at: Timestamp) -> Self {
        match &mut self.body {
            EvidenceBody::VenueScan { left_at, .. } => *left_at = Some(at),
            other => panic!("left_at on {:?}", other.kind()),
        }
        self
    }

    fn antigen(mut self) -> Self {
        match &mut self.body {
            EvidenceBody::TestResult { method, .. } => *method = TestMethod::Antigen,
            other => panic!("antigen on {:?}", other.kind()),
        }
        self
    }
}

/// Flattens groups of records (single records and `approved(..)` pairs).
#[macro_export]
macro_rules! records {
    ($($group:expr),* $(,)?) => {{
        let mut all: Vec<mingma_core::Evidence> = Vec::new();
        $( all.extend($group); )*
        all
    }};
}

// ---------------------------------------------------------------- derivation

/// The code of `who` valid at `valid_at` as known at `known_at`, default rules.
pub fn code_at(
    records: &[Evidence],
    who: PersonKey,
    valid_at: Timestamp,
    known_at: Timestamp,
) -> Decision {
    derive(records, &who, valid_at, known_at, default_rules())
}

/// The code of `who` valid at `valid_at`, knowing everything recorded.
pub fn code(records: &[Evidence], who: PersonKey, valid_at: Timestamp) -> Decision {
    code_at(records, who, valid_at, now())
}

/// What a code must show at one moment: one row of a timeline table.
#[derive(Debug, Clone)]
pub struct Expect {
    pub at: &'static str,
    pub colour: Colour,
    pub rules: Vec<&'static str>,
    pub reason: Option<&'static str>,
    pub evidence: Vec<&'static str>,
    pub owners: Vec<&'static str>,
    pub since: Option<&'static str>,
    pub next: Option<(&'static str, Colour)>,
}

/// A row: at `at` the code is green, nothing fired, no owner, and it has always been
/// green and will stay so (refine with `since` / `next`).
pub fn at(at: &'static str) -> Expect {
    Expect {
        at,
        colour: Colour::Green,
        rules: vec![],
        reason: None,
        evidence: vec![],
        owners: vec![],
        since: None,
        next: None,
    }
}

impl Expect {
    /// Red because `rule` fired, giving `reason`.
    pub fn red(self, rule: &'static str, reason: &'static str) -> Self {
        self.fired(Colour::Red, &[rule], reason)
    }
    /// Yellow because `rule` fired, giving `reason`.
    pub fn yellow(self, rule: &'static str, reason: &'static str) -> Self {
        self.fired(Colour::Yellow, &[rule], reason)
    }
    /// `colour`; `rules` fired (all of them, most severe first); the first gives `reason`.
    pub fn fired(mut self, colour: Colour, rules: &[&'static str], reason: &'static str) -> Self {
        self.colour = colour;
        self.rules = rules.to_vec();
        self.reason = Some(reason);
        self
    }
    /// The decisive records, in order.
    pub fn evidence(mut self, ids: &[&'static str]) -> Self {
        self.evidence = ids.to_vec();
        self
    }
    /// The owners (赋码来源), most decisive first.
    pub fn owners(mut self, ids: &[&'static str]) -> Self {
        self.owners = ids.to_vec();
        self
    }
    /// 赋码时间.
    pub fn since(mut self, at: &'static str) -> Self {
        self.since = Some(at);
        self
    }
    /// The next change by itself.
    pub fn next(mut self, at: &'static str, colour: Colour) -> Self {
        self.next = Some((at, colour));
        self
    }
}

/// Checks a decision against a row, every field.
pub fn assert_decision(scenario: &str, d: &Decision, row: &Expect) {
    let ctx = format!("{scenario}, valid at {}", row.at);
    assert_eq!(d.colour, row.colour, "{ctx}: colour; decision: {d:#?}");
    let fired: Vec<&str> = d.fired.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(fired, row.rules, "{ctx}: fired rules");
    assert_eq!(
        d.fired.first().map(|f| f.reason.id),
        row.reason,
        "{ctx}: reason"
    );
    for f in &d.fired {
        assert_eq!(f.version, default_rules().version, "{ctx}: rule version");
    }
    assert_eq!(
        d.decisive_evidence,
        rids(&row.evidence),
        "{ctx}: decisive evidence"
    );
    let owners: Vec<&str> = d.owners.iter().map(|o| o.as_str()).collect();
    assert_eq!(owners, row.owners, "{ctx}: owners (赋码来源)");
    assert_eq!(d.since, row.since.map(t), "{ctx}: since (赋码时间)");
    assert_eq!(
        d.next_change.map(|n| (n.at, n.colour)),
        row.next.map(|(at, c)| (t(at), c)),
        "{ctx}: next change"
    );
}

/// Checks a timeline of rows for one person, knowing everything.
pub fn assert_timeline(scenario: &str, records: &[Evidence], who: PersonKey, rows: &[Expect]) {
    assert_timeline_known_at(scenario, records, who, now(), rows);
}

/// Checks a timeline of rows for one person, as known at `known_at`.
pub fn assert_timeline_known_at(
    scenario: &str,
    records: &[Evidence],
    who: PersonKey,
    known_at: Timestamp,
    rows: &[Expect],
) {
    for row in rows {
        let d = code_at(records, who, t(row.at), known_at);
        assert_decision(scenario, &d, row);
    }
}
